"""The Discord-free request flow (bot/flow.py) and service (bot/tunes.py), driven by a small Reply of our
own: a real job queue with real worker processes (running a tiny function) and a real SQLite file."""
from __future__ import annotations

import dataclasses
import os

import pytest

from bot.config import Settings
from bot.flow import RequestFlow, status_text
from bot.jobs import JobEvent, JobQueue
from bot.requests import from_options
from bot.store import GuildSettings, Store
from bot.tunes import TuneError, TuneService


@dataclasses.dataclass
class SmallArtifacts:
    files: dict
    text: str
    text_format: str
    meta: dict


def small_work(request, progress=None):
    """A worker function: a two-file 'tune' at once, or the user's fault for seed 13."""
    progress("composing")
    if request.seed == 13:
        raise ValueError("thirteen is unlucky")
    abc = f"X:1\nT:Small {request.style}\nK:D\nDEF|]\n"
    return SmallArtifacts({"tune.abc": abc.encode(), "tune.mid": b"MThd"}, abc, "abc",
                          {"style": request.style, "seed": request.seed, "model": "abc", "model_version": "t",
                           "pid": os.getpid()})


class RecordingReply:
    filesize_limit = 10 * 1024 * 1024

    def __init__(self, fail_acknowledge: bool = False):
        self.calls: list[tuple] = []
        self.fail_acknowledge = fail_acknowledge

    async def acknowledge(self):
        if self.fail_acknowledge:
            raise ConnectionError("Discord went away")
        self.calls.append(("ack",))

    async def edit(self, text):
        self.calls.append(("edit", text))

    async def post_result(self, result):
        self.calls.append(("post", result))
        return 4242

    async def fail(self, text):
        self.calls.append(("fail", text))


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
    assert result.title == "Small reel" and [n for n, _ in result.files] == [f"tunesmith-{result.tune_id}.abc",
                                                                            f"tunesmith-{result.tune_id}.mid"]
    assert reply.calls[-1] == ("edit", f"Done: tune `{result.tune_id}`")
    tune = await service.store.get_tune(result.tune_id)
    assert tune.user_id == 7 and tune.guild_id == 1 and tune.message_id == 4242 and tune.seed == 5


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
    tune_id = await service.store.add_tune(request=from_options(style="reel", length=16, seed=9).to_dict(),
                                           text="X:1\nK:D\nDEF|]\n", text_format="abc", meta={"model": "abc"},
                                           user_id=7)
    tune = await service.tune(tune_id)
    assert service.variation_of(tune).seed is None and service.variation_of(tune).length == 16
    cont = service.continuation_of(tune)
    assert cont.length == 32 and cont.continue_abc.startswith("X:1\nK:D\nDEF|")
    service.check_may_delete(tune, 7, is_moderator=False)
    service.check_may_delete(tune, 8, is_moderator=True)
    with pytest.raises(TuneError, match="Only the person"):
        service.check_may_delete(tune, 8, is_moderator=False)
    with pytest.raises(TuneError, match="no tune"):
        await service.rate("nope", 7, 5)
    assert (await service.rate(tune_id, 8, 4)).mean == 4
    chorale = dataclasses.replace(tune, text_format="musicxml")
    with pytest.raises(TuneError, match="only ABC"):
        service.continuation_of(chorale)


def test_status_text_says_where_a_job_is():
    assert status_text(JobEvent("j", "queued", "queued", 1, "")) == "Queued #1 (next up)"
    assert status_text(JobEvent("j", "queued", "queued", 3, "")) == "Queued #3"
    assert status_text(JobEvent("j", "running", "rendering", None, "")) == "Rendering audio and sheet music..."
