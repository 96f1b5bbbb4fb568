"""The job engine: an asyncio queue in front of worker processes. The event loop never composes.

    queue = JobQueue(settings)                       # worker defaults to bot.worker.compose
    await queue.start()
    job = await queue.submit(Order(user_id, request, on_progress))   # BusyError / UserLimitError / ShuttingDownError
    job.id, job.position                             # at once: the id and place in line (1 = next)
    await job.wait()                                 # job.state: done / failed / cancelled / timed_out
    job.result (bot.artifacts.Artifacts), job.error (text safe to show)
    await queue.cancel(job.id, user_id)              # only the requester may cancel
    queue.forecast(), queue.retry_after(user_id)     # when jobs should start and finish (the busy replies)
    await queue.close()                              # stop taking jobs, finish or fail within the grace

Each worker slot owns one process (spawned, so no locks are inherited from the event loop's threads)
and one pipe. Owning the process, instead of sharing a ProcessPoolExecutor, is what lets a crash,
a timeout or a cancel kill exactly one job: a pool breaks every job in flight when one worker dies.
The worker function is any picklable top-level `func(request, progress) -> result`; `progress(stage)`
sends "composing" / "rendering" events back. A ValueError raised in it is the user's fault and its
text is shown; any other exception is logged and reported as an internal error.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import math
import multiprocessing
import time
from collections.abc import Callable
from typing import Any

from bot.config import Settings
from bot.engine.base import Order, admit
from bot.engine.job import (  # re-exported: the engine's interface
    CANCELLED,
    DONE,
    FAILED,
    NOT_YOURS,
    QUEUED,
    RUNNING,
    SHUTDOWN_MESSAGE,
    STARTING,
    TIMED_OUT,
    BusyError,
    Job,
    JobError,
    JobEvent,
    NotYourJobError,
    ProgressCallback,
    ShuttingDownError,
    UserLimitError,
    final_counts,
)
from bot.engine.pool import Crashed, Done, Exited, Failed, Progress, WorkerProcess
from bot.job_state import FINAL_STATES

log = logging.getLogger(__name__)
__all__ = [
    "JobQueue",
    "QUEUED",
    "RUNNING",
    "DONE",
    "FAILED",
    "CANCELLED",
    "TIMED_OUT",
    "STARTING",
    "SHUTDOWN_MESSAGE",
    "JobError",
    "BusyError",
    "UserLimitError",
    "ShuttingDownError",
    "NotYourJobError",
    "JobEvent",
    "ProgressCallback",
    "Job",
]

# ---- the queue -----------------------------------------------------------------------------------


def _default_worker(settings: Settings):
    from bot import worker

    return worker.compose, functools.partial(worker.warm_up, settings=settings)


class JobQueue:
    """See the module docstring. One per bot process; start() before submit()."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        worker: Callable | None = None,
        initializer: Callable | None = None,
        workers: int | None = None,
        start_method: str = "spawn",
    ):
        self.settings = settings
        if worker is None:
            worker, default_init = _default_worker(self.settings)
            initializer = initializer or default_init
        self.worker, self.initializer = worker, initializer
        self.workers = workers or self.settings.workers
        self.timeout = float(self.settings.job_timeout)
        self._ctx = multiprocessing.get_context(start_method)
        self._procs: list[WorkerProcess | None] = [None] * self.workers
        self._slots: list[asyncio.Task] = []
        self._pending: collections.deque[Job] = collections.deque()
        self._active: dict[str, Job] = {}  # every unfinished job, queued or running
        self._running_by_user: collections.Counter[int] = collections.Counter()
        self._durations: collections.deque[float] = collections.deque(maxlen=20)
        self._wake: asyncio.Condition | None = None
        self._closing = False  # no new jobs
        self._stopped = False  # slots leave

    # -- life cycle --

    async def start(self) -> None:
        """Start the worker processes (they warm up in the background)."""
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Condition()
        for i in range(self.workers):
            self._procs[i] = self._spawn(loop, i)
            self._slots.append(asyncio.create_task(self._slot_loop(i), name=f"tunesmith-slot-{i}"))

    def _spawn(self, loop, index: int) -> WorkerProcess:
        return WorkerProcess(self._ctx, self.worker, self.initializer, loop, f"tunesmith-worker-{index}")

    async def close(self, grace: float | None = None) -> dict[str, int]:
        """Stop taking jobs; let queued and running jobs finish for up to `grace` seconds
        (default settings.shutdown_grace), then fail the rest. Returns counts by final state."""
        grace = self.settings.shutdown_grace if grace is None else grace
        self._closing = True
        if self._wake is None or self._stopped:  # never started, or closed already
            return {state: 0 for state in FINAL_STATES}
        left = list(self._active.values())
        if left:
            await asyncio.wait([j._outcome for j in left], timeout=grace)
        message = SHUTDOWN_MESSAGE
        doomed = list(self._pending)
        self._pending.clear()
        for job in list(self._active.values()):
            if job.state == RUNNING:
                job._kill_reason = "shutdown"
                if job._proc is not None:
                    job._proc.kill()
        for job in doomed:
            await self._finish(job, FAILED, error=message)
        if self._active:
            await asyncio.wait([j._outcome for j in self._active.values()], timeout=10)
        self._stopped = True
        async with self._wake:
            self._wake.notify_all()
        if self._slots:
            _, stuck = await asyncio.wait(self._slots, timeout=10)
            for task in stuck:
                task.cancel()
        await asyncio.gather(*(p.stop() for p in self._procs if p is not None), return_exceptions=True)
        return await final_counts(left)

    # -- the front end's calls --

    async def submit(self, order: Order) -> Job:
        """Queue a job and return it at once (job.id, job.position). Raises BusyError subclasses.
        `max_jobs` overrides how many unfinished jobs this user may have (e.g. a guild's setting)."""
        if self._wake is None:
            raise RuntimeError("JobQueue.start() was not awaited")
        waiting = self._waiting()

        def user_wait(mine: list[Job], limit: int) -> int:
            # Room comes when enough of this user's own jobs have finished, wherever they are in line.
            finishes = sorted(self.forecast()[j.id][1] for j in mine)
            return max(1, math.ceil(finishes[len(mine) - limit]))

        def queue_wait(over: int) -> int:
            starts = sorted(self.forecast()[j.id][0] for j in waiting)
            return max(1, math.ceil(starts[over]))

        admit(
            order,
            closing=self._closing,
            active=self._active.values(),
            waiting=len(waiting),
            per_user=self.settings.per_user_running + self.settings.per_user_queued,
            queue_cap=self.settings.queue_cap,
            user_wait=user_wait,
            queue_wait=queue_wait,
        )
        job = Job(order)
        self._active[job.id] = job  # counted against the limits from here on
        job.start_delivering()
        async with self._wake:
            self._pending.append(job)
            job.position = len(self._pending)
            self._emit(job, f"queued, position {job.position}")
            self._wake.notify_all()
        return job

    async def cancel(self, job_id: str, user_id: int | None = None) -> bool:
        """Cancel a queued or running job. Only its requester may (user_id None: the admin/bot).
        Returns False when the job had already finished."""
        job = self._active.get(job_id)
        if job is None:
            return False
        if user_id is not None and user_id != job.user_id:
            raise NotYourJobError(NOT_YOURS)
        if job.state == QUEUED and job in self._pending:
            self._pending.remove(job)
            await self._finish(job, CANCELLED, error="cancelled")
            await self._announce_positions()
        elif job.state == RUNNING:
            job._kill_reason = "cancelled"
            if job._proc is not None:
                job._proc.kill()  # the slot sees the worker exit and finishes the job as cancelled
            await job.wait()  # (if it was not sent to a worker yet, _run kills it on arrival)
        return job.state == CANCELLED

    # -- what it looks like now --

    @property
    def queued(self) -> int:
        return len(self._pending)

    @property
    def running(self) -> int:
        return sum(1 for j in self._active.values() if j.state == RUNNING)

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self._procs if p is not None and p.process.exitcode is None]

    def average_seconds(self) -> float:
        """Mean running time of the last jobs (10 s before any has finished)."""
        return sum(self._durations) / len(self._durations) if self._durations else 10.0

    def _waiting(self) -> list[Job]:
        """Queued jobs that will really wait: not those an idle slot is about to take (still `queued` until
        the slot wakes up)."""
        idle = self.workers - self.running
        running_by_user = collections.Counter(self._running_by_user)
        waiting = []
        for job in self._pending:
            if idle > 0 and running_by_user[job.user_id] < self.settings.per_user_running:
                idle -= 1
                running_by_user[job.user_id] += 1
            else:
                waiting.append(job)
        return waiting

    def forecast(self) -> dict[str, tuple[float, float]]:
        """job id -> (start, finish) in seconds from now for every unfinished job: running ones end after the
        average run (at least 1 s more); queued ones start in line as slots free, per-user limits kept."""
        now, avg = time.time(), self.average_seconds()
        out: dict[str, tuple[float, float]] = {}
        slots: list[float] = []
        user_free: dict[int, list[float]] = collections.defaultdict(list)
        for job in self._active.values():
            if job.state == RUNNING:
                end = max(1.0, avg - (now - (job.started_at or now)))
                out[job.id] = (0.0, end)
                slots.append(end)
                user_free[job.user_id].append(end)
        slots += [0.0] * max(0, self.workers - len(slots))
        for job in self._pending:
            slot = min(range(len(slots)), key=slots.__getitem__)
            start = slots[slot]
            busy = user_free[job.user_id]
            if len(busy) >= self.settings.per_user_running:
                first = min(busy)
                busy.remove(first)
                start = max(start, first)
            out[job.id] = (start, start + avg)
            slots[slot] = start + avg
            busy.append(start + avg)
        return out

    def retry_after(self, user_id: int) -> float:
        """Seconds until this user's first unfinished job is done (0 if they have none)."""
        forecast = self.forecast()
        return min((forecast[j.id][1] for j in self._active.values() if j.user_id == user_id), default=0.0)

    # -- inside --

    def _emit(self, job: Job, message: str) -> None:
        job.emit(message)

    async def _announce_positions(self) -> None:
        for index, job in enumerate(self._pending, start=1):
            if job.position != index:
                job.position = index
                self._emit(job, f"queued, position {index}")

    async def _take(self) -> Job | None:
        """The next job a slot may run: the first in line whose user has a running slot free."""
        async with self._wake:
            while True:
                if self._stopped:
                    return None
                for job in self._pending:
                    if self._running_by_user[job.user_id] < self.settings.per_user_running:
                        self._pending.remove(job)
                        job.state, job.stage, job.position = RUNNING, STARTING, None
                        job.started_at = time.time()
                        self._running_by_user[job.user_id] += 1
                        await self._announce_positions()
                        return job
                await self._wake.wait()

    async def _slot_loop(self, index: int) -> None:
        loop = asyncio.get_running_loop()
        while (job := await self._take()) is not None:
            proc = self._procs[index]
            if proc is None or proc.exited:
                proc = self._procs[index] = self._spawn(loop, index)
            try:
                await self._run(proc, job)
            except Exception as exc:  # a bug here must not stop the slot
                log.exception("slot %d failed running job %s", index, job.id)
                proc.kill()
                proc.exited = True
                if not job.finished:
                    await self._finish(job, FAILED, error=f"internal error ({type(exc).__name__})")

    async def _run(self, proc: WorkerProcess, job: Job) -> None:
        if job._kill_reason:  # cancelled, or shutdown began, between taking the job and starting it
            await self._finish(
                job,
                CANCELLED if job._kill_reason == "cancelled" else FAILED,
                error="cancelled" if job._kill_reason == "cancelled" else SHUTDOWN_MESSAGE,
            )
            return
        job._proc = proc
        self._emit(job, STARTING)
        try:
            proc.send(job.id, job.request)
        except (OSError, ValueError):
            proc.exited = True
            await self._finish(job, FAILED, error="the composer process was not running; please try again")
            return
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                item = await asyncio.wait_for(proc.messages.get(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                proc.kill()
                proc.exited = True  # its reader's "exit" lands in a queue nobody reads; a new one starts
                await self._finish(
                    job,
                    TIMED_OUT,
                    error=f"composing took longer than {self.timeout:g} s and was stopped; try a shorter tune",
                )
                return
            if item.job_id not in (job.id, None):
                continue  # a late reply for an earlier job
            if isinstance(item, Progress):
                job.stage = item.stage
                self._emit(job, item.stage)
            elif isinstance(item, Done):
                await self._finish(job, DONE, result=item.result)
                return
            elif isinstance(item, Failed):
                await self._finish(job, FAILED, error=item.error)
                return
            elif isinstance(item, Crashed):
                log.error("job %s failed in the worker: %s\n%s", job.id, item.error, item.traceback)
                await self._finish(
                    job,
                    FAILED,
                    error=f"something went wrong while composing ({item.error.split(':')[0]}); please try again",
                )
                return
            elif isinstance(item, Exited):
                proc.exited = True
                if job._kill_reason == "cancelled":
                    await self._finish(job, CANCELLED, error="cancelled")
                elif job._kill_reason == "shutdown":
                    await self._finish(job, FAILED, error=SHUTDOWN_MESSAGE)
                else:
                    log.error("worker pid %s died (exit code %s) running job %s", proc.pid, item.code, job.id)
                    await self._finish(
                        job,
                        FAILED,
                        error=f"the composer process crashed (exit code {item.code}) "
                        f"while making this tune; please try again",
                    )
                return

    async def _finish(self, job: Job, state: str, *, result: Any = None, error: str | None = None) -> None:
        if job.finished:
            return
        was_running = job.state == RUNNING
        job._proc = None  # from here on a cancel cannot kill the worker (it may be running the next job)
        job.finished_at = time.time()
        job.result, job.error = result, error
        job.state, job.stage, job.position = state, "finished", None
        self._active.pop(job.id, None)
        if was_running:
            self._running_by_user[job.user_id] -= 1
            if state == DONE:
                self._durations.append(job.finished_at - job.started_at)
        self._emit(job, error or "done")
        job._outcome.set_result(state)
        async with self._wake:
            self._wake.notify_all()
