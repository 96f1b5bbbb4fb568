"""The bot's end-to-end compose test again, with the jobs run by two real `tunesmith worker` processes
through Celery on a real redis-server (the broker engine, bot/engine/broker.py) instead of worker
processes inside the bot: the front end cannot tell the difference."""

from __future__ import annotations

import pytest
import pytest_asyncio

from bot.config import Settings
from bot.engine.choose import make_queue
from tests.broker import RedisServer, Workers, redis_available
from tests.test_discord_flow import SETTINGS, fake, fake_server, store  # noqa: F401 (fixtures)
from tests.test_discord_flow import test_compose_jig_posts_files_that_decode as test_compose_jig_through_the_broker  # noqa: F401

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(not redis_available(), reason="redis-server is not installed (scripts/install-system-deps)"),
]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """redis-server and two workers running the real compose (models and soundfont loaded per process)."""
    with RedisServer() as server, Workers(server.url, ["bw1", "bw2"], log_dir=tmp_path_factory.mktemp("wlogs")) as ws:
        ws.wait_ready()
        yield server


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def queue(store, broker, tmp_path_factory):  # noqa: F811 (replaces the in-process queue of test_discord_flow)
    q = make_queue(Settings(data_dir=tmp_path_factory.mktemp("data"), broker_url=broker.url, **SETTINGS))
    assert type(q).__name__ == "CeleryQueue"
    await q.start()
    yield q
    await q.close(0)
