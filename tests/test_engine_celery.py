"""The broker engine (bot/engine/broker.py) with a real redis-server and two real `tunesmith worker`
processes (one pool process each) running the small functions of tests/celery_work.py.
tests/test_discord_flow.py runs the real compose through the same engine, end to end."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from bot.config import Settings
from bot.engine.base import Order
from bot.engine.broker import CeleryQueue
from bot.engine.local import CANCELLED, DONE, FAILED, RUNNING, TIMED_OUT, BusyError, NotYourJobError, UserLimitError
from tests.broker import RedisServer, Workers, node, redis_available

pytestmark = pytest.mark.skipif(
    not redis_available(), reason="redis-server is not installed (scripts/install-system-deps)"
)

WORKERS = ["w1", "w2"]


@pytest.fixture(scope="module")
def redis_server():
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def workers(redis_server, tmp_path_factory):
    with Workers(
        redis_server.url, WORKERS, function="tests.celery_work:work", log_dir=tmp_path_factory.mktemp("worker-logs")
    ) as ws:
        ws.wait_ready()
        yield ws


@pytest.fixture
async def make_queue(redis_server, workers, tmp_path):
    queues = []

    async def make(**changes):
        base = dict(
            data_dir=tmp_path,
            broker_url=redis_server.url,
            job_timeout=20.0,
            per_user_running=1,
            per_user_queued=2,
            queue_cap=20,
            shutdown_grace=2.0,
        )
        q = CeleryQueue(Settings(**{**base, **changes}))
        await q.start()
        queues.append(q)
        return q

    yield make
    for q in queues:
        await q.close(0)


class Recorder:
    def __init__(self):
        self.events = []

    async def __call__(self, event):
        self.events.append(event)


async def until(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_jobs_run_on_both_workers_and_come_back_whole(make_queue):
    q = await make_queue()
    assert q.worker_nodes() == [node(n) for n in WORKERS] and len(q.worker_pids()) == 2
    recorders = [Recorder() for _ in range(6)]
    jobs, positions = [], []
    for user in range(6):
        jobs.append(await q.submit(Order(user, ("sleep", 0.3) if user < 4 else ("ok", f"t{user}"), recorders[user])))
        positions.append(jobs[-1].position)  # its place in line when asked (None: already started)
    assert all(p is None or 1 <= p <= i + 1 for i, p in enumerate(positions)) and any(p for p in positions[2:])
    await asyncio.wait_for(asyncio.gather(*(j.wait() for j in jobs)), 30)
    assert all(j.state == DONE for j in jobs), [(j.state, j.error) for j in jobs]
    assert len({j.result.facts.seed for j in jobs}) == 2  # both workers took jobs
    assert jobs[5].result.files["tune.mp3"] == bytes(range(256)) * 4 and jobs[5].result.text.startswith("X:1")
    stages = [e.stage for e in recorders[5].events]
    assert stages[0] == "queued" and stages[-1] == "finished" and "composing" in stages and "rendering" in stages
    for j in jobs:
        await j.events_delivered()
    assert q.queued == 0 and q.running == 0


async def test_per_user_limits_and_queue_cap(make_queue):
    q = await make_queue(queue_cap=3)
    # the first runs long enough that it is still running when the cap is tested, on a busy machine too
    mine = [await q.submit(Order(1, ("sleep", s))) for s in (3, 0.5, 0.5)]
    with pytest.raises(UserLimitError):
        await q.submit(Order(1, ("ok", "x")))
    await until(lambda: mine[0].state == RUNNING, what="the first job to start")
    assert q.queued == 2  # user 1's second and third wait in the bot: one running job per user
    await q.submit(Order(2, ("sleep", 0.5)))
    with pytest.raises(BusyError, match="busy"):  # 3 waiting: the cap
        await q.submit(Order(3, ("ok", "x")))
    await asyncio.wait_for(asyncio.gather(*(j.wait() for j in mine)), 30)
    spans = sorted((j.started_at, j.finished_at) for j in mine)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # one running job per user at a time
    assert all(j.state == DONE for j in mine)


async def test_users_fault_and_our_fault(make_queue):
    q = await make_queue()
    bad, bug = await q.submit(Order(1, ("bad", "that key is not a key"))), await q.submit(Order(2, ("bug", "boom")))
    await asyncio.wait_for(asyncio.gather(bad.wait(), bug.wait()), 20)
    assert bad.state == FAILED and bad.error == "that key is not a key"
    assert bug.state == FAILED and "RuntimeError" in bug.error and "boom" not in bug.error


async def test_cancel_queued_and_running(make_queue):
    q = await make_queue()
    running = await q.submit(Order(1, ("sleep", 30)))
    await until(lambda: running.state == RUNNING, what="the job to start")
    with pytest.raises(NotYourJobError):
        await q.cancel(running.id, user_id=2)
    queued = await q.submit(Order(1, ("ok", "x")))
    assert await q.cancel(queued.id, user_id=1) and queued.state == CANCELLED
    assert await q.cancel(running.id, user_id=1) and running.state == CANCELLED
    after = [await q.submit(Order(u, ("ok", "y"))) for u in (3, 4)]  # the workers serve the next jobs
    await asyncio.wait_for(asyncio.gather(*(j.wait() for j in after)), 30)
    assert [j.state for j in after] == [DONE, DONE]


async def test_timeout(make_queue):
    q = await make_queue(job_timeout=1.5)
    job = await q.submit(Order(1, ("sleep", 30)))
    await asyncio.wait_for(job.wait(), 20)
    assert job.state == TIMED_OUT and "1.5 s" in job.error


async def test_kill_9_of_a_pool_process_runs_the_job_once_more(make_queue):
    q = await make_queue()
    job = await q.submit(Order(1, ("sleep", 2.0)))
    await until(lambda: job.state == RUNNING and job.pid, what="the job to start")
    killed = job.pid
    os.kill(killed, signal.SIGKILL)
    await asyncio.wait_for(job.wait(), 30)
    assert job.state == DONE and job.result.facts.seed != killed and job.attempts == 2  # sent once more


async def test_a_job_that_kills_its_process_twice_is_reported(make_queue):
    q = await make_queue()
    job = await q.submit(Order(1, ("exit", 9)))
    await asyncio.wait_for(job.wait(), 30)
    assert job.state == FAILED and "crashed twice" in job.error
    ok = await q.submit(Order(1, ("ok", "after")))
    await asyncio.wait_for(ok.wait(), 30)
    assert ok.state == DONE


async def test_kill_9_of_a_whole_worker_mid_job_loses_nothing(make_queue, workers):
    """A machine lost: its worker's main process and pool die at once; the job is sent once more and
    the other worker makes it. Jobs waiting behind it are made too; none is lost or stuck."""
    q = await make_queue(job_timeout=30.0)
    jobs = [await q.submit(Order(user, ("sleep", 1.5))) for user in range(4)]
    await until(lambda: sum(j.state == RUNNING and j.node is not None for j in jobs) == 2, what="two jobs running")
    victim = next(j for j in jobs if j.state == RUNNING)
    lost_node = victim.node
    workers.kill_whole(lost_node)
    try:
        await asyncio.wait_for(asyncio.gather(*(j.wait() for j in jobs)), 45)
        assert [j.state for j in jobs] == [DONE] * 4, [(j.state, j.error) for j in jobs]
        assert victim.attempts == 2 and q.worker_nodes() == [node(n) for n in WORKERS if node(n) != lost_node]
    finally:
        name = lost_node.split("@")[-1]
        workers.start(name)
        workers.wait_ready([name])


async def test_no_worker_connected_is_busy(tmp_path):
    with RedisServer() as empty:
        q = CeleryQueue(Settings(data_dir=tmp_path, broker_url=empty.url))
        await q.start()
        try:
            with pytest.raises(BusyError, match="no composer is running"):
                await q.submit(Order(1, ("ok", "x")))
        finally:
            await q.close(0)


async def test_close_fails_what_is_left(make_queue):
    q = await make_queue()
    job = await q.submit(Order(1, ("sleep", 30)))
    await until(lambda: job.state == RUNNING, what="the job to start")
    counts = await q.close(0.2)
    assert job.state == FAILED and "shutting down" in job.error and counts[FAILED] == 1


def test_doctor_sees_the_broker_and_its_workers(redis_server, workers, tmp_path):
    from bot.doctor import check_broker

    found = check_broker(Settings(data_dir=tmp_path, broker_url=redis_server.url))
    assert found.status == "ok" and "2 worker(s)" in found.detail and "celery@w1" in found.detail
    assert check_broker(Settings(data_dir=tmp_path)).status == "ok"  # no broker: the default
    with RedisServer() as empty:
        assert check_broker(Settings(data_dir=tmp_path, broker_url=empty.url)).status == "warn"
        port = empty.port
    gone = check_broker(Settings(data_dir=tmp_path, broker_url=f"redis://:pw@127.0.0.1:{port}/0"))
    assert gone.status == "fail" and "pw" not in gone.detail


async def test_redis_restarting_empty_loses_no_job(tmp_path):
    """Redis comes back without its data (no persistence) while jobs run and wait: the bot notices the
    jobs' keys are gone and sends them again; every job ends, none is stuck."""
    with (
        RedisServer() as server,
        Workers(server.url, ["r1", "r2"], function="tests.celery_work:work", log_dir=tmp_path) as ws,
    ):
        ws.wait_ready()
        q = CeleryQueue(Settings(data_dir=tmp_path, broker_url=server.url, job_timeout=30.0))
        await q.start()
        try:
            jobs = [await q.submit(Order(user, ("sleep", 2.0))) for user in range(3)]
            await until(lambda: sum(j.state == RUNNING for j in jobs) == 2, what="two jobs running")
            await asyncio.to_thread(server.restart)
            await asyncio.wait_for(asyncio.gather(*(j.wait() for j in jobs)), 90)
            assert [j.state for j in jobs] == [DONE] * 3, [(j.state, j.error) for j in jobs]
            assert any(j.attempts == 2 for j in jobs)
        finally:
            await q.close(0)
