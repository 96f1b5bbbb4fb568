"""A warm pool: tunes composed while the workers are idle, for the most requested plain request.

    queue = WarmPool(engine, settings)   # settings.warm_pool tunes kept per style (0: make_queue leaves it out)

A plain request is a style with every option at its default (`/compose style:jig`). When one comes and
the pool holds a tune of that style, the job is done at once with that tune (it is taken out: never
posted twice) and the pool refills in the background. Anything else (a seed, a key, a length...) goes
to the engine as before. The pool fills only while the engine is idle (nothing waiting, a worker
free, no request for QUIET seconds: a refill must not slow down the next user of a burst), one tune
at a time, as the bot's own user (FILL_USER); it keeps `size` tunes for each of the MAX_STYLES styles
asked for most (jig and reel until people ask), in memory only (about 1.3 MB a tune, so at most
MAX_STYLES x size x 1.3 MB, nothing on disk). A tune older than MAX_AGE, or made by
a model version other than the newest one seen, is thrown away.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any

from bot.engine.base import EngineWrapper, Order
from bot.engine.job import DONE, RUNNING, STARTING, Job, JobError
from bot.requests import DEFAULT_LENGTH, ComposeRequest

log = logging.getLogger("tunesmith.warm_pool")

FILL_USER = 0  # the bot itself
MAX_STYLES = 3
MAX_AGE = 3600.0  # seconds
SEED_STYLES = ("jig", "reel")  # filled first on a fresh bot, until real requests say otherwise
IDLE_CHECK = 1.0  # seconds between looks at the engine when there is nothing to do
QUIET = 2.0  # seconds after the last request before the pool fills: it never competes with a burst of users


def plain_style(request: Any) -> str | None:
    """The style of a plain request (every option at its default), else None."""
    if isinstance(request, ComposeRequest) and request == ComposeRequest(style=request.style, length=DEFAULT_LENGTH):
        return request.style
    return None


class WarmPool(EngineWrapper):
    """The engine's interface, with plain requests answered from the pool when it can."""

    def __init__(self, queue, settings, *, size: int | None = None):
        super().__init__(queue)
        self.size = settings.warm_pool if size is None else size
        self._ready: dict[str, collections.deque] = collections.defaultdict(collections.deque)  # (artifacts, made_at)
        self._asked: collections.Counter[str] = collections.Counter({s: 0.5 for s in SEED_STYLES})
        self._versions: dict[str, str] = {}  # model kind -> newest model_version seen
        self._wake = asyncio.Event()
        self._last_request = -QUIET  # time.monotonic() of the last request of any kind
        self._filler: asyncio.Task | None = None
        self.hits = self.misses = 0

    # ---- cancel, queued, running, worker_pids: forwarded by EngineWrapper (bot/engine/base.py) --------

    def ready(self, style: str) -> int:
        return len(self._ready.get(style, ()))

    async def start(self) -> None:
        await self._queue.start()
        self._filler = asyncio.create_task(self._fill_loop(), name="tunesmith-warm-pool")

    async def close(self, grace: float | None = None) -> dict[str, int]:
        if self._filler is not None:
            self._filler.cancel()
        self._ready.clear()
        return await self._queue.close(grace)

    async def submit(self, order: Order) -> Job:
        self._last_request = time.monotonic()
        style = plain_style(order.request)
        if style is not None:
            self._asked[style] += 1
            artifacts = self._take(style)
            self._wake.set()
            if artifacts is not None:
                self.hits += 1
                return self._done_at_once(order, artifacts)
            self.misses += 1
        return await self._queue.submit(order)

    def _take(self, style: str):
        ready = self._ready.get(style)
        while ready:
            artifacts, made_at = ready.popleft()
            if time.monotonic() - made_at <= MAX_AGE and self._current(artifacts):
                return artifacts
        return None

    def _current(self, artifacts) -> bool:
        return self._versions.get(artifacts.facts.model) in (None, artifacts.facts.model_version)

    @staticmethod
    def _done_at_once(order: Order, artifacts) -> Job:
        job = Job(order)
        job.start_delivering()
        job.started_at = time.time()
        job.state, job.stage = RUNNING, STARTING
        job.emit("starting (a tune from the warm pool)")
        job.finished_at = time.time()
        job.result, job.state, job.stage = artifacts, DONE, "finished"
        job.emit("done")
        job._outcome.set_result(DONE)
        return job

    def add(self, style: str, artifacts) -> None:
        """Keep a freshly made tune; a newer model version throws away what the older one made."""
        kind, version = artifacts.facts.model, artifacts.facts.model_version
        if kind and self._versions.get(kind) != version:
            if kind in self._versions:
                log.info("model %s is now version %s: the warm pool starts over", kind, version)
            self._versions[kind] = version
            for pool in self._ready.values():
                keep = [(a, t) for a, t in pool if self._current(a)]
                pool.clear()
                pool.extend(keep)
        pool = self._ready[style]
        pool.append((artifacts, time.monotonic()))
        while len(pool) > self.size:
            pool.popleft()

    def _wanted(self) -> str | None:
        """The style to fill next: the most asked-for among the top MAX_STYLES that is short."""
        for style, _ in self._asked.most_common(MAX_STYLES):
            if self.ready(style) < self.size:
                return style
        return None

    def _idle(self) -> bool:
        q = self._queue
        quiet = time.monotonic() - self._last_request >= QUIET
        return quiet and q.queued == 0 and q.running < max(1, int(getattr(q, "workers", 1)))

    async def _fill_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), IDLE_CHECK)
            except TimeoutError:
                pass
            self._wake.clear()
            style = self._wanted()
            if style is None or not self._idle():
                continue
            try:
                job = await self._queue.submit(Order(FILL_USER, ComposeRequest(style=style, length=DEFAULT_LENGTH)))
            except JobError:  # busy or shutting down: later
                continue
            except Exception:
                log.exception("warm pool: could not submit")
                continue
            await job.wait()
            if job.state == DONE:
                self.add(style, job.result)
            else:
                log.info("warm pool: a %s tune failed (%s)", style, job.error)
                await asyncio.sleep(IDLE_CHECK)
            self._wake.set()  # more to fill?
