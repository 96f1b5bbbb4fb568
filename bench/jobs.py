"""Job engine throughput and event-loop health with the real compose (model + rendering).

    python bench/jobs.py [--jobs 20] [--style jig] [--length 32]

Runs the same batch of jobs through a JobQueue with 1 worker and then with 2, and prints jobs per
minute for each and their ratio (goal >= 1.7x on 2 free cores), the event loop's lag while the jobs
run (max and p99; goal p99 <= 50 ms), and the resident memory of the main process and each worker.
Workers are warmed up (models and soundfont loaded) before timing. Other work on the machine (model
training) takes cores away and lowers the ratio: the script prints the load average it saw.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import load_settings  # noqa: E402
from bot.engine.base import Order  # noqa: E402
from bot.engine.local import DONE, JobQueue  # noqa: E402
from bot.requests import from_options  # noqa: E402


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round((len(ordered) - 1) * q / 100)))]


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat): shows how many cores a run used."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def watch_lag(samples: list[float], stop: asyncio.Event, tick: float = 0.01) -> None:
    """How late the loop wakes a 10 ms sleep: the delay any other coroutine would see."""
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(tick)
        samples.append(time.perf_counter() - t - tick)


async def run(workers: int, jobs: int, style: str, length: int) -> dict:
    settings = dataclasses.replace(
        load_settings(), workers=workers, queue_cap=1000, per_user_running=1000, per_user_queued=1000, job_timeout=600
    )
    queue = JobQueue(settings)
    await queue.start()
    try:
        warm = [
            await queue.submit(Order(0, from_options(style=style, length=8, seed=1000 + i))) for i in range(workers)
        ]
        for job in warm:
            await job.wait()
            if job.state != DONE:
                raise SystemExit(f"warm-up job failed: {job.error}")
        idle: list[float] = []  # the same probe with no jobs: what the machine's load alone costs
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_lag(idle, stop))
        await asyncio.sleep(3)
        stop.set()
        await watcher
        lag: list[float] = []
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_lag(lag, stop))
        load_before = os.getloadavg()[0]
        cpu0 = time.process_time()
        busy0 = machine_busy_seconds()
        t0 = time.perf_counter()
        batch = [await queue.submit(Order(1, from_options(style=style, length=length, seed=i))) for i in range(jobs)]
        for job in batch:
            await job.wait()
        elapsed = time.perf_counter() - t0
        cores_busy = (machine_busy_seconds() - busy0) / elapsed
        main_cpu = time.process_time() - cpu0
        stop.set()
        await watcher
        failed = [j.error for j in batch if j.state != DONE]
        return {
            "workers": workers,
            "jobs": jobs,
            "failed": len(failed),
            "first_error": failed[0] if failed else None,
            "seconds": elapsed,
            "jobs_per_min": jobs / elapsed * 60,
            "job_s_p50": percentile([j.seconds for j in batch if j.seconds], 50),
            "lag_max_ms": max(lag) * 1000,
            "lag_p99_ms": percentile(lag, 99) * 1000,
            "idle_lag_max_ms": max(idle) * 1000,
            "idle_lag_p99_ms": percentile(idle, 99) * 1000,
            "main_cpu_s": main_cpu,
            "cores_busy": cores_busy,
            "rss_main_mb": rss_mb(),
            "rss_workers_mb": [rss_mb(p) for p in queue.worker_pids()],
            "load": (load_before, os.getloadavg()[0]),
        }
    finally:
        await queue.close(grace=0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=20)
    p.add_argument("--style", default="jig")
    p.add_argument("--length", type=int, default=32)
    args = p.parse_args()
    results = [asyncio.run(run(w, args.jobs, args.style, args.length)) for w in (1, 2)]
    print(f"{args.jobs} jobs of {args.style} x {args.length} bars, real compose + render, {os.cpu_count()} cores")
    for r in results:
        print(
            f"  {r['workers']} worker{'s' if r['workers'] > 1 else ' '}: {r['jobs_per_min']:6.1f} jobs/min "
            f"({r['seconds']:.1f} s, job p50 {r['job_s_p50']:.2f} s, {r['failed']} failed)  "
            f"loop lag max {r['lag_max_ms']:.1f} ms p99 {r['lag_p99_ms']:.1f} ms "
            f"(idle: max {r['idle_lag_max_ms']:.1f} p99 {r['idle_lag_p99_ms']:.1f})  "
            f"main CPU {r['main_cpu_s']:.2f} s  cores busy {r['cores_busy']:.2f}  "
            f"RSS main {r['rss_main_mb']:.0f} MB, workers {', '.join(f'{m:.0f}' for m in r['rss_workers_mb'])} MB  "
            f"load avg {r['load'][0]:.1f}->{r['load'][1]:.1f}"
        )
        if r["first_error"]:
            print(f"    first error: {r['first_error']}")
    print(
        f"  ratio 2 workers / 1 worker: {results[1]['jobs_per_min'] / results[0]['jobs_per_min']:.2f}x (goal >= 1.7x)"
    )
    print(
        "  (a job draws its sheet music in a child process while the audio renders, so one worker can\n"
        "   already keep more than one core busy: 'cores busy' says how much of the machine a run used)"
    )


if __name__ == "__main__":
    main()
