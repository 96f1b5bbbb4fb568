"""The store: every SQL statement of Tunesmith lives in this package.

schema.py   the migrations and the one connection factory (connect / open_sync)
records.py  the rows handed out (Tune, RatingSummary, JobRecord, GuildSettings)
live.py     Store: the bot's async access (aiosqlite): tunes, posts, ratings, jobs, guild settings, kv
reports.py  read-only reports over a plain connection: dataset, leaderboard, stats, backup
"""

from bot.store.live import Store
from bot.store.records import (
    GuildSettings,
    JobRecord,
    Listing,
    Post,
    RatingSummary,
    Tune,
    new_id,
)
from bot.store.schema import MIGRATIONS, SCHEMA_VERSION, StoreError, migrate, open_sync

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "GuildSettings",
    "JobRecord",
    "Listing",
    "Post",
    "RatingSummary",
    "Store",
    "StoreError",
    "Tune",
    "migrate",
    "new_id",
    "open_sync",
]
