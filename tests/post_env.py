"""What the post tests share: one real SQLite file, one job queue with a real worker process and one
fake Discord per module, a running bot per test, and composing a tune through /compose.

A test module imports the fixtures it uses (`store`, `queue`, `fake`) and the helpers."""

from __future__ import annotations

import contextlib

import pytest_asyncio

from bot.config import Settings
from bot.engine.local import JobQueue
from bot.store import Store
from tests.fake_discord import FakeDiscord, answered, posted, running_bot

PROGRESS_EVERY = 0.2
# Audio is cut at 10 s here, so every tune carries a render warning.
SETTINGS = {
    "workers": 1,
    "job_timeout": 120.0,
    "per_user_running": 1,
    "per_user_queued": 2,
    "queue_cap": 20,
    "shutdown_grace": 2.0,
    "max_audio_seconds": 10,
}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def store(tmp_path_factory):
    s = await Store.open(tmp_path_factory.mktemp("db") / "t.sqlite3")
    yield s
    await s.close()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def queue(store, tmp_path_factory):
    q = JobQueue(Settings(data_dir=tmp_path_factory.mktemp("data"), **SETTINGS))
    await q.start()
    yield q
    await q.close(0)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fake():
    async with FakeDiscord(edit_interval=PROGRESS_EVERY * 0.95) as server:
        with server.patched():
            yield server


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, tmp_path, store: Store, queue: JobQueue, **changes):
    """A bot on `fake` for one test (settings: SETTINGS with `changes`); it must break none of Discord's rules."""
    fake.violations.clear()
    settings = Settings(data_dir=tmp_path, discord_token=fake.token, **{**SETTINGS, **changes})
    async with running_bot(fake, settings, store, queue) as bot:
        bot.progress_every = PROGRESS_EVERY
        yield bot
    assert not fake.violations


async def compose(fake, user, **options) -> dict:
    rec = await fake.slash("compose", user=user, **options)
    await fake.wait_for(lambda: answered(fake, rec), 120, "the tune")
    assert posted(fake, rec), rec.texts()
    return posted(fake, rec)
