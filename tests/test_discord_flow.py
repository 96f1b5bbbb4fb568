"""End-to-end through the fake Discord: the real discord.py client, the real job queue and worker
processes, a real SQLite file."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io

import pytest

from bot.config import Settings
from bot.discord_app import make_bot
from bot.jobs import JobQueue
from bot.store import Store
from tests.fake_discord import FakeDiscord


@dataclasses.dataclass
class DevArtifacts:
    files: dict
    text: str
    text_format: str
    meta: dict


def dev_worker(request, progress=None):
    if progress:
        progress("composing")
        progress("rendering")
    abc = "X:1\nT:Dev\nM:6/8\nL:1/8\nK:D\n|:DFA dfa:|\n"
    return DevArtifacts({"tune.mp3": b"\xff\xfb" * 100, "tune.abc": abc.encode(), "tune.mid": b"MThd", "tune.png": b"\x89PNG"},
                        abc, "abc", {"style": request.style, "key": "Dmaj", "meter": "6/8", "tempo": 116, "bars": 2,
                                     "seed": 1, "instrument": "fiddle", "model": "abc", "model_version": "dev", "duration_s": 1.0})


WORKER = dev_worker


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, tmp_path, store: Store | None = None, **changes):
    base = dict(data_dir=tmp_path, discord_token=fake.token, workers=2, job_timeout=60.0, per_user_running=1,
                per_user_queued=2, queue_cap=20, shutdown_grace=2.0)
    base.update(changes)
    settings = Settings(**base)
    own_store = store is None
    store = store or await Store.open(tmp_path / "t.sqlite3")
    queue = JobQueue(settings, worker=WORKER, store=store)
    await queue.start()
    bot = make_bot(settings, store, queue, guild_ready_timeout=0.05)
    bot.progress_every = 0.2
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 15)
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, 10)
        await queue.close(0)
        if own_store:
            await store.close()


@pytest.fixture
async def fake():
    async with FakeDiscord() as server:
        with server.patched():
            yield server


def finished(record) -> bool:
    return bool(record.followups) or (record.callback is not None and record.ephemeral)


async def test_compose_posts_files_and_buttons(fake, tmp_path):
    async with running(fake, tmp_path) as bot:
        rec = await fake.slash("compose", style="jig", length=16)
        await fake.wait_for(lambda: rec.followups, 60, "the tune")
        await fake.wait_for(lambda: rec.edits and rec.edits[-1]["content"].startswith("Done"), 10, "the final edit")
    assert rec.callback["type"] == 5 and rec.ack_latency < 3.0
    assert any(e["content"].startswith(("Queued", "Composing", "Rendering", "Starting")) for e in rec.edits)
    post = rec.followups[0]
    names = [a["filename"] for a in post["attachments"]]
    assert sorted(n.rsplit(".", 1)[1] for n in names) == ["abc", "mid", "mp3", "png"]
    ids = [c["custom_id"] for row in post["components"] for c in row["components"]]
    assert len(ids) == 8 and all(len(i) <= 100 for i in ids)
    assert not fake.violations


def buttons(message) -> dict[str, str]:
    """label -> custom_id of the buttons on a posted message."""
    return {c["label"]: c["custom_id"] for row in message["components"] for c in row["components"]}


async def compose_one(fake, user=None, **options):
    rec = await fake.slash("compose", user=user, **options)
    await fake.wait_for(lambda: finished(rec), 60, "the tune")
    return rec


async def test_star_clicks_store_and_update_votes(fake, tmp_path):
    async with running(fake, tmp_path) as bot:
        rec = await compose_one(fake, style="reel", length=8)
        post = rec.followups[0]
        tune_id = buttons(post)["4"].split(":")[2]
        alice, bob = fake.user(1), fake.user(2)
        click = await fake.click(post, buttons(post)["4"], alice)
        await fake.wait_for(lambda: click.callback, 10, "the rating reply")
        assert click.ephemeral and "4/5" in click.texts()[0]
        assert await bot.store.user_rating(tune_id, alice.id) == 4
        click = await fake.click(post, buttons(post)["2"], alice)  # changes her vote
        await fake.wait_for(lambda: click.callback, 10, "the rating reply")
        assert await bot.store.user_rating(tune_id, alice.id) == 2
        click = await fake.click(post, buttons(post)["5"], bob)
        await fake.wait_for(lambda: click.callback, 10, "the rating reply")
        summary = await bot.store.rating_summary(tune_id)
        assert summary.count == 2 and summary.stars[2] == 1 and summary.stars[5] == 1
        rate = await fake.slash("rate", user=bob, tune=tune_id, stars=3)
        await fake.wait_for(lambda: rate.callback, 10, "/rate reply")
        assert await bot.store.user_rating(tune_id, bob.id) == 3
        rate = await fake.slash("rate", user=bob, tune="nosuchtune", stars=3)
        await fake.wait_for(lambda: rate.callback, 10, "/rate reply")
        assert rate.ephemeral and "no tune" in rate.texts()[0]


async def test_click_on_an_old_message_works_after_a_restart(fake, tmp_path):
    store = await Store.open(tmp_path / "t.sqlite3")
    try:
        async with running(fake, tmp_path, store=store):
            rec = await compose_one(fake, style="jig", length=8)
        post = rec.followups[0]
        async with running(fake, tmp_path, store=store) as bot:
            assert len(fake.sync_calls) == 1  # same commands: no second sync
            click = await fake.click(post, buttons(post)["5"], fake.user(3))
            await fake.wait_for(lambda: click.callback, 10, "the rating reply")
            tune_id = buttons(post)["5"].split(":")[2]
            assert await bot.store.user_rating(tune_id, fake.user(3).id) == 5
            var = await fake.click(post, buttons(post)["Variation"], fake.user(3))
            await fake.wait_for(lambda: finished(var), 60, "the variation")
            assert var.followups and f"`{tune_id}`" in " ".join(var.texts())
    finally:
        await store.close()


async def test_continue_with_malformed_abc_is_refused_and_the_bot_keeps_working(fake, tmp_path):
    async with running(fake, tmp_path):
        bad = await fake.slash("continue", abc="X:1\nT:No key line\nM:6/8\n|:DFA dfa:|")
        await fake.wait_for(lambda: bad.callback, 10, "the error")
        assert bad.ephemeral and "K:" in bad.texts()[0]
        upload = fake.upload("tune.mid", b"MThd\x00\x00")
        bad = await fake.slash("continue", file=upload)
        await fake.wait_for(lambda: bad.callback, 10, "the error")
        assert bad.ephemeral and "not an .abc file" in bad.texts()[0]
        rec = await compose_one(fake, style="jig", length=8)
        assert rec.followups


async def test_delete_is_refused_for_others_and_allowed_for_the_requester(fake, tmp_path):
    async with running(fake, tmp_path):
        owner = fake.user(5)
        rec = await compose_one(fake, user=owner, style="polka", length=8)
        post = rec.followups[0]
        click = await fake.click(post, buttons(post)["Delete"], fake.user(6))
        await fake.wait_for(lambda: click.callback, 10, "the refusal")
        assert click.ephemeral and "Only the person" in click.texts()[0]
        assert not fake.messages[int(post["id"])].get("deleted")
        click = await fake.click(post, buttons(post)["Delete"], owner)
        await fake.wait_for(lambda: fake.messages[int(post["id"])].get("deleted"), 10, "the delete")


async def test_twenty_requests_from_ten_users_are_all_answered(fake, tmp_path):
    async with running(fake, tmp_path, per_user_running=1, per_user_queued=0, queue_cap=6):
        users = [fake.user(10 + i) for i in range(10)]
        records = await asyncio.gather(*(fake.slash("compose", user=users[i % 10], style="jig", length=8) for i in range(20)))
        await fake.wait_for(lambda: all(finished(r) for r in records), 120, "every answer")
    assert all(r.ack_latency is not None and r.ack_latency < 3.0 for r in records)
    done = [r for r in records if r.followups and r.followups[0]["attachments"]]
    refused = [r for r in records if r.ephemeral]
    assert len(done) + len(refused) == 20 and done and refused
    assert all(any(w in r.texts()[0] for w in ("limit", "busy")) for r in refused)
    assert not fake.violations


async def test_result_goes_to_the_channel_when_the_token_has_expired(fake, tmp_path):
    async with running(fake, tmp_path) as bot:
        bot.token_life = 0.0
        rec = await fake.slash("compose", style="jig", length=8)
        await fake.wait_for(lambda: fake.channel_posts(), 60, "a channel post")
    post = fake.channel_posts()[0]
    assert f"<@{fake.owner.id}>" in post["content"] and len(post["attachments"]) == 4
    assert not rec.followups and not fake.violations


async def test_bad_options_get_a_friendly_ephemeral_error(fake, tmp_path):
    async with running(fake, tmp_path):
        rec = await fake.slash("compose", style="jig", key="H#")
        await fake.wait_for(lambda: rec.callback, 10, "the error")
        assert rec.ephemeral and "H#" in rec.texts()[0]
        auto = await fake.autocomplete("compose", "key", key="E")
        await fake.wait_for(lambda: auto.callback, 10, "autocomplete choices")
        choices = [c["value"] for c in auto.callback["data"]["choices"]]
        assert choices and all(c.startswith("E") for c in choices) and len(choices) <= 25


async def test_admin_settings_need_manage_server_and_are_stored(fake, tmp_path):
    async with running(fake, tmp_path) as bot:
        rec = await fake.slash("admin settings", user=fake.user(7), per_user_limit=3)
        await fake.wait_for(lambda: rec.callback, 10, "the refusal")
        assert rec.ephemeral and "Manage Server" in rec.texts()[0]
        rec = await fake.slash("admin settings", user=fake.owner, per_user_limit=3, default_instrument="harp")
        await fake.wait_for(lambda: rec.callback, 10, "the settings")
        gs = await bot.store.guild_settings(fake.guild_id)
        assert gs.per_user_limit == 3 and gs.default_instrument == "harp"
