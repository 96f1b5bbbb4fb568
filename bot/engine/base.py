"""The job engine's interface, written down: the Engine protocol, the Order it takes, shared admission.

    job = await engine.submit(Order(user_id, request, on_progress, guild_id=, channel_id=, parent_id=, max_jobs=))

Every engine (local.JobQueue, broker.CeleryQueue) and every wrapper (warm_pool.WarmPool,
bot/metrics.MeteredQueue) has exactly these members; a wrapper forwards each one by name (no __getattr__),
so a new member is added here first and the type checker and tests/test_engine_interface.py say where
it is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bot.engine.job import SHUTDOWN_MESSAGE, Job, ProgressCallback, ShuttingDownError, busy_error, user_limit_error


@dataclass(frozen=True)
class Order:
    """One job to run: who asked, what (a ComposeRequest / RerenderRequest; tests: any value), where the
    progress events go, where it was asked, which tune it derives from, and the requester's job limit
    (None: the engine's per-user limit; a server may set its own)."""

    user_id: int
    request: Any
    on_progress: ProgressCallback | None = None
    guild_id: int | None = None
    channel_id: int | None = None
    parent_id: str | None = None
    max_jobs: int | None = None


@runtime_checkable
class Engine(Protocol):
    """What the service (bot/tunes.py) and the front end may ask of a job engine."""

    async def start(self) -> None: ...
    async def submit(self, order: Order) -> Job:
        """Queue the job and return it at once; raises the BusyError family (each with `retry_after`)."""

    async def cancel(self, job_id: str, user_id: int | None = None) -> bool:
        """Stop a queued or running job (NotYourJobError for someone else's); False when already over."""

    async def close(self, grace: float | None = None) -> dict[str, int]:
        """Finish what can be finished within `grace` seconds; the count of jobs per final state."""

    @property
    def queued(self) -> int: ...
    @property
    def running(self) -> int: ...
    def worker_pids(self) -> list[int]: ...


class EngineWrapper:
    """The base of an engine wrapped in another (the warm pool, the metrics): the members a wrapper does
    not change are forwarded here, each by name; a wrapper overrides what it adds to."""

    def __init__(self, queue: Engine):
        self._queue = queue

    async def start(self) -> None:
        await self._queue.start()

    async def submit(self, order: Order) -> Job:
        return await self._queue.submit(order)

    async def cancel(self, job_id: str, user_id: int | None = None) -> bool:
        return await self._queue.cancel(job_id, user_id)

    async def close(self, grace: float | None = None) -> dict[str, int]:
        return await self._queue.close(grace)

    @property
    def queued(self) -> int:
        return self._queue.queued

    @property
    def running(self) -> int:
        return self._queue.running

    def worker_pids(self) -> list[int]:
        return self._queue.worker_pids()


def admit(
    order: Order,
    *,
    closing: bool,
    active: Iterable[Job],
    waiting: int,
    per_user: int,
    queue_cap: int,
    user_wait: Callable[[list[Job], int], float],
    queue_wait: Callable[[int], float],
) -> None:
    """The admission rules both engines keep, in order: not while shutting down; at most `order.max_jobs`
    (else `per_user`) unfinished jobs per user; at most `queue_cap` jobs waiting. The engine says how long
    to wait: `user_wait(the user's jobs, limit)`, `queue_wait(how many jobs over the cap)` (0: one must go)."""
    if closing:
        raise ShuttingDownError(SHUTDOWN_MESSAGE, 60.0)
    mine = [j for j in active if j.user_id == order.user_id]
    limit = order.max_jobs or per_user
    if len(mine) >= limit:
        raise user_limit_error(len(mine), limit, user_wait(mine, limit))
    if waiting >= queue_cap:
        raise busy_error(waiting, queue_wait(waiting - queue_cap))
