"""The SQLite store (aiosqlite): tunes, ratings, jobs, guild settings and a small key/value table.

One file in the data dir, WAL mode (readers never block the writer), foreign keys on, every
statement parameterised. The schema is migrated step by step by `PRAGMA user_version`: a database
from any earlier version (or an empty file) is brought up to date when the Store opens.

Every write commits before its coroutine returns, so a write that returned survives a crash of
the process (WAL + synchronous=NORMAL is durable against process death; a power cut may lose the
last transactions, never corrupt the file).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import aiosqlite

from bot.instruments import default_instrument_setting, known_instrument
from bot.job_state import FINAL_STATES, UNFINISHED_STATES, JobState
from bot.store import reports
from bot.store.records import (
    GuildSettings,
    JobRecord,
    Listing,
    Post,
    RatingSummary,
    Tune,
    job_record,
    new_id,
    tune_record,
)
from bot.store.schema import StoreError, connect, migrate, open_sync


class Store:
    """Async access to the database. `async with await Store.open(path) as store: ...`"""

    def __init__(self, db: aiosqlite.Connection, path: Path):
        self.db = db
        self.path = path

    @classmethod
    async def open(cls, path: Path | str) -> Store:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Migrate with a plain connection first (synchronous, once, at start-up).
        conn = connect(path)
        try:
            migrate(conn)
        finally:
            conn.close()
        db = await aiosqlite.connect(path, timeout=30, isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute("PRAGMA foreign_keys = ON")
        await db.execute("PRAGMA busy_timeout = 30000")
        return cls(db, path)

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _write(self, sql: str, params: tuple = ()) -> aiosqlite.Cursor:
        # isolation_level=None: each statement is its own committed transaction.
        return await self.db.execute(sql, params)

    async def _one(self, sql: str, params: tuple = ()):
        async with self.db.execute(sql, params) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, params: tuple = ()) -> list:
        async with self.db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    # ---- tunes ----------------------------------------------------------------------------------

    async def add_tune(
        self,
        *,
        request: dict,
        text: str,
        text_format: str,
        facts,
        user_id: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        parent_id: str | None = None,
        title: str | None = None,
    ) -> str:
        """Store a composed tune (`facts`: its bot.artifacts.TuneFacts); returns its new id."""
        for _ in range(5):
            tune_id = new_id()
            try:
                await self._write(
                    "INSERT INTO tunes (id, created_at, user_id, guild_id, channel_id, request, style, model,"
                    " model_version, seed, text, text_format, duration_s, parent_id, title)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        tune_id,
                        time.time(),
                        user_id,
                        guild_id,
                        channel_id,
                        json.dumps(request),
                        str(facts.style or request.get("style", "")),
                        str(facts.model),
                        str(facts.model_version),
                        facts.seed,
                        text,
                        text_format,
                        facts.duration_s,
                        parent_id,
                        title,
                    ),
                )
                return tune_id
            except sqlite3.IntegrityError as exc:
                if "tunes.id" in str(exc):
                    continue  # id collision: astronomically rare; draw again
                if "FOREIGN KEY" in str(exc):
                    raise StoreError(f"tune '{parent_id}' (the parent) does not exist") from None
                raise
        raise RuntimeError("could not draw a free tune id")

    async def get_tune(self, tune_id: str) -> Tune | None:
        """The tune's row, deleted ones (tombstones: deleted_at set, no text) included."""
        row = await self._one("SELECT * FROM tunes WHERE id = ?", (str(tune_id),))
        return tune_record(row) if row else None

    async def set_message_id(self, tune_id: str, message_id: int) -> None:
        await self._write("UPDATE tunes SET message_id = ? WHERE id = ?", (message_id, tune_id))

    async def count_tunes(self) -> int:
        """Tunes not deleted."""
        return (await self._one("SELECT count(*) FROM tunes WHERE deleted_at IS NULL"))[0]

    async def delete_tune(self, tune_id: str) -> list[Post]:
        """Make the tune a tombstone (its id, lineage and job rows stay for the dataset's integrity; its
        text and ratings go) and forget its posts; returns the posts that were live, to remove them."""
        posts = await self.posts_of(tune_id)
        # Three statements, each committed: the first alone hides the tune everywhere (every read filters
        # on deleted_at), so a crash between them leaves nothing visible.
        now = time.time()
        await self._write(
            "UPDATE tunes SET deleted_at = ?, text = '', title = NULL WHERE id = ? AND deleted_at IS NULL",
            (now, tune_id),
        )
        await self._write("DELETE FROM ratings WHERE tune_id = ?", (tune_id,))
        await self._write("UPDATE posts SET deleted_at = ? WHERE tune_id = ? AND deleted_at IS NULL", (now, tune_id))
        return posts

    # ---- posts (the Discord messages showing a tune) ----------------------------------------------

    async def add_post(self, post: Post) -> None:
        """Record a message showing a tune (with its card, to edit its score later without reading the message
        back); the first one is also the tune's message_id."""
        card = json.dumps(post.card) if post.card is not None else None
        await self._write(
            "INSERT OR REPLACE INTO posts (message_id, tune_id, user_id, guild_id, channel_id, created_at, card)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (post.message_id, post.tune_id, post.user_id, post.guild_id, post.channel_id, time.time(), card),
        )
        await self._write(
            "UPDATE tunes SET message_id = ? WHERE id = ? AND message_id IS NULL", (post.message_id, post.tune_id)
        )

    async def get_post(self, message_id: int) -> Post | None:
        row = await self._one(
            "SELECT message_id, tune_id, user_id, guild_id, channel_id, card FROM posts"
            " WHERE message_id = ? AND deleted_at IS NULL",
            (message_id,),
        )
        return _post(row) if row else None

    async def posts_of(self, tune_id: str) -> list[Post]:
        rows = await self._all(
            "SELECT message_id, tune_id, user_id, guild_id, channel_id, card FROM posts"
            " WHERE tune_id = ? AND deleted_at IS NULL ORDER BY message_id",
            (tune_id,),
        )
        return [_post(r) for r in rows]

    async def delete_post(self, message_id: int) -> None:
        await self._write("UPDATE posts SET deleted_at = ? WHERE message_id = ?", (time.time(), message_id))

    async def listings(
        self,
        guild_id: int | None,
        *,
        user_id: int | None = None,
        style: str | None = None,
        since: float | None = None,
        text: str = "",
        min_votes: int = 0,
        best_first: bool = False,
        limit: int = 10,
    ) -> list[Listing]:
        """Live tunes made on one server (None: in direct messages), with their public score (the requester's own
        vote left out) and first live post: best first (highest mean, then most votes) or newest first; `text`
        filters by id or title."""
        order = "mean DESC, votes DESC, t.created_at DESC" if best_first else "t.created_at DESC"
        text = text.strip().lower()
        rows = await self._all(
            "SELECT t.id, t.title, t.style, t.created_at, count(r.stars) AS votes, avg(r.stars) AS mean, t.guild_id,"
            " p.channel_id, p.message_id, CASE WHEN t.title IS NULL THEN t.text END"
            " FROM tunes t LEFT JOIN ratings r ON r.tune_id = t.id AND (t.user_id IS NULL OR r.user_id <> t.user_id)"
            " LEFT JOIN posts p ON p.message_id ="
            "  (SELECT min(q.message_id) FROM posts q WHERE q.tune_id = t.id AND q.deleted_at IS NULL)"
            " WHERE t.deleted_at IS NULL AND t.guild_id IS ? AND (? IS NULL OR t.user_id = ?)"
            " AND (? IS NULL OR t.style = ?) AND (? IS NULL OR t.created_at >= ?)"
            " AND (? = '' OR instr(lower(t.id), ?) > 0 OR instr(lower(coalesce(t.title, '')), ?) > 0)"
            f" GROUP BY t.id HAVING votes >= ? ORDER BY {order} LIMIT ?",
            (guild_id, user_id, user_id, style, style, since, since, text, text, text, min_votes, limit),
        )
        return [Listing(*r) for r in rows]

    # ---- ratings --------------------------------------------------------------------------------

    async def rate(self, tune_id: str, user_id: int, stars: int) -> RatingSummary:
        """Record (or change) one user's rating of a tune; returns the tune's new public summary."""
        if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
            raise StoreError(f"a rating is 1 to 5 stars, not {stars!r}")
        now = time.time()
        cur = await self._write(
            "INSERT INTO ratings (tune_id, user_id, stars, created_at, updated_at)"
            " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM tunes WHERE id = ? AND deleted_at IS NULL)"
            " ON CONFLICT (tune_id, user_id) DO UPDATE SET stars = excluded.stars, updated_at = excluded.updated_at",
            (tune_id, user_id, stars, now, now, tune_id),
        )
        if cur.rowcount < 1:  # no such tune, or deleted: nothing was written
            raise StoreError(f"tune '{tune_id}' does not exist (it may have been deleted)")
        return await self.rating_summary(tune_id)

    async def rating_summary(self, tune_id: str) -> RatingSummary:
        """The tune's public score: every vote but its requester's own."""
        rows = await self._all(
            "SELECT r.stars, count(*) FROM ratings r JOIN tunes t ON t.id = r.tune_id"
            " WHERE r.tune_id = ? AND (t.user_id IS NULL OR r.user_id <> t.user_id) GROUP BY r.stars",
            (tune_id,),
        )
        stars = {s: 0 for s in range(1, 6)}
        for s, n in rows:
            stars[s] = n
        count = sum(stars.values())
        mean = sum(s * n for s, n in stars.items()) / count if count else None
        return RatingSummary(count, mean, stars)

    async def user_rating(self, tune_id: str, user_id: int) -> int | None:
        row = await self._one("SELECT stars FROM ratings WHERE tune_id = ? AND user_id = ?", (tune_id, user_id))
        return row[0] if row else None

    # ---- jobs -----------------------------------------------------------------------------------

    async def job_created(
        self,
        job_id: str,
        *,
        request: dict,
        user_id: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        created_at: float | None = None,
    ) -> None:
        await self._write(
            "INSERT INTO jobs (id, user_id, guild_id, channel_id, request, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (job_id, user_id, guild_id, channel_id, json.dumps(request), JobState.QUEUED, created_at or time.time()),
        )

    async def job_started(self, job_id: str, started_at: float | None = None) -> None:
        await self._write(
            "UPDATE jobs SET status = ?, started_at = ? WHERE id = ?",
            (JobState.RUNNING, started_at or time.time(), job_id),
        )

    async def job_finished(
        self,
        job_id: str,
        status: str,
        *,
        error: str | None = None,
        tune_id: str | None = None,
        finished_at: float | None = None,
    ) -> None:
        if status not in FINAL_STATES:
            raise ValueError(f"job status {status!r} is not a final state")
        await self._write(
            "UPDATE jobs SET status = ?, error = ?, tune_id = ?, finished_at = ? WHERE id = ?",
            (status, error, tune_id, finished_at or time.time(), job_id),
        )

    async def job_status_message(self, job_id: str, channel_id: int | None, message_id: int) -> None:
        """The message showing a job on its way (removed at the next start if the process dies first)."""
        await self._write(
            "INSERT OR REPLACE INTO status_messages (job_id, channel_id, message_id, created_at) VALUES (?, ?, ?, ?)",
            (job_id, channel_id, message_id, time.time()),
        )

    async def get_job(self, job_id: str) -> JobRecord | None:
        row = await self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return job_record(row) if row else None

    async def fail_unfinished_jobs(
        self, error: str = "the bot restarted before this tune was finished"
    ) -> list[JobRecord]:
        """Mark jobs left queued/running by an earlier run as failed; returns them, with their status messages
        (to tell their users and remove those). Called at start-up, before any job runs."""
        rows = await self._all(
            "SELECT j.*, s.channel_id AS status_channel_id, s.message_id AS status_message_id"
            " FROM jobs j LEFT JOIN status_messages s ON s.job_id = j.id"
            " WHERE j.status IN (?, ?) ORDER BY j.created_at",
            UNFINISHED_STATES,
        )
        if rows:
            await self._write(
                "UPDATE jobs SET status = ?, error = ?, finished_at = ? WHERE status IN (?, ?)",
                (JobState.FAILED, error, time.time(), *UNFINISHED_STATES),
            )
        await self._write("DELETE FROM status_messages")  # every job of the earlier run is over now
        return [job_record(r) for r in rows]

    # ---- guild settings and key/value -----------------------------------------------------------

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        row = await self._one(
            "SELECT allowed_channels, per_user_limit, default_instrument, default_style,"
            " default_length, default_tempo FROM guild_settings WHERE guild_id = ?",
            (guild_id,),
        )
        if not row:
            return GuildSettings(guild_id)
        return GuildSettings(
            guild_id,
            tuple(json.loads(row[0])),
            row[1],
            known_instrument(row[2]),  # bad: ignored
            *row[3:],
        )

    async def set_guild_settings(self, settings: GuildSettings) -> None:
        if settings.per_user_limit is not None and not 1 <= settings.per_user_limit <= 100:
            raise StoreError(f"per-user limit {settings.per_user_limit} is out of range; use 1 to 100")
        try:
            settings = replace(settings, default_instrument=default_instrument_setting(settings.default_instrument))
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        await self._write(
            "INSERT INTO guild_settings (guild_id, allowed_channels, per_user_limit, default_instrument, default_style,"
            " default_length, default_tempo, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (guild_id) DO UPDATE SET allowed_channels = excluded.allowed_channels,"
            " per_user_limit = excluded.per_user_limit, default_instrument = excluded.default_instrument,"
            " default_style = excluded.default_style, default_length = excluded.default_length,"
            " default_tempo = excluded.default_tempo, updated_at = excluded.updated_at",
            (
                settings.guild_id,
                json.dumps([int(c) for c in settings.allowed_channels]),
                settings.per_user_limit,
                settings.default_instrument,
                settings.default_style,
                settings.default_length,
                settings.default_tempo,
                time.time(),
            ),
        )

    async def get_value(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM kv WHERE key = ?", (key,))
        return row[0] if row else None

    async def set_value(self, key: str, value: str) -> None:
        await self._write(
            "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, str(value), time.time()),
        )

    # ---- reports (many rows: in a thread, on a connection of their own) -------------------------

    async def _report(self, func, *args, **kwargs):
        """func(sqlite3 connection, *args, **kwargs) from bot/store/reports.py, run in a thread."""

        def run():
            conn = open_sync(self.path)
            try:
                return func(conn, *args, **kwargs)
            finally:
                conn.close()

        return await asyncio.to_thread(run)

    async def guild_dataset(self, guild_id: int | None) -> list[dict]:
        """The dataset records of the tunes made on one server (no user ids)."""
        return await self._report(reports.rated_tunes, guild_id=guild_id, any_guild=False)

    async def rated_tunes(self, **filters) -> list[dict]:
        """Dataset records (reports.rated_tunes and its filters)."""
        return await self._report(reports.rated_tunes, **filters)

    async def guild_jsonl(self, guild_id: int | None) -> tuple[int, bytes]:
        """(number of tunes, the JSONL file) of one server's dataset, no user ids, built in the thread."""
        return await self._report(reports.guild_jsonl, guild_id)

    async def stats(self) -> dict:
        """The `tunesmith stats` report (reports.summary)."""
        return await self._report(reports.summary)

    async def model_versions(self) -> list[dict]:
        """The mean rating per model version (reports.model_versions)."""
        return await self._report(reports.model_versions)


def _post(row) -> Post:
    *fields, card = tuple(row)
    return Post(*fields, card=json.loads(card) if card else None)
