"""Latency of the Discord front end, through the fake Discord (tests/fake_discord.py), in one run.

For 1 user (requests one after another) and for 10 users at once, with the real job queue, worker
processes, model and renderer:
  interaction -> defer      (Discord drops an interaction not answered in 3 s; goal <= 0.1 s under load)
  interaction -> files      (the followup with the MP3/ABC/MIDI/PNG; goal <= 1.0 s p50 for a 32-bar jig, 1 user)

    python bench/discord.py [--rounds 5] [--length 32] [--style jig]
"""
from __future__ import annotations

import sys
from pathlib import Path

# This file is called discord.py: keep its folder off sys.path so `import discord` finds discord.py.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.discord.app import make_bot  # noqa: E402
from bot.jobs import JobQueue  # noqa: E402
from bot.store import Store  # noqa: E402
from tests.fake_discord import FakeDiscord  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def job_times(db: Path, since: float) -> tuple[list[float], list[float]]:
    """(queue wait + run, run) in seconds of the jobs created since `since` (wall clock)."""
    from bot.store import open_sync
    conn = open_sync(db)
    try:
        rows = conn.execute("SELECT finished_at - created_at, finished_at - started_at FROM jobs"
                            " WHERE status = 'done' AND created_at >= ?", (since,)).fetchall()
    finally:
        conn.close()
    return [r[0] for r in rows], [r[1] for r in rows]


async def one(fake: FakeDiscord, user, style: str, length: int) -> tuple[float, float]:
    rec = await fake.slash("compose", user=user, style=style, length=length)
    await fake.wait_for(lambda: rec.followups or (rec.callback and rec.ephemeral), 300, "the tune")
    if not rec.followups or not rec.followups[0]["attachments"]:
        raise RuntimeError(f"request failed: {rec.texts()}")
    return rec.ack_latency, rec.followups[0]["_at"] - rec.sent_at


async def main(args) -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeDiscord() as fake:
            with fake.patched():
                settings = Settings(data_dir=Path(tmp), discord_token=fake.token, workers=args.workers,
                                    queue_cap=100, per_user_running=1, per_user_queued=args.rounds)
                store = await Store.open(Path(tmp) / "bench.sqlite3")
                queue = JobQueue(settings, store=store)
                await queue.start()
                bot = make_bot(settings, store, queue, guild_ready_timeout=0.05)
                task = asyncio.create_task(bot.start(fake.token))
                await asyncio.wait_for(bot.wait_until_ready(), 30)
                try:
                    t0 = time.monotonic()
                    # Warm every worker (model + soundfont load once per process).
                    await asyncio.gather(*(one(fake, fake.user(900 + i), args.style, 8) for i in range(args.workers)))
                    print(f"warm-up ({args.workers} workers): {time.monotonic() - t0:.1f} s")
                    results, jobs = {}, {}
                    t_single = time.time()
                    single = [await one(fake, fake.user(1), args.style, args.length) for _ in range(args.rounds)]
                    results["1 user"], jobs["1 user"] = single, job_times(store.path, t_single)
                    t_many = time.time()
                    many = []
                    for _ in range(args.rounds):
                        many += await asyncio.gather(*(one(fake, fake.user(100 + u), args.style, args.length)
                                                       for u in range(10)))
                    results["10 users at once"], jobs["10 users at once"] = many, job_times(store.path, t_many)
                finally:
                    await bot.close()
                    await task
                    await queue.close(0)
                    await store.close()
    print(f"\n{args.style}, {args.length} bars, {args.workers} workers, {args.rounds} rounds "
          f"(fake Discord on 127.0.0.1; real queue, workers, model, renderer)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work shares them)")
    print(f"{'':18} {'n':>4} {'defer p50':>10} {'defer p95':>10} {'files p50':>10} {'files p95':>10} "
          f"{'job run p50':>12} {'wait+run p50':>13}")
    for name, rows in results.items():
        acks, files = [r[0] for r in rows], [r[1] for r in rows]
        total, run = jobs[name]
        print(f"{name:18} {len(rows):4d} {pct(acks, .5):9.3f}s {pct(acks, .95):9.3f}s "
              f"{pct(files, .5):9.2f}s {pct(files, .95):9.2f}s {pct(run, .5):11.2f}s {pct(total, .5):12.2f}s")
    print("files - (wait+run) is the front end's own share: posting, uploading, Discord round trips.")
    ratio = statistics.median([r[1] for r in results["10 users at once"]]) / statistics.median([r[1] for r in single])
    print(f"files p50, 10 users / 1 user: {ratio:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--length", type=int, default=32)
    parser.add_argument("--style", default="jig")
    parser.add_argument("--workers", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
