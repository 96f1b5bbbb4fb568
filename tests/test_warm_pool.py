"""The warm pool (bot/engine/warm_pool.py) around a real in-process engine whose workers run a quick made-up
compose (tests/celery_work.work): plain requests answered at once, never the same tune twice, refilled
while idle, other requests composed as before, old model versions thrown away."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.artifacts import Artifacts, TuneFacts
from bot.config import Settings
from bot.engine.base import Order
from bot.engine.choose import make_queue
from bot.engine.local import DONE, JobQueue
from bot.engine.warm_pool import WarmPool, plain_style
from bot.requests import ComposeRequest
from tests.celery_work import work


async def until(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
async def pool(tmp_path):
    settings = Settings(data_dir=tmp_path, workers=1, job_timeout=30, warm_pool=2)
    q = WarmPool(JobQueue(settings, worker=work, initializer=None), settings)
    await q.start()
    yield q
    await q.close(0)


def test_only_plain_requests_are_pooled():
    assert plain_style(ComposeRequest(style="jig", length=32)) == "jig"
    assert plain_style(ComposeRequest(style="jig", length=32, seed=4)) is None
    assert plain_style(ComposeRequest(style="jig", length=16)) is None
    assert plain_style(ComposeRequest(style="reel", length=32, instrument="flute")) is None
    assert plain_style(("ok", "x")) is None


async def test_plain_request_answered_at_once_and_refilled(pool):
    await until(lambda: pool.ready("jig") == 2 and pool.ready("reel") == 2)
    events = []

    async def record(event):
        events.append(event)

    first = await pool.submit(Order(7, ComposeRequest(style="jig", length=32), record, guild_id=1, channel_id=2))
    assert first.state == DONE and first.result.facts.style == "jig"  # answered at once: no job was run
    await first.events_delivered()
    assert [e.stage for e in events] == ["starting", "finished"] and first.guild_id == 1
    second = await pool.submit(Order(8, ComposeRequest(style="jig", length=32)))
    assert second.result.text != first.result.text  # never the same tune twice
    assert pool.ready("jig") == 0 and pool.hits == 2
    assert not pool._idle()  # a request just came: the pool waits for a quiet moment to refill
    seeded = await pool.submit(Order(7, ComposeRequest(style="jig", length=32, seed=3)))  # composed as before
    assert seeded.state != DONE
    await seeded.wait()
    assert seeded.state == DONE
    await until(lambda: pool.ready("jig") == 2)  # refilled in the background


async def test_most_asked_styles_win_and_old_models_are_thrown_away(pool):
    for _ in range(3):
        await (await pool.submit(Order(9, ComposeRequest(style="hornpipe", length=32)))).wait()
    await until(lambda: pool.ready("hornpipe") == 2)
    old = pool._ready["hornpipe"][0][0]
    pool.add("hornpipe", Artifacts({}, "X:1", "abc", TuneFacts(model="abc", model_version="v2")))
    assert pool.ready("hornpipe") == 1 and pool._ready["hornpipe"][0][0] is not old  # v1 tunes gone
    assert pool.ready("jig") == 0


async def test_settings_turn_it_on(tmp_path):
    assert isinstance(make_queue(Settings(data_dir=tmp_path, workers=1, warm_pool=2)), WarmPool)
    assert not isinstance(make_queue(Settings(data_dir=tmp_path, workers=1)), WarmPool)
