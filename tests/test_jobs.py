"""The job engine with real worker processes running small real functions (no model loaded here;
tests/test_worker.py runs the real compose through the queue)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time

import pytest

from bot.artifacts import TuneFacts
from bot.config import Settings
from bot.engine.base import Order
from bot.engine.local import (
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    TIMED_OUT,
    BusyError,
    JobQueue,
    NotYourJobError,
    ShuttingDownError,
    UserLimitError,
)
from bot.store import Store
from bot.tunes import TuneService


@dataclasses.dataclass
class FakeArtifacts:
    text: str
    text_format: str
    facts: TuneFacts
    pid: int


def work(request, progress=None):
    """The injected worker function; `request` says what to do."""
    kind, arg = request
    if progress:
        progress("composing")
    if kind == "ok":
        if progress:
            progress("rendering")
        return FakeArtifacts(
            f"X:1\nT:{arg}\nK:D\nDEF|",
            "abc",
            TuneFacts(style="jig", model="abc", model_version="test", seed=1),
            os.getpid(),
        )
    if kind == "sleep":  # a long job (the test cancels, times out or shuts it down)
        time.sleep(arg)
        return FakeArtifacts("X:1\nK:D\nA|", "abc", TuneFacts(model="abc", model_version="test"), os.getpid())
    if kind == "exit":
        os._exit(arg)
    if kind == "signal":  # e.g. SIGSEGV, as a crashing C library would
        os.kill(os.getpid(), arg)
    if kind == "bad":
        raise ValueError(arg)
    if kind == "bug":
        raise RuntimeError(arg)
    raise AssertionError(kind)


def settings(tmp_path, **changes) -> Settings:
    base = dict(
        data_dir=tmp_path,
        workers=2,
        job_timeout=30.0,
        per_user_running=1,
        per_user_queued=2,
        queue_cap=20,
        shutdown_grace=5.0,
    )
    base.update(changes)
    return Settings(**base)


class Recorder:
    """Progress callback that keeps every event and lets a test wait for a stage."""

    def __init__(self):
        self.events = []
        self._changed = asyncio.Event()

    async def __call__(self, event):
        self.events.append(event)
        self._changed.set()

    async def reached(self, stage: str):
        while not any(e.stage == stage for e in self.events):
            self._changed.clear()
            await self._changed.wait()


@pytest.fixture
async def make_queue(tmp_path):
    queues = []

    async def make(**changes):
        q = JobQueue(settings(tmp_path, **changes), worker=work)
        await q.start()
        queues.append(q)
        return q

    yield make
    for q in queues:
        await q.close(grace=0)


async def test_jobs_run_in_worker_processes_with_progress_events(make_queue):
    q = await make_queue()
    rec = Recorder()
    jobs = [await q.submit(Order(user, ("ok", f"t{user}"), rec if user == 1 else None)) for user in (1, 2, 3)]
    assert all(j.position >= 1 for j in jobs) and jobs[0].position == 1
    for job in jobs:
        await job.wait()
        assert job.state == DONE, job.error
        assert job.result.pid in q.worker_pids() and job.result.pid != os.getpid()
    assert jobs[2].result.text.splitlines()[1] == "T:t3"
    await jobs[0].events_delivered()
    stages = [e.stage for e in rec.events]
    assert stages == ["queued", "starting", "composing", "rendering", "finished"]
    assert rec.events[0].position == 1 and rec.events[-1].state == DONE


async def test_a_crashing_worker_fails_only_its_job_and_the_next_job_succeeds(make_queue):
    q = await make_queue(workers=2)
    long_rec = Recorder()
    long = await q.submit(Order(1, ("sleep", 1.5), long_rec))
    await long_rec.reached("composing")
    crash = await q.submit(Order(2, ("exit", 3)))
    await crash.wait()
    assert crash.state == FAILED and "crashed" in crash.error and "3" in crash.error
    segv = await q.submit(Order(4, ("signal", signal.SIGSEGV)))
    await segv.wait()
    assert segv.state == FAILED and "crashed (exit code -11)" in segv.error
    after = await q.submit(Order(3, ("ok", "after")))
    await after.wait()
    await long.wait()
    assert long.state == DONE and after.state == DONE
    assert after.result.pid != long.result.pid  # the crashed slot got a new process
    assert len(q.worker_pids()) == 2


async def test_a_job_over_the_timeout_is_stopped_and_the_slot_recovers(make_queue):
    q = await make_queue(workers=1, job_timeout=1.0)
    first_worker = q.worker_pids()
    slow = await q.submit(Order(1, ("sleep", 60)))
    nxt = await q.submit(Order(2, ("ok", "next")))
    await slow.wait()
    assert slow.state == TIMED_OUT and "longer than 1 s" in slow.error
    await nxt.wait()
    assert nxt.state == DONE
    assert nxt.result.pid not in first_worker  # the sleeping worker was killed and replaced, not waited for


async def test_bad_input_in_the_worker_is_shown_and_bugs_are_hidden(make_queue):
    q = await make_queue()
    bad = await q.submit(Order(1, ("bad", "key 'H' is not known")))
    bug = await q.submit(Order(2, ("bug", "secret internals")))
    await bad.wait()
    await bug.wait()
    assert bad.state == FAILED and bad.error == "key 'H' is not known"
    assert bug.state == FAILED and "RuntimeError" in bug.error and "secret" not in bug.error
    ok = await q.submit(Order(1, ("ok", "x")))
    assert (await ok.wait()).state == DONE


async def test_per_user_limit_one_running_two_queued(make_queue):
    q = await make_queue(workers=2)
    rec = Recorder()
    first = await q.submit(Order(7, ("sleep", 60), rec))
    second = await q.submit(Order(7, ("ok", "2")))
    third = await q.submit(Order(7, ("ok", "3")))
    await rec.reached("composing")
    assert second.state == QUEUED and third.state == QUEUED  # a free slot, but this user has one running
    with pytest.raises(UserLimitError) as err:
        await q.submit(Order(7, ("ok", "4")))
    assert err.value.retry_after >= 1 and "limit is 3" in str(err.value)
    other = await q.submit(Order(8, ("ok", "other user")))
    assert (await other.wait()).state == DONE
    assert await q.cancel(first.id, 7)
    assert (await second.wait()).state == DONE and (await third.wait()).state == DONE


async def test_queue_cap_answers_busy_with_a_retry_time(make_queue):
    q = await make_queue(workers=1, queue_cap=2)
    rec = Recorder()
    running = await q.submit(Order(1, ("sleep", 60), rec))
    await rec.reached("composing")
    waiting = [await q.submit(Order(user, ("ok", "w"))) for user in (2, 3)]
    with pytest.raises(BusyError) as err:
        await q.submit(Order(4, ("ok", "too many")))
    assert not isinstance(err.value, UserLimitError)
    assert "busy" in str(err.value) and err.value.retry_after >= 1 and f"~{err.value.retry_after} s" in str(err.value)
    assert q.queued == 2
    await q.cancel(running.id)
    assert [(await j.wait()).state for j in waiting] == [DONE, DONE]


async def test_cancel_queued_and_running_jobs_by_the_requester_only(make_queue):
    q = await make_queue(workers=1)
    rec, queued_rec = Recorder(), Recorder()
    running = await q.submit(Order(1, ("sleep", 60), rec))
    queued = await q.submit(Order(2, ("ok", "q"), queued_rec))
    behind = await q.submit(Order(3, ("ok", "behind")))
    await rec.reached("composing")
    with pytest.raises(NotYourJobError):
        await q.cancel(running.id, user_id=2)
    assert await q.cancel(queued.id, user_id=2)
    assert queued.state == CANCELLED and behind.position == 1
    assert await q.cancel(running.id, user_id=1)
    assert running.state == CANCELLED
    assert (await behind.wait()).state == DONE  # the killed slot came back
    assert not await q.cancel(running.id, user_id=1)  # already finished
    await queued.events_delivered()
    stages = [e.stage for e in queued_rec.events]
    assert set(stages[:-1]) == {"queued"} and stages[-1] == "finished"  # never started
    positions = [e.position for e in queued_rec.events[:-1]]
    assert positions == sorted(positions, reverse=True) and positions[-1] == 1
    assert queued_rec.events[-1].state == CANCELLED


async def test_graceful_shutdown_finishes_within_the_grace_and_records_the_rest(make_queue, tmp_path):
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        q = await make_queue(workers=1)
        service = TuneService(store, q)  # the service records what the queue does
        rec = Recorder()
        quick = await service.submit(Order(1, ("ok", "quick")))
        stuck = await service.submit(Order(2, ("sleep", 60), rec))
        waiting = await service.submit(Order(3, ("ok", "waiting")))
        await rec.reached("composing")
        counts = await service.close(grace=0.2)
        assert quick.state == DONE
        assert stuck.state == FAILED and "shutting down" in stuck.error
        assert waiting.state == FAILED and "shutting down" in waiting.error
        assert counts == {"done": 0, "failed": 2, "cancelled": 0, "timed_out": 0}  # quick was done before close
        with pytest.raises(ShuttingDownError):
            await q.submit(Order(4, ("ok", "late")))
        assert q.worker_pids() == []
        assert (await store.get_job(stuck.id)).status == "failed"
        assert "shutting down" in (await store.get_job(waiting.id)).error
        record = await store.get_job(quick.id)
        assert record.status == "done" and record.tune_id == quick.tune_id
        assert (await store.get_tune(quick.tune_id)).text.startswith("X:1\nT:quick")
    finally:
        await store.close()


async def test_shutdown_lets_running_jobs_finish_within_the_grace(make_queue):
    q = await make_queue(workers=1)
    rec = Recorder()
    job = await q.submit(Order(1, ("sleep", 0.5), rec))
    await rec.reached("composing")
    counts = await q.close(grace=30)
    assert job.state == DONE and counts["done"] == 1


async def test_the_store_records_jobs_and_a_restart_reports_unfinished_ones(make_queue, tmp_path):
    path = tmp_path / "db.sqlite3"
    store = await Store.open(path)
    await store.job_created("old-job", request={"style": "jig"}, user_id=5)
    await store.job_started("old-job")
    q = await make_queue()
    service = TuneService(store, q)
    await service.start()
    assert [j.id for j in service.interrupted_jobs] == ["old-job"] and service.interrupted_jobs[0].user_id == 5
    assert (await store.get_job("old-job")).status == "failed"
    bad = await service.submit(Order(1, ("bad", "length 999 is out of range")))
    await service.settled(bad)
    record = await store.get_job(bad.id)
    assert record.status == "failed" and record.error == "length 999 is out of range"
    assert record.started_at <= record.finished_at
    await q.close(grace=0)
    await store.close()


async def test_a_guild_limit_overrides_the_per_user_limit(make_queue):
    q = await make_queue(workers=1)
    rec = Recorder()
    first = await q.submit(Order(9, ("sleep", 60), rec, max_jobs=1))
    with pytest.raises(UserLimitError, match="limit is 1"):
        await q.submit(Order(9, ("ok", "second"), max_jobs=1))
    await rec.reached("composing")
    assert await q.cancel(first.id, 9) and first.state == CANCELLED
    assert (await (await q.submit(Order(9, ("ok", "now"), max_jobs=1))).wait()).state == DONE


async def test_close_twice_and_close_before_start_are_harmless(tmp_path):
    q = JobQueue(settings(tmp_path), worker=work)
    assert await q.close() == {"done": 0, "failed": 0, "cancelled": 0, "timed_out": 0}
    q = JobQueue(settings(tmp_path, workers=1), worker=work)
    await q.start()
    pid = q.worker_pids()[0]
    await q.close(grace=1)
    await q.close(grace=1)
    assert q.worker_pids() == [] and not os.path.exists(f"/proc/{pid}/status")


async def test_queue_cap_counts_only_jobs_that_really_wait(make_queue):
    """Issue 14: with a cap of 2 and one worker, three jobs sent at once all fit (the first goes straight to
    the idle worker); before, the first still counted as waiting when the third came and it was refused."""
    q = await make_queue(workers=1, queue_cap=2)
    jobs = [await q.submit(Order(user, ("ok", str(user)))) for user in (1, 2, 3)]  # no await lets the slot wake up
    with pytest.raises(BusyError):
        await q.submit(Order(4, ("ok", "4")))  # now two really wait behind the one starting
    assert [(await j.wait()).state for j in jobs] == [DONE, DONE, DONE]


async def test_try_again_counts_the_users_own_place_in_line(make_queue):
    """Issue 14: someone whose tune still waits behind another person's is told to come back after their
    own tune is done (the other job's rest plus theirs), not after one average job."""
    q = await make_queue(workers=1, per_user_running=1, per_user_queued=0)
    rec = Recorder()
    other = await q.submit(Order(1, ("sleep", 60), rec))
    await rec.reached("composing")
    mine = await q.submit(Order(2, ("ok", "mine")))
    with pytest.raises(UserLimitError) as err:
        await q.submit(Order(2, ("ok", "again")))
    avg = q.average_seconds()
    forecast = q.forecast()
    assert forecast[mine.id][0] == pytest.approx(forecast[other.id][1])  # mine starts when the other ends
    assert err.value.retry_after >= 1.5 * avg  # ~2 jobs' time, not the ~1 job the old estimate gave
    assert q.retry_after(2) == pytest.approx(forecast[mine.id][1], abs=0.5) and q.retry_after(99) == 0.0
    await q.cancel(other.id)
    assert (await mine.wait()).state == DONE
