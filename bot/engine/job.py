"""What both job engines share (bot/engine/local.py in process, bot/engine/broker.py on a broker): the Job a front
end holds, its progress events, and the refusals (all ValueErrors with text safe to show)."""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.job_state import FINAL_STATES, JobState

log = logging.getLogger("bot.engine.local")

QUEUED, RUNNING, DONE, FAILED, CANCELLED, TIMED_OUT = JobState
STARTING = "starting"  # the stage of a job just handed to a worker
SHUTDOWN_MESSAGE = "the bot is shutting down; please ask again in a minute"


class JobError(ValueError):
    """Base of the queue's refusals; the message is safe to show."""


class BusyError(JobError):
    """The queue is full. `retry_after` is a rough number of seconds until there is room."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class UserLimitError(BusyError):
    """This user already has as many jobs as allowed."""


class ShuttingDownError(BusyError):
    """The bot is stopping and takes no new jobs."""


class NotYourJobError(JobError):
    """Someone tried to cancel a job they did not ask for (or one that does not exist)."""


@dataclass(frozen=True)
class JobEvent:
    """What a front end shows while a job moves along."""

    job_id: str
    state: str  # queued / running / done / failed / cancelled / timed_out
    stage: str  # queued / starting / composing / rendering / finished
    position: int | None  # place in line while queued (1 = next), else None
    message: str  # short text for people


ProgressCallback = Callable[[JobEvent], Awaitable[None]]


class Job:
    """One request on its way through the queue. Read its fields; change nothing."""

    def __init__(self, order):
        """From a bot.engine.base.Order."""
        self.id = secrets.token_urlsafe(6)
        self.user_id = order.user_id
        self.request = order.request
        self.guild_id, self.channel_id, self.parent_id = order.guild_id, order.channel_id, order.parent_id
        self.state = QUEUED
        self.stage = "queued"
        self.position: int | None = None
        self.created_at = time.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.result: Any = None
        self.error: str | None = None
        self.tune_id: str | None = None  # set by the service (bot/tunes.py) once the tune is stored
        self._on_progress = order.on_progress
        self._events: asyncio.Queue[JobEvent | None] = asyncio.Queue()
        self._deliverer: asyncio.Task | None = None
        self._outcome: asyncio.Future = asyncio.get_running_loop().create_future()
        self._proc = None  # the in-process engine: the WorkerProcess running it
        self._kill_reason: str | None = None  # "cancelled" / "shutdown" when we killed its worker

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def seconds(self) -> float | None:
        """Time spent running (None until it finishes)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    async def wait(self) -> Job:
        """Wait until the job reaches a final state (cancelling this wait does not cancel the job)."""
        await asyncio.shield(self._outcome)
        return self

    async def events_delivered(self) -> None:
        """Wait until every progress event has been handed to the callback."""
        if self._deliverer is not None:
            await asyncio.shield(self._deliverer)

    def __repr__(self) -> str:
        return f"<Job {self.id} user={self.user_id} {self.state}>"

    def emit(self, message: str) -> None:
        """Queue an event with the job's current state for the callback (the engines call this)."""
        if self._on_progress is None:
            return
        self._events.put_nowait(
            JobEvent(self.id, self.state, self.stage, self.position if self.state == QUEUED else None, message)
        )
        if self.finished:
            self._events.put_nowait(None)

    def start_delivering(self) -> None:
        if self._on_progress is not None:
            self._deliverer = asyncio.create_task(self._deliver(), name=f"tunesmith-events-{self.id}")

    async def _deliver(self) -> None:
        """Hand events to the callback one at a time, in order; a failing callback is only logged."""
        while (event := await self._events.get()) is not None:
            try:
                await self._on_progress(event)
            except Exception:
                log.exception("progress callback failed for job %s", self.id)


# ---- what both engines say and do the same way ----------------------------------------------------


def user_limit_error(count: int, limit: int, wait: int) -> UserLimitError:
    return UserLimitError(
        f"you already have {count} tune{'s' if count != 1 else ''} on the way "
        f"(the limit is {limit}); try again in ~{wait} s",
        wait,
    )


def busy_error(waiting: int, wait: int) -> BusyError:
    return BusyError(f"the composer is busy ({waiting} tunes waiting); try again in ~{wait} s", wait)


NOT_YOURS = "only the person who asked for this tune can cancel it"


async def final_counts(jobs: list[Job]) -> dict[str, int]:
    """After a close: let the last events reach the front end (never hanging on a slow callback),
    then count the jobs by final state."""
    deliverers = [j._deliverer for j in jobs if j._deliverer is not None]
    if deliverers:
        await asyncio.wait(deliverers, timeout=5)
    counts = collections.Counter(j.state for j in jobs)
    return {state: counts.get(state, 0) for state in FINAL_STATES}
