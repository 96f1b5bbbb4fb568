"""Latency of the Discord front end, through the fake Discord (tests/fake_discord.py), side by side for
several worker counts (default: one per core, Tunesmith's default (one per two cores) and 1).

With the real job queue, worker processes, model and renderer, for each worker count:
  1 user, one request after another:
    defer          interaction -> deferred answer (Discord drops an interaction not answered in 3 s)
    files          interaction -> the message carrying the MP3/ABC/MIDI/PNG (goal: p50 <= 0.7 s, 32-bar jig)
    score          a star click -> the post's embed shows the new score (goal: <= 2 s)
  10 users at once (repeated --rounds times):
    first result   interaction -> files, for the first of the 10 to be served (goal: <= 1.5 s)
    files p50/p95  the same for all 10
The numbers are noisy: other work on the machine shares the cores (the load average is printed).
It runs against whichever code is on PYTHONPATH, so it can measure an older checkout too (it finds the
files in the edited original response, or in a followup as older code posted them).

    python bench/discord.py [--rounds 5] [--length 32] [--style jig] [--workers 2,1]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is called discord.py: keep its folder off sys.path so `import discord` finds discord.py.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after PYTHONPATH: an older checkout on PYTHONPATH wins

import argparse  # noqa: E402
import asyncio  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from bot.config import Settings, load_settings  # noqa: E402
from bot.discord.app import make_bot  # noqa: E402
from bot.engine.local import JobQueue  # noqa: E402
from bot.store import Store  # noqa: E402
from tests.fake_discord import FakeDiscord, buttons, field  # noqa: E402


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def job_runs(db: Path, since: float) -> list[float]:
    """Running time (s) of the jobs done since `since` (wall clock): the worker's share of `files`."""
    from bot.store import open_sync

    conn = open_sync(db)
    try:
        return [
            r[0]
            for r in conn.execute(
                "SELECT finished_at - started_at FROM jobs WHERE status = 'done'"
                " AND created_at >= ? AND started_at IS NOT NULL",
                (since,),
            )
        ]
    finally:
        conn.close()


def files_at(rec) -> float | None:
    """When the files were posted: the edit of the original response that carried them, else the followup."""
    at = [e["at"] for e in rec.edits if e.get("files")] + [f["_at"] for f in rec.followups if f.get("attachments")]
    return min(at) if at else None


def post_of(fake: FakeDiscord, rec) -> dict | None:
    original = fake.messages.get(rec.original_id) if rec.original_id else None
    if original and original.get("attachments"):
        return original
    return next((f for f in rec.followups if f.get("attachments")), None)


async def one(fake: FakeDiscord, user, style: str, length: int) -> tuple[float, float, dict]:
    rec = await fake.slash("compose", user=user, style=style, length=length)
    await fake.wait_for(lambda: files_at(rec) is not None or (rec.callback and rec.ephemeral), 300, "the tune")
    if files_at(rec) is None:
        raise RuntimeError(f"request failed: {rec.texts()}")
    return rec.ack_latency, files_at(rec) - rec.sent_at, post_of(fake, rec)


async def score_latency(fake: FakeDiscord, post: dict, user) -> float | None:
    """Click 4 stars; seconds until the post's embed shows a score (None: the post never shows one)."""
    mid = int(post["id"])
    click = await fake.click(post, buttons(post)["4"], user)
    try:
        await fake.wait_for(lambda: "from 1 vote" in (field(fake.messages[mid], "Score") or ""), 5, "the score")
    except AssertionError:
        return None
    edits = fake.messages[mid].get("_edits") or []
    return (edits[-1]["at"] if edits else time.monotonic()) - click.sent_at


async def measure(fake: FakeDiscord, workers: int, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            discord_token=fake.token,
            workers=workers,
            queue_cap=100,
            per_user_running=1,
            per_user_queued=args.rounds,
        )
        store = await Store.open(Path(tmp) / "bench.sqlite3")
        queue = JobQueue(settings)
        await queue.start()
        bot = make_bot(settings, store, queue, guild_ready_timeout=0.05)
        task = asyncio.create_task(bot.start(fake.token))
        await asyncio.wait_for(bot.wait_until_ready(), 30)
        try:
            t0 = time.monotonic()  # warm every worker (model + soundfont load once per process)
            await asyncio.gather(*(one(fake, fake.user(900 + i), args.style, 8) for i in range(workers)))
            warm = time.monotonic() - t0
            since = time.time()
            single = [await one(fake, fake.user(1), args.style, args.length) for _ in range(args.rounds)]
            runs = job_runs(store.path, since)
            scores = [await score_latency(fake, post, fake.user(500 + i)) for i, (_, _, post) in enumerate(single)]
            firsts, many = [], []
            for _ in range(args.rounds):
                burst = await asyncio.gather(
                    *(one(fake, fake.user(100 + u), args.style, args.length) for u in range(10))
                )
                firsts.append(min(r[1] for r in burst))
                many += burst
        finally:
            await bot.close()
            await task
            await queue.close(0)
            await store.close()
    return {
        "workers": workers,
        "warm": warm,
        "defer": [r[0] for r in single + many],
        "files1": [r[1] for r in single],
        "run1": runs,
        "score": [s for s in scores if s is not None],
        "first10": firsts,
        "files10": [r[1] for r in many],
    }


def row(name: str, values: list[float], unit: str = "s") -> str:
    if not values:
        return f"{name:26} {'n/a':>8}"
    return f"{name:26} {pct(values, 0.5):7.2f}{unit} {pct(values, 0.95):7.2f}{unit}  (n={len(values)})"


async def main(args) -> None:
    logging.basicConfig(level=logging.WARNING)
    results = []
    async with FakeDiscord() as fake:
        with fake.patched():
            for workers in args.workers:
                results.append(await measure(fake, workers, args))
    print(
        f"\n{args.style}, {args.length} bars, {args.rounds} rounds; fake Discord on 127.0.0.1; real queue, "
        f"workers, model, renderer; code from {Path(sys.modules['bot'].__file__).parent.parent}"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work shares them)")
    for r in results:
        print(f"\n{r['workers']} worker(s) (warm-up {r['warm']:.1f} s)       p50      p95")
        print(row("defer", r["defer"]))
        print(row("files, 1 user", r["files1"]))
        print(row("  of which the job ran", r["run1"]))
        print(row("score shown, 1 vote", r["score"]))
        print(row("first result, 10 at once", r["first10"]))
        print(row("files, 10 at once", r["files10"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--length", type=int, default=32)
    parser.add_argument("--style", default="jig")
    parser.add_argument(
        "--workers", default=None, help="comma-separated worker counts (default: one per core, Tunesmith's default, 1)"
    )
    args = parser.parse_args()
    default = load_settings().workers
    choices = {os.cpu_count() or 1, default, 1}
    args.workers = [int(w) for w in args.workers.split(",")] if args.workers else sorted(choices, reverse=True)
    asyncio.run(main(args))
