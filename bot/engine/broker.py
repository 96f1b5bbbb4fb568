"""The scaled job engine: the same interface as bot/engine/local.JobQueue, with the jobs run by `tunesmith worker`
processes (on any machine) through Celery on Redis. See bot/engine/celery_app.py for the worker side.

    queue = CeleryQueue(settings)        # settings.broker_url names the Redis
    await queue.start(); job = await queue.submit(Order(user_id, request, on_progress)); await job.wait() ...

The bot keeps the rules: per-user limits and the queue cap are counted here, and a user's next job is sent
to the broker only when their running one is over (per_user_running), so workers never hold two of one
user's jobs. The event loop never blocks on Celery: sends and revokes (blocking kombu calls) run in a small
thread pool; task states (STARTED, PROGRESS, SUCCESS, FAILURE) come in over Redis pub/sub on
redis.asyncio, and a big result is decoded in a thread. A job whose pool process died (Celery's
WorkerLostError) or whose worker died whole (its node key lapsed; the watchdog sees it) is sent once
more, a second loss is reported; the watchdog also times out jobs whose worker went silent and fails
queued jobs when no worker has been alive for a job timeout.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import math
import time
from typing import Any

import redis.asyncio as aioredis

from bot.config import Settings
from bot.engine import celery_app as capp
from bot.engine import celery_codec as codec
from bot.engine import celery_news
from bot.engine.base import Order, admit
from bot.engine.job import (
    CANCELLED,
    DONE,
    FAILED,
    FINAL_STATES,
    NOT_YOURS,
    QUEUED,
    RUNNING,
    SHUTDOWN_MESSAGE,
    STARTING,
    TIMED_OUT,
    BusyError,
    Job,
    NotYourJobError,
    final_counts,
)
from bot.outage import Outage

log = logging.getLogger("tunesmith.engine")

META_PREFIX = "celery-task-meta-"
BIG = 64 * 1024  # results above this are decoded in a thread
WATCH_EVERY = 1.0  # seconds between watchdog rounds
SILENT_GRACE = 10.0  # seconds past the job timeout before the bot stops waiting for a silent worker
MAX_WAIT = 14 * 60  # seconds a job may wait for a worker: the interaction token lives 15 minutes
KEY_GRACE = 3.0  # seconds after a send before its job key is checked (the SET may still be on its way)
MAX_ATTEMPTS = 2  # a job whose worker process or machine died is sent once more


class CeleryJob(Job):
    """A Job with what the broker engine tracks about it."""

    def __init__(self, order: Order):
        super().__init__(order)
        self.attempts = 0  # times sent to the broker
        self.task_id: str | None = None  # the Celery task id of the current attempt: "<job id>.<attempt>"
        self.sent = False
        self.sent_at = 0.0  # time.monotonic() of the last send
        self.node: str | None = None  # the worker running it, and its pool process
        self.pid: int | None = None
        self.last_news = time.monotonic()  # when the worker last told us something new
        self.last_payload: bytes | None = None


class CeleryQueue:
    """See the module docstring. One per bot process; start() before submit()."""

    def __init__(self, settings: Settings):
        if not settings.broker_url:
            raise ValueError("CeleryQueue needs settings.broker_url")
        self.settings = settings
        self.timeout = float(settings.job_timeout)
        self.app = capp.make_app(settings)
        self._redis: aioredis.Redis | None = None
        self._pubsub_outage = Outage("Redis pub/sub (job news)", log)
        self._watch_outage = Outage("Redis (the job watchdog)", log)
        self._pubsub = None
        self._pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="tunesmith-celery")
        self._order: list[CeleryJob] = []  # unfinished jobs in the order they came
        self._active: dict[str, Job] = {}
        self._by_task: dict[str, Job] = {}
        self._durations: collections.deque[float] = collections.deque(maxlen=20)
        self._nodes: dict[str, int] = {}  # live worker node name -> main pid (refreshed by the watchdog)
        self._no_nodes_since: float | None = None
        self._tasks: list[asyncio.Task] = []
        self._closing = False
        self._started = False
        self._stopping = False
        self.listeners: list = []  # objects with on_job_event(job, event_name) (metrics)

    # -- life cycle --

    async def start(self) -> None:
        self._redis = aioredis.from_url(self.settings.broker_url)
        self._pubsub = self._redis.pubsub()
        await self._pubsub.subscribe("tunesmith:bot")  # keeps the connection open between jobs
        await self._refresh_nodes()
        self._tasks = [
            asyncio.create_task(self._read_loop(), name="tunesmith-celery-reader"),
            asyncio.create_task(self._watch_loop(), name="tunesmith-celery-watchdog"),
        ]
        self._started = True

    async def close(self, grace: float | None = None) -> dict[str, int]:
        grace = self.settings.shutdown_grace if grace is None else grace
        self._closing = True
        if not self._started:
            return {state: 0 for state in FINAL_STATES}
        self._started = False
        left = list(self._active.values())
        if left:
            await asyncio.wait([j._outcome for j in left], timeout=grace)
        for job in list(self._active.values()):
            await self._end(job, FAILED, SHUTDOWN_MESSAGE)
        self._stopping = True  # the reader leaves after its current get_message (cancelling one can hang
        self._tasks[1].cancel()  # in redis-py), the watchdog at once
        _, stuck = await asyncio.wait(self._tasks, timeout=5)
        for task in stuck:
            task.cancel()
        try:
            await self._pubsub.aclose()
            await self._redis.aclose()
        except Exception as exc:
            log.warning("closing the Redis connection: %s", exc)
        self._pool.shutdown(wait=False)
        return await final_counts(left)

    # -- the front end's calls --

    async def submit(self, order: Order) -> Job:
        if not self._started and not self._closing:
            raise RuntimeError("CeleryQueue.start() was not awaited")
        admit(
            order,
            closing=self._closing,
            active=self._active.values(),
            waiting=self.queued,
            per_user=self.settings.per_user_running + self.settings.per_user_queued,
            queue_cap=self.settings.queue_cap,
            user_wait=lambda mine, limit: self._retry_after(len(mine) - limit + 1),
            queue_wait=lambda over: self._retry_after(over + 1),
        )
        if not self._nodes:
            raise BusyError(
                "no composer is running right now (no `tunesmith worker` is connected); "
                "please try again in a few minutes",
                60.0,
            )
        job = CeleryJob(order)
        self._active[job.id] = job
        self._order.append(job)
        job.start_delivering()
        self._reposition(job, force=True)
        self._notify(job, "submitted")
        await self._dispatch()
        return job

    async def cancel(self, job_id: str, user_id: int | None = None) -> bool:
        job = self._active.get(job_id)
        if job is None:
            return False
        if user_id is not None and user_id != job.user_id:
            raise NotYourJobError(NOT_YOURS)
        await self._end(job, CANCELLED, "cancelled")
        return True

    # -- what it looks like now --

    @property
    def queued(self) -> int:
        return sum(1 for j in self._active.values() if j.state == QUEUED)

    @property
    def running(self) -> int:
        return sum(1 for j in self._active.values() if j.state == RUNNING)

    @property
    def workers(self) -> int:
        return max(1, len(self._nodes))

    def worker_pids(self) -> list[int]:
        """The main pids of the live `tunesmith worker` nodes (they may be on other machines)."""
        return sorted(self._nodes.values())

    def worker_nodes(self) -> list[str]:
        return sorted(self._nodes)

    def average_seconds(self) -> float:
        return sum(self._durations) / len(self._durations) if self._durations else 10.0

    def _retry_after(self, jobs_ahead: int) -> int:
        return max(1, math.ceil(self.average_seconds() * jobs_ahead / self.workers))

    # -- sending --

    def _in_flight(self, user_id: int) -> int:
        return sum(1 for j in self._active.values() if j.user_id == user_id and j.sent)

    async def _dispatch(self) -> None:
        """Send every waiting job whose user has a running slot free."""
        for job in list(self._order):
            if not job.sent and not job.finished and self._in_flight(job.user_id) < self.settings.per_user_running:
                await self._send(job)

    async def _send(self, job: CeleryJob) -> None:
        job.attempts += 1
        job.sent_at = time.monotonic()
        job.sent, job.node = True, None
        task_id = f"{job.id}.{job.attempts}"
        old, job.task_id = job.task_id, task_id
        self._by_task[task_id] = job
        try:
            await self._redis.set(capp.job_key(job.id), task_id, ex=2 * capp.visibility_timeout(self.timeout))
            await self._pubsub.subscribe(META_PREFIX + task_id)
            if old is not None:
                await self._forget(old)
            args = (job.id, codec.encode_request(job.request))
            await self._in_thread(
                self.app.send_task,
                capp.TASK_NAME,
                args=args,
                task_id=task_id,
                queue=capp.QUEUE,
                soft_time_limit=self.timeout,
                time_limit=self.timeout + 5,
            )
        except Exception as exc:
            log.exception("could not send job %s to the broker", job.id)
            await self._finish(
                job,
                FAILED,
                error=f"the composer queue is not reachable ({type(exc).__name__}); please try again in a minute",
            )
            return
        job.last_news = time.monotonic()

    async def _end(self, job: CeleryJob, state: str, error: str) -> None:
        """Finish the job here first (so nothing the worker says about it counts any more: not a REVOKED,
        not a lost process), then revoke it on the workers (a running one is killed)."""
        terminate = job.state == RUNNING
        await self._finish(job, state, error=error)
        await self._revoke(job, terminate)

    async def _revoke(self, job: CeleryJob, terminate: bool) -> None:
        if not job.sent or job.task_id is None:
            return
        try:
            await self._redis.delete(capp.job_key(job.id))  # a worker that takes it later skips it
            kwargs = {"terminate": True, "signal": "SIGKILL"} if terminate else {}
            await self._in_thread(self.app.control.revoke, job.task_id, **kwargs)
        except Exception as exc:
            log.warning("could not revoke job %s: %s", job.id, exc)

    async def _in_thread(self, func, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: func(*args, **kwargs))

    async def _forget(self, task_id: str) -> None:
        self._by_task.pop(task_id, None)
        try:
            await self._pubsub.unsubscribe(META_PREFIX + task_id)
            await self._redis.delete(META_PREFIX + task_id)
        except Exception as exc:
            log.warning("could not clean up task %s: %s", task_id, exc)

    # -- news from the workers --

    async def _read_loop(self) -> None:
        while not self._stopping:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: the watchdog polls the task states meanwhile
                await asyncio.sleep(self._pubsub_outage.failed(exc))
                continue
            self._pubsub_outage.ok()
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode()
            if channel.startswith(META_PREFIX):
                await self._on_payload(channel[len(META_PREFIX) :], message["data"])

    async def _on_payload(self, task_id: str, payload: bytes) -> None:
        job = self._by_task.get(task_id)
        if job is None or job.finished or job.task_id != task_id or payload == job.last_payload:
            return  # (the watchdog's polls see the same state again: nothing new)
        job.last_payload = payload
        try:
            if len(payload) > BIG:
                meta = await self._in_thread(self.app.backend.decode, payload)
            else:
                meta = self.app.backend.decode(payload)
        except Exception as exc:
            log.error("job %s: unreadable task state: %s", job.id, exc)
            await self._finish(
                job, FAILED, error="something went wrong while composing (unreadable result); please try again"
            )
            return
        if job.finished or job.task_id != task_id:  # it changed while decoding
            return
        job.last_news = time.monotonic()
        await self._on_meta(job, meta.get("status"), meta.get("result"))

    async def _on_meta(self, job: CeleryJob, status: str | None, info: Any) -> None:
        news = celery_news.read(job.id, status, info, self.timeout)
        if news.kind == celery_news.STARTED or news.kind == celery_news.PROGRESS and job.state != RUNNING:
            if job.state != RUNNING:
                job.state, job.stage, job.position = RUNNING, STARTING, None
                job.started_at = job.started_at or time.time()
                self._reposition()
                self._notify(job, "started")
            job.node, job.pid = news.node or job.node, news.pid
            job.emit(STARTING)
        if news.kind == celery_news.PROGRESS:
            job.node = news.node or job.node
            job.stage = news.stage or job.stage
            job.emit(job.stage)
        elif news.kind == celery_news.LOST:
            await self._lost(job, "the composer process")
        elif news.kind == celery_news.FINISHED:
            await self._finish(job, news.state, result=news.result, error=news.error)

    # -- the watchdog --

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(WATCH_EVERY)
            try:
                await self._watch()
            except asyncio.CancelledError:
                raise
            except (OSError, aioredis.RedisError) as exc:  # Redis away: said once, then with a back-off
                self._watch_outage.failed(exc)
            except Exception:
                log.exception("watchdog round failed")
            else:
                self._watch_outage.ok()

    async def _refresh_nodes(self) -> None:
        nodes = {}
        async for key in self._redis.scan_iter(match=capp.NODE_KEY + "*", count=200):
            value = await self._redis.get(key)
            if value is not None:
                nodes[key.decode()[len(capp.NODE_KEY) :]] = int(value)
        self._nodes = nodes
        self._no_nodes_since = None if nodes else (self._no_nodes_since or time.monotonic())

    async def _watch(self) -> None:
        await self._refresh_nodes()
        now = time.monotonic()
        silent = [j for j in self._active.values() if j.sent and j.task_id and now - j.last_news > 5 * WATCH_EVERY]
        if silent:  # a missed pub/sub message (Redis reconnected)? read the states, one round trip
            payloads = await self._redis.mget([META_PREFIX + j.task_id for j in silent])
            for job, payload in zip(silent, payloads):
                if payload is not None:
                    await self._on_payload(job.task_id, payload)
        await self._check_job_keys(now)
        for job in [j for j in self._active.values() if j.sent]:
            if job.finished:
                continue
            if job.state == QUEUED and time.time() - job.created_at > MAX_WAIT:
                await self._end(job, FAILED, "this tune waited too long for a composer; please try again")
            elif (
                job.state == RUNNING
                and job.node
                and job.node not in self._nodes
                and now - job.last_news > capp.NODE_TTL
            ):  # its worker's key lapsed, and the job is silent
                await self._lost(job, f"the composer machine ({job.node})")
            elif job.state == RUNNING and job.started_at and time.time() - job.started_at > self.timeout + SILENT_GRACE:
                await self._end(job, TIMED_OUT, celery_news.timeout_text(self.timeout))
        if self._no_nodes_since is not None and now - self._no_nodes_since > self.timeout:
            for job in [j for j in self._active.values() if j.state == QUEUED]:
                await self._end(job, FAILED, "no composer is running right now; please try again later")

    async def _check_job_keys(self, now: float) -> None:
        """A sent job whose key is gone was lost by Redis itself (restarted without its data): send again."""
        sent = [j for j in self._active.values() if j.sent and not j.finished and now - j.sent_at > KEY_GRACE]
        if not sent:
            return
        keys = await self._redis.mget([capp.job_key(j.id) for j in sent])
        for job, key in zip(sent, keys):
            if key is None and not job.finished and now - job.sent_at > KEY_GRACE:
                await self._lost(job, "the queue (Redis lost its data)")

    async def _lost(self, job: CeleryJob, what: str) -> None:
        """The process or machine running the job died: send it once more, or report the second loss."""
        log.error("job %s (attempt %d): %s stopped while running it", job.id, job.attempts, what)
        if job.attempts >= MAX_ATTEMPTS:
            await self._end(job, FAILED, "the composer crashed twice while making this tune; please try again")
            return
        job.state, job.stage, job.started_at, job.node, job.pid = QUEUED, "queued", None, None, None
        self._reposition(job, force=True)
        job.emit("a composer stopped while making this tune; trying once more")
        await self._send(job)

    # -- positions and the end --

    def _reposition(self, changed: CeleryJob | None = None, force: bool = False) -> None:
        waiting = [j for j in self._order if j.state == QUEUED and not j.finished]
        for index, job in enumerate(waiting, start=1):
            if job.position != index or (force and job is changed):
                job.position = index
                job.emit(f"queued, position {index}")

    def _notify(self, job: CeleryJob, event: str) -> None:
        for listener in self.listeners:
            try:
                listener.on_job_event(job, event)
            except Exception:
                log.exception("job listener failed")

    async def _finish(self, job: CeleryJob, state: str, *, result: Any = None, error: str | None = None) -> None:
        if job.finished:
            return
        job.finished_at = time.time()
        job.result, job.error = result, error
        was_waiting = job.state == QUEUED
        if job.state == RUNNING and state == DONE and job.started_at:
            self._durations.append(job.finished_at - job.started_at)
        job.state, job.stage, job.position = state, "finished", None
        self._active.pop(job.id, None)
        if job in self._order:
            self._order.remove(job)
        job.emit(error or "done")
        job._outcome.set_result(state)
        self._notify(job, "finished")
        if job.task_id is not None:
            try:
                await self._redis.delete(capp.job_key(job.id))
            except Exception as exc:
                log.warning("could not clear job %s: %s", job.id, exc)
            await self._forget(job.task_id)
        if was_waiting:
            self._reposition()
        if not self._closing:
            await self._dispatch()
