"""The database schema, its migrations and the one connection factory.

The schema is migrated step by step by `PRAGMA user_version`: a database from any earlier version (or
an empty file) is brought up to date when it is opened. WAL mode (readers never block the writer),
foreign keys on.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class StoreError(ValueError):
    """A request the store cannot honour (unknown tune, stars out of range); safe to show."""


# Each entry takes the schema from version i to i+1. Never edit a released step; append a new one.
MIGRATIONS: list[str] = [
    # 1: tunes, ratings, jobs
    """
    CREATE TABLE tunes (
        id            TEXT PRIMARY KEY,
        created_at    REAL NOT NULL,
        user_id       INTEGER,
        guild_id      INTEGER,
        channel_id    INTEGER,
        request       TEXT NOT NULL,           -- ComposeRequest as JSON
        style         TEXT NOT NULL,
        model         TEXT NOT NULL,           -- "abc" | "notes"
        model_version TEXT NOT NULL,
        seed          INTEGER,
        text          TEXT NOT NULL,           -- ABC or MusicXML
        text_format   TEXT NOT NULL,           -- "abc" | "musicxml"
        duration_s    REAL,
        parent_id     TEXT REFERENCES tunes(id) ON DELETE SET NULL,
        message_id    INTEGER
    );
    CREATE INDEX tunes_created ON tunes(created_at);
    CREATE TABLE ratings (
        tune_id    TEXT NOT NULL REFERENCES tunes(id) ON DELETE CASCADE,
        user_id    INTEGER NOT NULL,
        stars      INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (tune_id, user_id)
    );
    CREATE TABLE jobs (
        id          TEXT PRIMARY KEY,
        user_id     INTEGER,
        guild_id    INTEGER,
        channel_id  INTEGER,
        request     TEXT NOT NULL,
        status      TEXT NOT NULL,
        created_at  REAL NOT NULL,
        started_at  REAL,
        finished_at REAL,
        error       TEXT,
        tune_id     TEXT REFERENCES tunes(id) ON DELETE SET NULL
    );
    CREATE INDEX jobs_status ON jobs(status);
    """,
    # 2: per-guild settings and a small key/value table (e.g. the synced command-set hash)
    """
    CREATE TABLE guild_settings (
        guild_id           INTEGER PRIMARY KEY,
        allowed_channels   TEXT NOT NULL DEFAULT '[]',  -- JSON list of channel ids; [] = all channels
        per_user_limit     INTEGER,                     -- NULL = the bot's setting
        default_instrument TEXT,                        -- NULL = each style's own
        updated_at         REAL NOT NULL
    );
    CREATE TABLE kv (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX ratings_user ON ratings(user_id);
    """,
    # 3: deleted tunes stay as tombstones; titles for lists; every post of a tune (the first one and the
    # /tune re-posts) with who asked for it; per-server default style, length and tempo
    """
    ALTER TABLE tunes ADD COLUMN deleted_at REAL;       -- set: hidden everywhere, text and ratings gone
    ALTER TABLE tunes ADD COLUMN title TEXT;            -- NULL: read it from the text
    CREATE INDEX tunes_guild ON tunes(guild_id, created_at);
    CREATE TABLE posts (
        message_id INTEGER PRIMARY KEY,
        tune_id    TEXT NOT NULL REFERENCES tunes(id) ON DELETE CASCADE,
        user_id    INTEGER,                             -- who asked for this post (the tune, or a re-post)
        guild_id   INTEGER,
        channel_id INTEGER,
        created_at REAL NOT NULL,
        deleted_at REAL
    );
    CREATE INDEX posts_tune ON posts(tune_id);
    INSERT OR IGNORE INTO posts (message_id, tune_id, user_id, guild_id, channel_id, created_at)
        SELECT message_id, id, user_id, guild_id, channel_id, created_at FROM tunes WHERE message_id IS NOT NULL;
    ALTER TABLE guild_settings ADD COLUMN default_style TEXT;
    ALTER TABLE guild_settings ADD COLUMN default_length INTEGER;
    ALTER TABLE guild_settings ADD COLUMN default_tempo INTEGER;
    """,
    # 4: what a post shows (its card: the embed as posted), so its score is edited without reading the message
    # back; the status message of a job on its way, so a job cut by a crash gets its status message removed
    """
    ALTER TABLE posts ADD COLUMN card TEXT;             -- JSON; NULL: posted before cards were kept
    CREATE TABLE status_messages (
        job_id     TEXT PRIMARY KEY,
        channel_id INTEGER,
        message_id INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring a plain sqlite3 connection's schema up to `target`; returns the version it started at.

    Each step runs in one transaction together with its user_version bump, so a crash mid-way
    leaves the database at the previous version, never half-migrated.
    """
    start = conn.execute("PRAGMA user_version").fetchone()[0]
    if start > SCHEMA_VERSION:
        raise StoreError(
            f"the database schema is version {start}, newer than this Tunesmith knows "
            f"({SCHEMA_VERSION}); upgrade Tunesmith"
        )
    for version in range(start, target):
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{MIGRATIONS[version]};\nPRAGMA user_version = {version + 1:d};\nCOMMIT;"
            )
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return start


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def open_sync(path: Path | str) -> sqlite3.Connection:
    """A plain migrated sqlite3 connection (rows as sqlite3.Row) for CLI commands and tests."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    migrate(conn)
    conn.row_factory = sqlite3.Row
    return conn
