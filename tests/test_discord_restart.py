"""Issue 22, item 4: `kill -9` of a real `tunesmith run` with tunes on their way, then a new start on the same
data dir against the same fake Discord. The new run removes the stale status messages (whose Cancel button
could only have said "no longer waiting") and tells each user, where they asked, to ask again."""

from __future__ import annotations

import asyncio
import signal
import sqlite3

from tests.fake_discord import FakeDiscord, buttons, posted


async def test_a_start_after_kill_9_removes_stale_status_messages_and_tells_their_users(tmp_path):
    async with FakeDiscord() as fake:
        first = await fake.start_bot_process(tmp_path)
        try:
            await fake.wait_ready(timeout=60)
            await fake.wait_for(lambda: fake.commands.get(None), 30, "the command sync")
            users = [fake.user(n) for n in range(3)]
            recs = [await fake.slash("compose", user=u, style="reel", length=96) for u in users]  # one worker
            # Every request shows its status with a Cancel button (the first edit comes after 2 s).
            await fake.wait_for(
                lambda: all(posted(fake, r) or "Cancel" in buttons(fake.original(r) or {}) for r in recs),
                60,
                "the status messages",
            )
            first.send_signal(signal.SIGKILL)
            await asyncio.wait_for(first.wait(), 10)
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
        cut = [r for r in recs if not posted(fake, r)]
        assert cut, "every tune finished before the kill"
        stale = {r.original_id for r in cut}
        before = set(fake.messages)

        second = await fake.start_bot_process(tmp_path)
        try:
            await fake.wait_for(lambda: len(fake.identifies) == 2, 60, "the second start")

            def told() -> list[dict]:
                return [
                    fake.messages[m]
                    for m in set(fake.messages) - before
                    if "Sorry, I restarted" in fake.messages[m]["content"]
                ]

            await fake.wait_for(
                lambda: all(fake.messages[m].get("deleted") for m in stale) and len(told()) == len(cut),
                30,
                "the stale status messages removed and their users told",
            )
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), 20)
        finally:
            if second.returncode is None:
                second.kill()
                await second.wait()
        log = (await second.stdout.read()).decode(errors="replace")
    assert {f"<@{r.user.id}>" for r in cut} == {m["content"].split()[0] for m in told()}, log
    assert all(not m["components"] for m in told())  # no button that could only say "no longer waiting"
    conn = sqlite3.connect(tmp_path / "tunesmith.sqlite3")
    try:
        statuses = [row[0] for row in conn.execute("SELECT status FROM jobs")]
        left = conn.execute("SELECT count(*) FROM status_messages").fetchone()[0]
    finally:
        conn.close()
    assert statuses.count("failed") == len(cut) and "running" not in statuses and "queued" not in statuses
    assert left == 0
