"""The job engine: an asyncio queue in front of worker processes. The event loop never composes.

    queue = JobQueue(settings, store=store)          # worker defaults to bot.worker.compose
    await queue.start()
    job = await queue.submit(user_id, request, on_progress)   # BusyError / UserLimitError / ShuttingDownError
    job.id, job.position                             # at once: the id and place in line (1 = next)
    await job.wait()                                 # job.state: done / failed / cancelled / timed_out
    job.result (worker.Artifacts), job.error (text safe to show), job.tune_id (when a store is given)
    await queue.cancel(job.id, user_id)              # only the requester may cancel
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
import secrets
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from bot.config import Settings, load_settings
from bot.render import scratch

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED, TIMED_OUT = "queued", "running", "done", "failed", "cancelled", "timed_out"
FINAL_STATES = (DONE, FAILED, CANCELLED, TIMED_OUT)
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

    def __init__(self, user_id: int, request: Any, on_progress: ProgressCallback | None,
                 guild_id: int | None, channel_id: int | None, parent_id: str | None):
        self.id = secrets.token_urlsafe(6)
        self.user_id = user_id
        self.request = request
        self.guild_id, self.channel_id, self.parent_id = guild_id, channel_id, parent_id
        self.state = QUEUED
        self.stage = "queued"
        self.position: int | None = None
        self.created_at = time.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.result: Any = None
        self.error: str | None = None
        self.tune_id: str | None = None
        self._on_progress = on_progress
        self._events: asyncio.Queue[JobEvent | None] = asyncio.Queue()
        self._deliverer: asyncio.Task | None = None
        self._outcome: asyncio.Future = asyncio.get_running_loop().create_future()
        self._proc: _WorkerProcess | None = None
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

    async def wait(self) -> "Job":
        """Wait until the job reaches a final state (cancelling this wait does not cancel the job)."""
        await asyncio.shield(self._outcome)
        return self

    async def events_delivered(self) -> None:
        """Wait until every progress event has been handed to the callback."""
        if self._deliverer is not None:
            await asyncio.shield(self._deliverer)

    def __repr__(self) -> str:
        return f"<Job {self.id} user={self.user_id} {self.state}>"


# ---- the worker process side ---------------------------------------------------------------------

def _worker_main(conn, func, initializer) -> None:
    """Loop in a worker process: receive (job_id, request), send progress and one outcome."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's business
    if initializer is not None:
        try:
            initializer()
        except Exception:  # the job will meet the same problem and report it
            traceback.print_exc()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        job_id, request = message

        def progress(stage: str, _job_id=job_id) -> None:
            conn.send(("progress", _job_id, str(stage)))

        try:
            result = func(request, progress=progress)
            conn.send(("done", job_id, result))
        except ValueError as exc:
            conn.send(("failed", job_id, str(exc) or type(exc).__name__))
        except Exception as exc:
            conn.send(("error", job_id, f"{type(exc).__name__}: {exc}", traceback.format_exc()))


class _WorkerProcess:
    """Main-process handle on one worker process: a pipe, and a thread that turns its replies
    into items of an asyncio.Queue (the event loop never blocks on the pipe)."""

    def __init__(self, ctx, func, initializer, loop: asyncio.AbstractEventLoop, name: str):
        self.loop = loop
        self.messages: asyncio.Queue[tuple] = asyncio.Queue()
        parent, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, func, initializer), name=name, daemon=True)
        self.process.start()
        child.close()
        self.conn = parent
        self.exited = False  # set when it died or was killed: the slot starts a new one
        self._reader = threading.Thread(target=self._read, name=name + "-reader", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def _put(self, item: tuple) -> None:
        try:
            self.loop.call_soon_threadsafe(self.messages.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass

    def _read(self) -> None:
        while True:
            try:
                item = self.conn.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # a reply that does not unpickle
                item = ("error", None, f"unreadable reply from the worker: {exc}", "")
            self._put(item)
        self.exited = True
        self.process.join()
        scratch.sweep()  # a worker killed while drawing leaves its sheet directory; clean it up now
        self._put(("exit", None, self.process.exitcode))

    def send(self, job_id: str, request: Any) -> None:
        self.conn.send((job_id, request))

    def kill(self) -> None:
        self.exited = True
        if self.process.exitcode is None:
            try:
                self.process.kill()
            except (OSError, ValueError):
                pass

    async def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to leave, kill it if it does not, and wait for it."""
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.process.join, timeout)
        if self.process.exitcode is None:
            self.kill()
            await loop.run_in_executor(None, self.process.join, timeout)
        await loop.run_in_executor(None, self._reader.join, timeout)
        self.conn.close()


# ---- the queue -----------------------------------------------------------------------------------

def _default_worker(settings: Settings):
    from bot import worker
    return worker.compose, functools.partial(worker.warm_up, settings=settings)


class JobQueue:
    """See the module docstring. One per bot process; start() before submit()."""

    def __init__(self, settings: Settings | None = None, *, worker: Callable | None = None,
                 initializer: Callable | None = None, store=None, workers: int | None = None,
                 start_method: str = "spawn"):
        self.settings = settings or load_settings()
        if worker is None:
            worker, default_init = _default_worker(self.settings)
            initializer = initializer or default_init
        self.worker, self.initializer = worker, initializer
        self.store = store
        self.workers = workers or self.settings.workers
        self.timeout = float(self.settings.job_timeout)
        self._ctx = multiprocessing.get_context(start_method)
        self._procs: list[_WorkerProcess | None] = [None] * self.workers
        self._slots: list[asyncio.Task] = []
        self._pending: collections.deque[Job] = collections.deque()
        self._active: dict[str, Job] = {}  # every unfinished job, queued or running
        self._running_by_user: collections.Counter[int] = collections.Counter()
        self._durations: collections.deque[float] = collections.deque(maxlen=20)
        self._wake: asyncio.Condition | None = None
        self._closing = False  # no new jobs
        self._stopped = False  # slots leave
        self.interrupted_jobs: list = []  # jobs an earlier run left unfinished (from the store)

    # -- life cycle --

    async def start(self) -> None:
        """Start the worker processes (they warm up in the background) and recover old jobs."""
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Condition()
        if self.store is not None:
            self.interrupted_jobs = await self.store.fail_unfinished_jobs()
        for i in range(self.workers):
            self._procs[i] = self._spawn(loop, i)
            self._slots.append(asyncio.create_task(self._slot_loop(i), name=f"tunesmith-slot-{i}"))

    def _spawn(self, loop, index: int) -> _WorkerProcess:
        return _WorkerProcess(self._ctx, self.worker, self.initializer, loop, f"tunesmith-worker-{index}")

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
        deliverers = [j._deliverer for j in left if j._deliverer is not None]
        if deliverers:  # let the last events reach the front end, but never hang on a slow callback
            await asyncio.wait(deliverers, timeout=5)
        counts = collections.Counter(j.state for j in left)
        return {state: counts.get(state, 0) for state in FINAL_STATES}

    # -- the front end's calls --

    async def submit(self, user_id: int, request: Any, on_progress: ProgressCallback | None = None, *,
                     guild_id: int | None = None, channel_id: int | None = None,
                     parent_id: str | None = None, max_jobs: int | None = None) -> Job:
        """Queue a job and return it at once (job.id, job.position). Raises BusyError subclasses.
        `max_jobs` overrides how many unfinished jobs this user may have (e.g. a guild's setting)."""
        if self._wake is None:
            raise RuntimeError("JobQueue.start() was not awaited")
        if self._closing:
            raise ShuttingDownError(SHUTDOWN_MESSAGE, 60.0)
        mine = [j for j in self._active.values() if j.user_id == user_id]
        limit = max_jobs or self.settings.per_user_running + self.settings.per_user_queued
        if len(mine) >= limit:
            wait = self._retry_after(len(mine) - limit + 1, mine)
            raise UserLimitError(f"you already have {len(mine)} tune{'s' if len(mine) != 1 else ''} on the way "
                                 f"(the limit is {limit}); try again in ~{wait} s", wait)
        queued = sum(1 for j in self._active.values() if j.state == QUEUED)
        if queued >= self.settings.queue_cap:
            wait = self._retry_after(queued - self.settings.queue_cap + 1)
            raise BusyError(f"the composer is busy ({queued} tunes waiting); try again in ~{wait} s", wait)

        job = Job(user_id, request, on_progress, guild_id, channel_id, parent_id)
        self._active[job.id] = job  # counted against the limits from here on
        if on_progress is not None:
            job._deliverer = asyncio.create_task(self._deliver(job), name=f"tunesmith-events-{job.id}")
        if self.store is not None:
            try:
                await self.store.job_created(job.id, request=_as_dict(request), user_id=user_id,
                                             guild_id=guild_id, channel_id=channel_id, created_at=job.created_at)
            except Exception:
                log.exception("could not record job %s", job.id)
        async with self._wake:
            self._pending.append(job)
            job.position = len(self._pending)
            self._emit(job, f"queued, position {job.position}")
            self._wake.notify_all()
        return job

    def get(self, job_id: str) -> Job | None:
        """An unfinished job by id (finished jobs are the caller's to keep)."""
        return self._active.get(job_id)

    async def cancel(self, job_id: str, user_id: int | None = None) -> bool:
        """Cancel a queued or running job. Only its requester may (user_id None: the admin/bot).
        Returns False when the job had already finished."""
        job = self._active.get(job_id)
        if job is None:
            return False
        if user_id is not None and user_id != job.user_id:
            raise NotYourJobError("only the person who asked for this tune can cancel it")
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

    def _retry_after(self, jobs_ahead: int, mine: list[Job] | None = None) -> int:
        avg = self.average_seconds()
        estimate = avg * jobs_ahead / self.workers
        if mine:
            now = time.time()
            elapsed = max((now - j.started_at for j in mine if j.started_at), default=0.0)
            estimate = max(1.0, avg * jobs_ahead - elapsed)
        return max(1, math.ceil(estimate))

    # -- inside --

    def _emit(self, job: Job, message: str) -> None:
        if job._on_progress is None:
            return
        job._events.put_nowait(JobEvent(job.id, job.state, job.stage,
                                        job.position if job.state == QUEUED else None, message))
        if job.finished:
            job._events.put_nowait(None)

    async def _deliver(self, job: Job) -> None:
        """Hand events to the callback one at a time, in order; a failing callback is only logged."""
        while (event := await job._events.get()) is not None:
            try:
                await job._on_progress(event)
            except Exception:
                log.exception("progress callback failed for job %s", job.id)

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
                        job.state, job.stage, job.position = RUNNING, "starting", None
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

    async def _run(self, proc: _WorkerProcess, job: Job) -> None:
        if job._kill_reason:  # cancelled, or shutdown began, between taking the job and starting it
            await self._finish(job, CANCELLED if job._kill_reason == "cancelled" else FAILED,
                               error="cancelled" if job._kill_reason == "cancelled" else SHUTDOWN_MESSAGE)
            return
        job._proc = proc
        self._emit(job, "starting")
        if self.store is not None:
            try:
                await self.store.job_started(job.id, job.started_at)
            except Exception:
                log.exception("could not record the start of job %s", job.id)
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
            except asyncio.TimeoutError:
                proc.kill()
                proc.exited = True  # its reader's "exit" lands in a queue nobody reads; a new one starts
                await self._finish(job, TIMED_OUT, error=f"composing took longer than {self.timeout:g} s and was stopped; "
                                                         f"try a shorter tune")
                return
            kind, job_id = item[0], item[1]
            if job_id not in (job.id, None):
                continue  # a late reply for an earlier job
            if kind == "progress":
                job.stage = item[2]
                self._emit(job, item[2])
            elif kind == "done":
                await self._finish(job, DONE, result=item[2])
                return
            elif kind == "failed":
                await self._finish(job, FAILED, error=item[2])
                return
            elif kind == "error":
                log.error("job %s failed in the worker: %s\n%s", job.id, item[2], item[3])
                await self._finish(job, FAILED, error=f"something went wrong while composing ({item[2].split(':')[0]}); "
                                                      f"please try again")
                return
            elif kind == "exit":
                proc.exited = True
                if job._kill_reason == "cancelled":
                    await self._finish(job, CANCELLED, error="cancelled")
                elif job._kill_reason == "shutdown":
                    await self._finish(job, FAILED, error=SHUTDOWN_MESSAGE)
                else:
                    log.error("worker pid %s died (exit code %s) running job %s", proc.pid, item[2], job.id)
                    await self._finish(job, FAILED, error=f"the composer process crashed (exit code {item[2]}) "
                                                          f"while making this tune; please try again")
                return

    async def _finish(self, job: Job, state: str, *, result: Any = None, error: str | None = None) -> None:
        if job.finished:
            return
        was_running = job.state == RUNNING
        job._proc = None  # from here on a cancel cannot kill the worker (it may be running the next job)
        job.finished_at = time.time()
        job.result, job.error = result, error
        existing = getattr(job.request, "tune_id", None)  # a worker.RerenderRequest: the tune is stored already
        if state == DONE and existing:
            job.tune_id = existing
        elif state == DONE and self.store is not None:
            try:
                job.tune_id = await self.store.add_tune(
                    request=_as_dict(job.request), text=result.text, text_format=result.text_format,
                    meta=result.meta, user_id=job.user_id, guild_id=job.guild_id, channel_id=job.channel_id,
                    parent_id=job.parent_id)
            except Exception:
                log.exception("could not store the tune of job %s", job.id)
        job.state, job.stage, job.position = state, "finished", None
        self._active.pop(job.id, None)
        if was_running:
            self._running_by_user[job.user_id] -= 1
            if state == DONE:
                self._durations.append(job.finished_at - job.started_at)
        if self.store is not None:
            try:
                await self.store.job_finished(job.id, state, error=error, tune_id=job.tune_id,
                                              finished_at=job.finished_at)
            except Exception:
                log.exception("could not record the end of job %s", job.id)
        self._emit(job, error or "done")
        job._outcome.set_result(state)
        async with self._wake:
            self._wake.notify_all()


def _as_dict(request: Any) -> dict:
    to_dict = getattr(request, "to_dict", None)
    return to_dict() if callable(to_dict) else {"value": repr(request)}

