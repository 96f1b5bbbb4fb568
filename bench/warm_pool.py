"""`/compose` answered from the warm pool vs composed, through the fake Discord, in one run.

    python bench/warm_pool.py [--rounds 5]

The real bot, the real in-process engine (2 workers, model, renderer) with the warm pool on
(TUNESMITH_WARM_POOL=2). Each round: a plain `/compose style:jig` when the pool is full (a hit), then
`/compose style:jig seed:N` (a miss: composed as before); the time from the interaction to the files
posted is printed for both (goals: hit p50 <= 0.25 s, miss p50 <= 0.6 s; the miss is a whole 32-bar
jig, ~0.5 CPU-s, so it depends on how free the cores are: the load average is printed).
"""

from __future__ import annotations

import sys
from pathlib import Path

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
from bot.engine.choose import make_queue  # noqa: E402
from bot.store import Store  # noqa: E402
from tests.fake_discord import FakeDiscord, answered, posted, running_bot  # noqa: E402


async def time_to_post(fake: FakeDiscord, user, **options) -> float:
    rec = await fake.slash("compose", user=user, **options)
    await fake.wait_for(lambda: answered(fake, rec), 300, "the tune")
    if not posted(fake, rec):
        raise RuntimeError(f"request failed: {rec.texts()}")
    return next(e["at"] for e in rec.edits if e.get("files")) - rec.sent_at  # the response became the post


async def main(args) -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), workers=2, warm_pool=2, queue_cap=100, per_user_queued=10)
        store = await Store.open(Path(tmp) / "t.sqlite3")
        queue = make_queue(settings)
        await queue.start()
        try:
            async with FakeDiscord() as fake:
                with fake.patched():
                    bot_settings = Settings(**{**settings.__dict__, "discord_token": fake.token})
                    async with running_bot(fake, bot_settings, store, queue):
                        hits, misses = [], []
                        for r in range(args.rounds):
                            deadline = time.monotonic() + 120
                            while queue.ready("jig") < 1 and time.monotonic() < deadline:
                                await asyncio.sleep(0.05)
                            before = queue.hits
                            hits.append(await time_to_post(fake, fake.user(r), style="jig"))
                            assert queue.hits == before + 1, "not answered from the pool"
                            misses.append(await time_to_post(fake, fake.user(100 + r), style="jig", seed=r + 1))
        finally:
            await queue.close(0)
            await store.close()
    print(f"warm pool, /compose style:jig -> files posted ({args.rounds} rounds, load {os.getloadavg()[0]:.1f}):")
    print(f"  from the pool  p50 {statistics.median(hits):.3f} s  max {max(hits):.3f} s   (goal p50 <= 0.25 s)")
    print(f"  composed       p50 {statistics.median(misses):.3f} s  max {max(misses):.3f} s   (goal p50 <= 0.6 s)")
    print(f"  ratio {statistics.median(misses) / statistics.median(hits):.0f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
