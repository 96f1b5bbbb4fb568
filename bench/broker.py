"""The broker engine (Celery on Redis, `tunesmith worker` processes) measured in one run, side by side:

1. throughput, 1 worker vs 2 workers, each `tunesmith worker --concurrency 1` (one pool process, torch on
   one thread) pinned to a CPU of its own with its children (sched_setaffinity, as `taskset -c N` would):
   one core's worth of work per worker; on two loads where the CPU is the limit:
   real tunes (compose + render) and a pure-CPU job of 1 CPU-second (the clean ratio);
2. kill -9 of a whole worker (main process and pool) mid-job, and of a pool process: jobs lost or stuck;
3. event-loop lag (p50/p99/max) of the bot's loop with 40 users asking at once, on either engine
   (the in-process JobQueue with 2 worker processes, and the broker engine with 2 workers);
plus the CPU-seconds per tune and the tunes per minute per core that the README's capacity plan uses.

    python bench/broker.py [--tunes 12] [--length 32] [--style jig]

A real redis-server is started on 127.0.0.1 (random port). Other work on the machine takes cores away
and lowers the 2-vs-1 ratio: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.engine.base import Order  # noqa: E402
from bot.engine.broker import CeleryQueue  # noqa: E402
from bot.engine.local import DONE, RUNNING, JobQueue  # noqa: E402
from bot.requests import ComposeRequest  # noqa: E402
from tests.broker import RedisServer, Workers  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else float("nan")


class LoopLag:
    """How late the event loop wakes a 5 ms timer (the lag every other coroutine sees too)."""

    def __init__(self, every: float = 0.005):
        self.every, self.lags, self._task = every, [], None

    async def _run(self):
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(self.every)
            self.lags.append(loop.time() - t - self.every)

    def __enter__(self):
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc):
        self._task.cancel()

    def summary(self) -> str:
        ms = [x * 1000 for x in self.lags]
        return f"p50 {pct(ms, 0.5):5.1f} ms  p99 {pct(ms, 0.99):5.1f} ms  max {max(ms, default=0):6.1f} ms"


def settings(tmp: Path, **changes) -> Settings:
    base = dict(
        data_dir=tmp,
        job_timeout=120.0,
        per_user_running=1,
        per_user_queued=100,
        queue_cap=1000,
        shutdown_grace=1.0,
        workers=2,
    )
    return Settings(**{**base, **changes})


async def batch(queue, requests: list, users: int | None = None) -> tuple[float, list]:
    """Submit every request at once (user i % users) and wait; returns (seconds, jobs)."""
    users = users or len(requests)
    started = time.perf_counter()
    jobs = [await queue.submit(Order(1000 + i % users, r)) for i, r in enumerate(requests)]
    await asyncio.wait_for(asyncio.gather(*(j.wait() for j in jobs)), 900)
    return time.perf_counter() - started, jobs


async def throughput(
    redis_url: str, tmp: Path, n_workers: int, requests: list, warm: list, function: str | None
) -> tuple[float, float]:
    """Jobs per minute and the CPU-seconds the workers used per job."""
    names = [f"tp{n_workers}-{i}" for i in range(n_workers)]
    cpus = {name: i % os.cpu_count() for i, name in enumerate(names)}  # worker i (pool + sheet child) on CPU i
    with Workers(redis_url, names, function=function, log_dir=tmp, cpus=cpus) as ws:
        ws.wait_ready()
        q = CeleryQueue(settings(tmp, broker_url=redis_url))
        await q.start()
        try:
            await batch(q, warm * n_workers)  # every pool process loads its models first
            cpu0 = _children_cpu(ws)
            seconds, jobs = await batch(q, requests)
            cpu = _children_cpu(ws) - cpu0
        finally:
            await q.close(0)
    assert all(j.state == DONE for j in jobs), [(j.state, j.error) for j in jobs if j.state != DONE][:3]
    return len(jobs) / seconds * 60, cpu / len(jobs)


def _children_cpu(ws: Workers) -> float:
    """CPU-seconds of every process in the workers' process groups (pool processes and sheet children)."""
    total = 0.0
    pgids = {p.pid for p in ws.procs.values() if p.poll() is None}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[2]) in pgids:  # field 5: pgrp
            total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return total


async def kill_test(redis_url: str, tmp: Path, requests: list, warm: list) -> str:
    names = ["k1", "k2"]
    with Workers(redis_url, names, log_dir=tmp) as ws:
        ws.wait_ready()
        q = CeleryQueue(settings(tmp, broker_url=redis_url))
        await q.start()
        try:
            await batch(q, warm * 2)
            jobs = [await q.submit(Order(2000 + i, r)) for i, r in enumerate(requests)]
            deadline = time.monotonic() + 60
            while not any(j.state == RUNNING and j.pid for j in jobs) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            child = next(j for j in jobs if j.state == RUNNING and j.pid)
            os.kill(child.pid, 9)  # a pool process
            print(f"    killed pool process {child.pid} of {child.node} running job {child.id}", flush=True)
            await asyncio.sleep(1.0)
            whole = next((j for j in jobs if j.state == RUNNING and j.node and j is not child), None)
            lost_node = whole.node if whole is not None else "-"
            if whole is not None:
                ws.kill_whole(whole.node)  # a whole worker: main process and pool
            done, pending = await asyncio.wait([asyncio.ensure_future(j.wait()) for j in jobs], timeout=300)
        finally:
            await q.close(0)
    for j in jobs:
        print(f"    job {j.id}: {j.state} attempts {j.attempts} last node {j.node}", flush=True)
    states = [j.state for j in jobs]
    lost = sum(s != DONE for s in states)
    return (
        f"{len(jobs)} jobs; killed a pool process (job {child.id}) and the whole worker {lost_node} (job {whole.id if whole else '-'}): "
        f"{states.count(DONE)} done, {lost} lost or failed, {len(pending)} stuck; "
        f"re-sent: {sum(j.attempts > 1 for j in jobs)}"
    )


async def lag_test(engine: str, redis_url: str, tmp: Path, requests: list, warm: list) -> str:
    if engine == "in-process":
        q, ws = JobQueue(settings(tmp)), None
    else:
        ws = Workers(redis_url, ["lag1", "lag2"], log_dir=tmp).__enter__()
        ws.wait_ready()
        q = CeleryQueue(settings(tmp, broker_url=redis_url))
    await q.start()
    try:
        await batch(q, warm * 2)

        async def noop(event):  # a front end's progress callback
            pass

        with LoopLag() as lag:
            started = time.perf_counter()
            jobs = [await q.submit(Order(3000 + i, r, noop)) for i, r in enumerate(requests)]
            await asyncio.wait_for(asyncio.gather(*(j.wait() for j in jobs)), 900)
            seconds = time.perf_counter() - started
    finally:
        await q.close(0)
        if ws is not None:
            ws.__exit__(None, None, None)
    ok = sum(j.state == DONE for j in jobs)
    latency = [j.finished_at - j.created_at for j in jobs]
    return (
        f"{engine:>10}: {len(jobs)} users at once, {ok} done in {seconds:5.1f} s; loop lag {lag.summary()}; "
        f"latency p50 {statistics.median(latency):.1f} s"
    )


async def main(args) -> None:
    tune = ComposeRequest(style=args.style, length=args.length)
    small = ComposeRequest(style=args.style, length=16)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores; other sessions share them)", flush=True)
    with RedisServer() as redis, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        rows = []
        if args.only == "kill":
            print("kill -9:", await kill_test(redis.url, tmp, [tune] * 10, [small]), flush=True)
            return
        for label, requests, warm, fn in [
            (f"real tunes ({args.style}, {args.length} bars)", [tune] * args.tunes, [small], None),
            ("pure CPU, 1.0 CPU-s each", [("spin", 1.0)] * args.tunes, [("ok", "warm")], "tests.celery_work:work"),
        ]:
            ones, twos = [], []
            for _ in range(args.repeat):  # 1 and 2 workers take turns, so a change of load hits both
                ones.append(await throughput(redis.url, tmp, 1, requests, warm, fn))
                twos.append(await throughput(redis.url, tmp, 2, requests, warm, fn))
            (one, cpu1), (two, cpu2) = (tuple(map(statistics.median, zip(*x))) for x in (ones, twos))
            rows.append((label, one, two, cpu1, cpu2))
            print(
                f"  {label:<34} 1 worker {one:6.1f}/min   2 workers {two:6.1f}/min   ratio {two / one:4.2f}x"
                f"   CPU-s per job {cpu1:.2f} / {cpu2:.2f}   (load {os.getloadavg()[0]:.1f}; "
                f"median of {args.repeat}; ratios {', '.join(f'{t[0] / o[0]:.2f}' for o, t in zip(ones, twos))})",
                flush=True,
            )
        if args.only == "throughput":
            return
        print("kill -9:", await kill_test(redis.url, tmp, [tune] * 10, [small]), flush=True)
        for engine in ("in-process", "broker"):
            print(await lag_test(engine, redis.url, tmp, [small] * 40, [small]), flush=True)
        label, one, two, cpu1, _ = rows[0]
        print(
            f"\ncapacity: one worker process (~1 core) made {one:.0f} tunes/min of {label} at {cpu1:.2f} "
            f"CPU-s each (incl. sheet child); load average at the end {os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tunes", type=int, default=12)
    parser.add_argument("--length", type=int, default=32)
    parser.add_argument("--style", default="jig")
    parser.add_argument("--only", choices=["kill", "throughput"], default=None, help="run one part")
    parser.add_argument("--repeat", type=int, default=1, help="throughput runs of 1 and 2 workers, taking turns")
    asyncio.run(main(parser.parse_args()))
