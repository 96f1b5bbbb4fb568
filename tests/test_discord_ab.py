"""The A/B test end to end through the fake Discord: the real discord.py client, a real worker process,
a real SQLite file. `tunesmith ab set` sends requests to a second model while the bot runs, `ab off`
rolls back without a restart, every tune records the version that made it, and /stats shows the mean
rating per version."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from bot import ab
from bot.config import Settings
from bot.engine.local import JobQueue
from bot.store import Store
from model.abc.sample import load_abc_model
from tests.fake_discord import FakeDiscord, posted, running_bot
from tests.test_ab import b_weights

pytestmark = pytest.mark.asyncio(loop_scope="module")

SETTINGS = {
    "workers": 1,
    "job_timeout": 120.0,
    "per_user_running": 1,
    "per_user_queued": 2,
    "queue_cap": 20,
    "shutdown_grace": 2.0,
}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fake():
    async with FakeDiscord() as server:
        with server.patched():
            yield server


def buttons(message) -> dict[str, str]:
    return {c["label"]: c["custom_id"] for row in message["components"] for c in row["components"]}


async def compose(fake, user):
    rec = await fake.slash("compose", user=user, style="jig", length=8)
    post = await fake.wait_for(lambda: posted(fake, rec), 120, "the tune")
    return post, buttons(post)["5"].split(":")[2]


async def rate(fake, post, stars, user):
    click = await fake.click(post, buttons(post)[str(stars)], user)
    await fake.wait_for(lambda: click.callback, 10, "the rating reply")


async def test_ab_split_switch_and_rollback_without_restart_and_stats_per_version(fake, tmp_path):
    b = b_weights(tmp_path, version="abc-b-e2e")
    base_version = load_abc_model().version
    settings = Settings(data_dir=tmp_path / "data", discord_token=fake.token, **SETTINGS)
    store = await Store.open(settings.db_path)
    queue = JobQueue(settings)
    await queue.start()
    db = str(settings.db_path)
    try:
        async with running_bot(fake, settings, store, queue):
            requester, fans = fake.user(1), [fake.user(n) for n in (2, 3, 4)]
            post_a, tune_a = await compose(fake, requester)  # no test yet: the base model
            assert await asyncio.to_thread(ab.main, ["--db", db, "set", str(b), "--share", "1"]) == 0
            post_b, tune_b = await compose(fake, requester)  # the next request, same bot: model B
            assert await asyncio.to_thread(ab.main, ["--db", db, "off"]) == 0
            _post_c, tune_c = await compose(fake, requester)  # rolled back, still no restart
            versions = [(await store.get_tune(t)).model_version for t in (tune_a, tune_b, tune_c)]
            assert versions == [base_version, "abc-b-e2e", base_version]
            for fan, (sa, sb) in zip(fans, [(2, 5), (3, 4), (2, 5)]):
                await rate(fake, post_a, sa, fan)
                await rate(fake, post_b, sb, fan)
            await rate(fake, post_a, 5, requester)  # a self-vote: recorded, left out of the statistics
            stats = await fake.slash("stats")
            await fake.wait_for(lambda: stats.callback, 10, "the stats")
    finally:
        await queue.close(0)
        await store.close()
    (line_b,) = [t for t in "\n".join(stats.texts()).splitlines() if "abc-b-e2e" in t]
    (line_a,) = [t for t in "\n".join(stats.texts()).splitlines() if base_version in t]
    assert "3 votes" in line_b and "mean 4.67" in line_b and "1 rated" in line_b
    assert "3 votes" in line_a and "mean 2.33" in line_a and "2 tunes" in line_a
