"""Sharding: the bot as an auto-sharded client against a fake Discord that recommends two shards, with one
guild on each; a /compose in each guild is answered (each arrives on its own shard)."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.engine.local import JobQueue
from bot.store import Store
from tests.fake_discord import posted, running_bot
from tests.fake_discord_shards import ShardedFakeDiscord

SETTINGS = dict(workers=1, job_timeout=120.0, per_user_running=1, per_user_queued=2, queue_cap=20, shutdown_grace=2.0)


@pytest.mark.parametrize("shard_count", [0, 2])  # 0: the count Discord recommends (GET /gateway/bot)
async def test_two_shards_both_answer(tmp_path, shard_count):
    store = await Store.open(tmp_path / "t.sqlite3")
    queue = JobQueue(Settings(data_dir=tmp_path, **SETTINGS))
    await queue.start()
    try:
        async with ShardedFakeDiscord(shards=2) as fake:
            with fake.patched():
                settings = Settings(
                    data_dir=tmp_path, discord_token=fake.token, sharded=True, shard_count=shard_count, **SETTINGS
                )
                async with running_bot(fake, settings, store, queue) as bot:
                    await fake.wait_ready()
                    assert sorted(fake.shard_identifies) == [[0, 2], [1, 2]] and bot.shard_count == 2
                    assert ("GET", "/gateway/bot") in fake.requests or shard_count
                    for index, (guild_id, _, _) in enumerate(fake.guilds):
                        assert bot.get_guild(guild_id).shard_id == index
                    records = []
                    for index in range(2):
                        with fake.in_guild(index):
                            records.append(await fake.slash("compose", style="jig", length=8, seed=index + 1))
                    for rec in records:
                        await fake.wait_for(lambda rec=rec: posted(fake, rec), 120, "the tune")
                    assert all(r.callback["type"] == 5 and r.ack_latency < 3.0 for r in records)
                    assert [r.payload["guild_id"] for r in records] == [str(g) for g, _, _ in fake.guilds]
                    assert all(posted(fake, r)["attachments"][0]["filename"].endswith(".mp3") for r in records)
                    assert not fake.violations
    finally:
        await queue.close(0)
        await store.close()
