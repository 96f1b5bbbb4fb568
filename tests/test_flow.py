"""The Discord-free request flow (bot/flow.py) and service (bot/tunes.py), driven by a small Reply of our
own: a real job queue with real worker processes (running a tiny function) and a real SQLite file."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from bot.artifacts import Artifacts, TuneFacts, tune_title
from bot.attachments import fit_files
from bot.config import Settings
from bot.engine.local import CANCELLED, JobEvent, JobQueue
from bot.flow import Coalescer, Posted, RequestFlow, Result, status_text
from bot.requests import ComposeOptions, from_options
from bot.store import GuildSettings, Post, RatingSummary, Store
from bot.tunes import TuneError, TuneService


def small_work(request, progress=None):
    """A worker function: a two-file 'tune' at once, or the user's fault for seed 13; seed 99 composes
    until it is cancelled."""
    progress("composing")
    if request.seed == 13:
        raise ValueError("thirteen is unlucky")
    while request.seed == 99:
        time.sleep(0.05)
    abc = f"X:1\nT:Small {request.style}\nK:D\nDEF|]\n"
    facts = TuneFacts(
        style=request.style, seed=request.seed, model="abc", model_version="t", title=f"Small {request.style}"
    )
    return Artifacts({"tune.abc": abc.encode(), "tune.mid": b"MThd"}, abc, "abc", facts)


class RecordingReply:
    filesize_limit = 10 * 1024 * 1024

    def __init__(self, fail_acknowledge: bool = False):
        self.calls: list[tuple] = []
        self.fail_acknowledge = fail_acknowledge
        self.acknowledged = asyncio.Event()

    async def acknowledge(self):
        if self.fail_acknowledge:
            raise ConnectionError("Discord went away")
        self.calls.append(("ack",))
        self.acknowledged.set()
        return 4241

    async def edit(self, text, cancel=None):
        self.calls.append(("edit", text, cancel))

    async def post_result(self, result):
        self.calls.append(("post", result))
        return Posted(4242, {"title": result.title})

    async def fail(self, text):
        self.calls.append(("fail", text))

    async def withdraw(self):
        self.calls.append(("withdraw",))


@pytest.fixture
async def service(tmp_path):
    store = await Store.open(tmp_path / "t.sqlite3")
    queue = JobQueue(Settings(data_dir=tmp_path, workers=1, job_timeout=30), worker=small_work)
    await queue.start()
    svc = TuneService(store, queue)
    yield svc
    await svc.close(0)
    await store.close()


async def test_a_request_is_acknowledged_composed_posted_and_stored(service):
    reply = RecordingReply()
    await RequestFlow(service, progress_every=0).run(reply, 7, 1, 2, from_options(style="reel", length=8, seed=5))
    kinds = [c[0] for c in reply.calls]
    assert kinds[0] == "ack" and kinds.count("post") == 1 and "fail" not in kinds
    result = next(c[1] for c in reply.calls if c[0] == "post")
    assert result.title == "Small reel" and [n for n, _ in result.files] == [
        f"tunesmith-{result.tune_id}.abc",
        f"tunesmith-{result.tune_id}.mid",
    ]
    assert reply.calls[-1] == ("post", result)  # the status message becomes the tune: no "Done" edit after it
    tune = await service.store.get_tune(result.tune_id)
    assert tune.user_id == 7 and tune.guild_id == 1 and tune.message_id == 4242 and tune.seed == 5
    assert tune.title == "Small reel" and await service.store.posts_of(tune.id) == [Post(4242, tune.id, 7, 1, 2)]


async def test_a_failed_tune_is_told_and_nothing_is_stored(service):
    reply = RecordingReply()
    await RequestFlow(service, progress_every=0).run(reply, 7, 1, 2, from_options(style="jig", seed=13))
    assert reply.calls[-1] == ("fail", "Sorry, thirteen is unlucky")
    assert await service.store.count_tunes() == 0


async def test_a_channel_the_server_did_not_allow_is_refused_before_anything_happens(service):
    await service.save_guild_settings(GuildSettings(1, allowed_channels=(99,)))
    reply = RecordingReply()
    with pytest.raises(TuneError, match="only in <#99>"):
        await RequestFlow(service).run(reply, 7, 1, 2, from_options(style="jig"))
    assert reply.calls == [] and service.queue.queued == 0 and service.queue.running == 0


async def test_the_servers_default_instrument_fills_in_and_a_lost_acknowledgement_cancels(service):
    await service.save_guild_settings(GuildSettings(1, default_instrument="flute"))
    assert (await service.admit(from_options(style="jig"), 1, 2)).instrument == "flute"
    assert (await service.admit(from_options(style="jig", instrument="piano"), 1, 2)).instrument == "piano"
    reply = RecordingReply(fail_acknowledge=True)
    await RequestFlow(service).run(reply, 7, 1, 2, from_options(style="jig", seed=1))
    assert reply.calls == [] and await service.store.count_tunes() == 0


async def test_a_closed_flow_refuses_new_requests(service):
    flow = RequestFlow(service)
    flow.accepting = False
    with pytest.raises(TuneError, match="restarting"):
        await flow.run(RecordingReply(), 7, None, None, from_options(style="jig"))


async def test_what_the_buttons_ask_for(service):
    tune_id = await service.store.add_tune(
        request=from_options(style="reel", length=16, seed=9).to_dict(),
        text="X:1\nK:D\nDEF|]\n",
        text_format="abc",
        facts=TuneFacts(model="abc"),
        user_id=7,
        guild_id=1,
    )
    tune = await service.tune(tune_id, 1)
    assert service.variation_of(tune).seed is None and service.variation_of(tune).length == 16
    cont = service.continuation_of(tune)
    assert cont.length == 32 and cont.continue_abc.startswith("X:1\nK:D\nDEF|")
    repost = Post(555, tune_id, 8, 1, 2)  # user 8 asked for a /tune re-post
    assert service.delete_scope(tune, None, 7, is_moderator=False) == "tune"
    assert service.delete_scope(tune, repost, 9, is_moderator=True) == "tune"
    assert service.delete_scope(tune, repost, 8, is_moderator=False) == "post"  # their re-post only
    with pytest.raises(TuneError, match="Only the person"):
        service.delete_scope(tune, repost, 9, is_moderator=False)
    with pytest.raises(TuneError, match="no tune"):
        await service.rate("nope", 7, 5, 1)
    assert await service.rate(tune_id, 8, 4, 1) == (RatingSummary(1, 4.0, {1: 0, 2: 0, 3: 0, 4: 1, 5: 0}), False)
    summary, own = await service.rate(tune_id, 7, 5, 1)  # the requester's own vote: kept, not public
    assert own and (summary.count, summary.mean) == (1, 4.0) and await service.store.user_rating(tune_id, 7) == 5
    chorale = dataclasses.replace(tune, text_format="musicxml")
    with pytest.raises(TuneError, match="only ABC"):
        service.continuation_of(chorale)


async def test_a_deleted_tune_is_a_tombstone_hidden_everywhere_and_tunes_stay_on_their_server(service):
    """Issue 14: delete hid only the message; the tune could still be re-posted, rated, and stayed in the
    leaderboard and exports. Ratings and re-posts were not scoped to the tune's server either."""
    store = service.store
    ids = [
        await store.add_tune(
            request={"style": "jig", "length": 8},
            text=f"X:1\nT:Tune {i}\nK:D\nDEF|]\n",
            text_format="abc",
            facts=TuneFacts(style="jig"),
            user_id=7,
            guild_id=1,
            title=f"Tune {i}",
        )
        for i in range(2)
    ]
    child = await store.add_tune(
        request={"style": "jig"},
        text="X:1\nK:D\nDEF|]\n",
        text_format="abc",
        facts=TuneFacts(style="jig"),
        guild_id=1,
        parent_id=ids[0],
    )
    for t in ids:
        await service.rate(t, 8, 5, 1)
        await service.record_post(Post(int(t.encode().hex(), 16) % 10**9, t, 7, 1, 2))
    with pytest.raises(TuneError, match="no tune"):
        await service.rate(ids[0], 9, 4, 2)  # from another server
    with pytest.raises(TuneError, match="no tune"):
        await service.tune(ids[0], None)
    posts = await service.delete(ids[0])
    assert [p.tune_id for p in posts] == [ids[0]]
    with pytest.raises(TuneError, match="no tune"):
        await service.tune(ids[0], 1)
    with pytest.raises(TuneError, match="no tune"):
        await service.rate(ids[0], 9, 4, 1)
    assert [r.id for r in await service.top(1, None, "all")] == [ids[1]]
    assert [r.id for r in await service.suggestions(1, "tune")] == [ids[1]]
    assert [r["id"] for r in await store.rated_tunes()] == [ids[1]]
    tomb = await store.get_tune(ids[0])
    assert tomb.deleted and tomb.text == "" and (await store.rating_summary(ids[0])).count == 0
    assert (await store.get_tune(child)).parent_id == ids[0]  # the lineage stays
    assert await store.posts_of(ids[0]) == [] and await store.count_tunes() == 2


async def test_server_defaults_fill_in_what_the_request_left_out(service):
    await service.save_guild_settings(
        GuildSettings(1, default_style="reel", default_length=48, default_tempo=100, default_instrument="flute")
    )
    request = await service.admit(ComposeOptions.of({"key": "G"}), 1, 2)
    assert (request.style, request.length, request.tempo, request.instrument, request.key) == (
        "reel",
        48,
        100,
        "flute",
        "Gmaj",
    )
    request = await service.admit(ComposeOptions.of({"style": "jig", "length": 16, "tempo": 120}), 1, 2)
    assert (request.style, request.length, request.tempo, request.instrument) == ("jig", 16, 120, "flute")
    request = await service.admit(ComposeOptions(), 3, 2)  # another server: the bot's defaults
    assert (request.style, request.length, request.tempo, request.instrument) == ("jig", 32, None, None)
    assert await service.store.guild_settings(1) == await service.guild_settings(1)
    with pytest.raises(TypeError):  # only typed requests enter the flow
        await service.admit({"key": "G"}, 1, 2)


async def test_cancel_stops_a_waiting_or_composing_tune_and_removes_its_status(service):
    flow = RequestFlow(service, progress_every=0)
    blocker, reply = RecordingReply(), RecordingReply()
    first = asyncio.create_task(flow.run(blocker, 7, 1, 2, from_options(style="jig", seed=99)))
    await blocker.acknowledged.wait()
    second = asyncio.create_task(flow.run(reply, 8, 1, 2, from_options(style="jig", seed=1)))
    await reply.acknowledged.wait()
    (job,) = [j for j in service.queue._active.values() if j.user_id == 8]
    assert await service.cancel(job.id, 8)
    await second
    assert reply.calls[-1] == ("withdraw",) and job.state == CANCELLED
    assert all(c[2] == job.id for c in reply.calls if c[0] == "edit")  # every status offered Cancel
    (running,) = service.queue._active.values()
    with pytest.raises(ValueError, match="only the person"):
        await service.cancel(running.id, 8)
    assert await service.cancel(running.id, 7)  # composing: its worker is stopped
    await first
    assert blocker.calls[-1] == ("withdraw",) and await service.store.count_tunes() == 0


async def test_coalescer_merges_a_burst_into_one_run_and_shows_the_last(service):
    seen = []

    async def action(key):
        seen.append((key, value[0]))

    value = [0]
    pace = Coalescer(action, every=0.2)
    for v in range(1, 6):  # a burst of five votes
        value[0] = v
        pace.poke("post")
    await pace.drain()
    assert seen == [("post", 5)]
    value[0] = 6
    pace.poke("post")
    pace.poke("post")
    await pace.drain()
    assert seen == [("post", 5), ("post", 6)] and pace.runs == 2


async def test_files_are_posted_mp3_first_with_every_sheet_page(service):
    art = Artifacts(
        {
            "tune.abc": b"X:1",
            "tune-2.png": b"p2",
            "tune.mid": b"M",
            "tune.png": b"p1",
            "tune.mp3": b"ID3",
            "tune-10.png": b"p10",
        },
        "X:1\nT:Big (seed 4)\nK:D\n",
        "abc",
        TuneFacts(
            warnings=("the tune lasts 12 min; cut at 600 s",), title=tune_title("X:1\nT:Big (seed 4)\nK:D\n", "abc")
        ),
    )
    files, notes = await fit_files(art, "abc123", 10 * 1024 * 1024)
    assert [n for n, _ in files] == [
        "tunesmith-abc123.mp3",
        "tunesmith-abc123.abc",
        "tunesmith-abc123.mid",
        "tunesmith-abc123.png",
        "tunesmith-abc123-2.png",
        "tunesmith-abc123-10.png",
    ]
    result = Result(art, "abc123", "parent", files, notes, continued=True)
    assert result.image == "tunesmith-abc123.png" and result.warnings == ["the tune lasts 12 min; cut at 600 s"]
    assert result.title == "Big, continued"  # no parent's seed in the title
    many = Artifacts({"tune.mp3": b"a", **{f"tune-{i}.png": b"p" for i in range(1, 12)}}, "", "abc")
    files, notes = await fit_files(many, "x", 1000)
    assert len(files) == 10 and "did not fit" in notes[-1]


def test_status_text_says_where_a_job_is():
    assert status_text(JobEvent("j", "queued", "queued", 1, "")) == "Queued #1 (next up)"
    assert status_text(JobEvent("j", "queued", "queued", 3, "")) == "Queued #3"
    assert status_text(JobEvent("j", "running", "rendering", None, "")) == "Rendering audio and sheet music..."
