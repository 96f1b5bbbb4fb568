"""Real `tunesmith` processes against the fake Discord. SIGTERM (docker stop) to `tunesmith run`: it stops
taking requests, tells the user whose tune was cut, closes the database cleanly and exits within 10 s.
`tunesmith sync` pushes the commands and exits."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys

from tests.fake_discord import FakeDiscord


async def test_sigterm_tells_cut_users_closes_the_db_and_exits_in_time(tmp_path):
    async with FakeDiscord() as fake:
        proc = await fake.start_bot_process(tmp_path, TUNESMITH_LOG_LEVEL="INFO")
        try:
            await fake.wait_ready(timeout=60)
            await fake.wait_for(lambda: fake.commands.get(None), 30, "the command sync")
            rec = await fake.slash("compose", style="reel", length=128)
            # The job is under way once the progress message says so.
            await fake.wait_for(
                lambda: (
                    any(e["content"].startswith(("Starting", "Composing", "Rendering")) for e in rec.edits)
                    or rec.followups
                ),
                60,
                "the job to start",
            )
            assert not rec.followups, "the tune finished before the test could cut it"
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 10)  # Docker's default stop timeout
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        log = (await proc.stdout.read()).decode(errors="replace")
    assert code == 0, log
    told = [f for f in rec.followups if f["flags"] & 64]
    assert told and "restarting" in told[0]["content"], rec.texts()
    assert fake.token not in log  # the token is never logged
    assert "database closed" in log
    db = tmp_path / "tunesmith.sqlite3"
    assert not (tmp_path / "tunesmith.sqlite3-wal").exists() or (tmp_path / "tunesmith.sqlite3-wal").stat().st_size == 0
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        statuses = [row[0] for row in conn.execute("SELECT status FROM jobs")]
        assert statuses == ["failed"]  # cut, and recorded as such: nothing left "running"
    finally:
        conn.close()


async def test_tunesmith_sync_pushes_the_commands(tmp_path):
    async with FakeDiscord() as fake:
        env = {**os.environ, **fake.env(), "TUNESMITH_DATA_DIR": str(tmp_path)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "sync",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, out.decode()
        assert len(fake.sync_calls) == 1 and not fake.identifies  # REST only, no gateway session
        bad = {**env, "DISCORD_TOKEN": "wrong"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "sync",
            env=bad,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1 and "refused the token" in out.decode()
