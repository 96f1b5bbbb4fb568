"""The SQLite store on a real file: concurrency, crash safety, migrations, ids, settings."""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from bot.artifacts import TuneFacts
from bot.store import MIGRATIONS, SCHEMA_VERSION, GuildSettings, Store, StoreError, migrate, open_sync

META = TuneFacts(style="jig", model="abc", model_version="test-1", seed=42, duration_s=30.5)


async def add(store, n=1, **kw):
    return [
        await store.add_tune(
            request={"style": "jig", "length": 32}, text=f"X:{i}\nK:D\nDFA|", text_format="abc", facts=META, **kw
        )
        for i in range(n)
    ]


async def test_200_concurrent_upserts_from_50_users_on_20_tunes(tmp_path):
    async with await Store.open(tmp_path / "t.sqlite3") as store:
        tunes = await add(store, 20)
        rng = random.Random(1)
        votes = [(rng.choice(tunes), rng.randrange(50), rng.randint(1, 5)) for _ in range(200)]
        await asyncio.gather(*(store.rate(t, u, s) for t, u, s in votes))
        # The last vote of each user on each tune counts (gather starts the writes in order).
        final: dict[tuple[str, int], int] = {}
        for t, u, s in votes:
            final[(t, u)] = s
        for tune in tunes:
            mine = [s for (t, _), s in final.items() if t == tune]
            summary = await store.rating_summary(tune)
            assert summary.count == len(mine)
            assert summary.stars == {k: mine.count(k) for k in range(1, 6)}
            if mine:
                assert summary.mean == pytest.approx(sum(mine) / len(mine))
            else:
                assert summary.mean is None
        (total,) = await (await store.db.execute("SELECT count(*) FROM ratings")).fetchone()
        assert total == len(final)


async def test_revoting_updates_and_bad_ratings_change_nothing(tmp_path):
    async with await Store.open(tmp_path / "t.sqlite3") as store:
        (tune,) = await add(store)
        assert (await store.rate(tune, 1, 5)).mean == 5
        summary = await store.rate(tune, 1, 2)
        assert (summary.count, summary.mean) == (1, 2)
        for stars in (0, 6, 2.5, True, "3"):
            with pytest.raises(StoreError, match="1 to 5"):
                await store.rate(tune, 1, stars)
        with pytest.raises(StoreError, match="does not exist"):
            await store.rate("no-such", 1, 3)
        assert await store.user_rating(tune, 1) == 2
        assert (await store.rating_summary(tune)).count == 1


async def test_tunes_have_short_unguessable_ids_and_keep_everything(tmp_path):
    async with await Store.open(tmp_path / "t.sqlite3") as store:
        ids = await add(store, 50, user_id=2**62, guild_id=9, channel_id=10)
        assert len(set(ids)) == 50
        assert all(len(i) == 8 and all(c.isalnum() or c in "-_" for c in i) for i in ids)
        assert sorted(ids) != ids or sorted(ids, reverse=True) != ids  # not in creation order
        child = await store.add_tune(
            request={"style": "jig"}, text="X:1\nK:G\nG|", text_format="abc", facts=META, parent_id=ids[0]
        )
        await store.set_message_id(child, 1234567890123456789)
        tune = await store.get_tune(child)
        assert (tune.parent_id, tune.message_id, tune.seed, tune.model_version) == (
            ids[0],
            1234567890123456789,
            42,
            "test-1",
        )
        assert tune.request == {"style": "jig"} and tune.text == "X:1\nK:G\nG|"
        assert (await store.get_tune(ids[1])).user_id == 2**62
        assert await store.get_tune("'; DROP TABLE tunes; --") is None
        with pytest.raises(StoreError, match="parent"):
            await store.add_tune(request={}, text="x", text_format="abc", facts=META, parent_id="missing")


async def test_guild_settings_and_key_values(tmp_path):
    async with await Store.open(tmp_path / "t.sqlite3") as store:
        assert await store.guild_settings(5) == GuildSettings(5)
        await store.set_guild_settings(GuildSettings(5, (11, 12), 2, "flute"))
        await store.set_guild_settings(GuildSettings(6, (), None, None))
        assert await store.guild_settings(5) == GuildSettings(5, (11, 12), 2, "flute")
        with pytest.raises(StoreError, match="per-user limit"):
            await store.set_guild_settings(GuildSettings(5, (), 0, None))
        assert (await store.guild_settings(5)).per_user_limit == 2
        assert await store.get_value("commands-hash") is None
        await store.set_value("commands-hash", "abc")
        await store.set_value("commands-hash", "def")
        assert await store.get_value("commands-hash") == "def"


async def test_pragmas_wal_and_foreign_keys(tmp_path):
    async with await Store.open(tmp_path / "t.sqlite3") as store:
        assert (await (await store.db.execute("PRAGMA journal_mode")).fetchone())[0] == "wal"
        assert (await (await store.db.execute("PRAGMA foreign_keys")).fetchone())[0] == 1
        assert (await (await store.db.execute("PRAGMA user_version")).fetchone())[0] == SCHEMA_VERSION


def _tables(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


@pytest.mark.parametrize("start", range(SCHEMA_VERSION))
async def test_migrations_from_each_earlier_version_keep_the_data(tmp_path, start):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=start)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == start
    if start >= 1:  # a version-1 database with a tune and a rating in it
        conn.execute(
            "INSERT INTO tunes (id, created_at, request, style, model, model_version, text, text_format,"
            " guild_id, channel_id, user_id, message_id) VALUES ('old1', 1.0, '{\"style\": \"reel\"}',"
            " 'reel', 'abc', 'v0', 'X:1\nT:Old One\nK:D\nDEF|', 'abc', 5, 6, 7, 88)"
        )
        conn.execute("INSERT INTO ratings VALUES ('old1', 3, 4, 1.0, 1.0)")
    conn.close()
    async with await Store.open(path) as store:
        conn2 = sqlite3.connect(path)
        assert conn2.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert {"tunes", "ratings", "jobs", "guild_settings", "kv"} <= _tables(conn2)
        conn2.close()
        if start >= 1:
            assert (await store.get_tune("old1")).request == {"style": "reel"}
            assert (await store.rating_summary("old1")).mean == 4
        if 1 <= start < 3:  # step 3: its post is recorded, and it is listed (no title stored: None)
            assert [(p.message_id, p.user_id) for p in await store.posts_of("old1")] == [(88, 7)]
            (row,) = await store.listings(5, min_votes=1)
            assert (row.id, row.title, row.message_id, row.channel_id, row.votes) == ("old1", None, 88, 6, 1)
        await store.set_value("k", "v")  # the newest tables work


def test_a_newer_database_is_refused_clearly(tmp_path):
    path = tmp_path / "new.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        open_sync(path)


def test_a_failing_migration_leaves_the_previous_version(tmp_path, monkeypatch):
    path = tmp_path / "half.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=1)
    monkeypatch.setattr(
        "bot.store.schema.MIGRATIONS", MIGRATIONS[:1] + ["CREATE TABLE kv (key TEXT); CREATE TABLE oops ("]
    )
    with pytest.raises(sqlite3.Error):
        migrate(conn, target=2)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "kv" not in _tables(conn)
    conn.close()


WRITER = textwrap.dedent("""
    import asyncio, sys
    from bot.store import Store

    async def main(path, tune):
        store = await Store.open(path)
        i = 0
        while True:  # rate forever; the test kills us
            user, stars = i, i % 5 + 1
            await store.rate(tune, user, stars)
            print(user, stars, flush=True)  # only after the write returned
            i += 1

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


async def test_a_sigkilled_writer_loses_no_returned_write(tmp_path):
    path = tmp_path / "kill.sqlite3"
    async with await Store.open(path) as store:
        (tune,) = await add(store)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), tune], stdout=subprocess.PIPE, text=True)
    acknowledged = []
    try:
        for line in proc.stdout:
            acknowledged.append(tuple(map(int, line.split())))
            if len(acknowledged) == 300:
                proc.send_signal(signal.SIGKILL)
                break
        acknowledged += [tuple(map(int, line.split())) for line in proc.stdout if len(line.split()) == 2]
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 300
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = dict(conn.execute("SELECT user_id, stars FROM ratings WHERE tune_id = ?", (tune,)).fetchall())
    conn.close()
    for user, stars in acknowledged:
        assert stored.get(user) == stars
    async with await Store.open(path) as store:  # and it opens clean for the next run
        assert (await store.rating_summary(tune)).count == len(stored)


async def test_public_scores_leave_the_requesters_vote_out_and_cards_and_status_messages_are_kept(tmp_path):
    from bot.store import Post

    async with await Store.open(tmp_path / "t.sqlite3") as store:
        (tune,) = await add(store, user_id=7, guild_id=1)
        assert (await store.rate(tune, 7, 5)).count == 0  # the requester's own vote: kept, not public
        summary = await store.rate(tune, 8, 2)
        assert (summary.count, summary.mean) == (1, 2.0) and await store.user_rating(tune, 7) == 5
        (row,) = await store.listings(1, min_votes=1)
        assert (row.votes, row.mean) == (1, 2.0)
        await store.add_post(Post(99, tune, 7, 1, 3, {"title": "T", "fields": []}))
        assert (await store.get_post(99)).card == {"title": "T", "fields": []}
        await store.job_created("j1", request={}, user_id=7, channel_id=3)
        await store.job_status_message("j1", 3, 1234)
        await store.job_created("j2", request={}, user_id=8, channel_id=3)
        jobs = await store.fail_unfinished_jobs()
        assert [(j.id, j.status_channel_id, j.status_message_id) for j in jobs] == [("j1", 3, 1234), ("j2", None, None)]
        assert await store.fail_unfinished_jobs() == []  # recorded as failed, their status messages forgotten
