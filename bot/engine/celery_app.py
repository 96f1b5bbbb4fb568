"""The Celery side of the scaled engine: the app, the one task, and what each worker process does.

The bot (bot/engine/broker.py) sends `tunesmith.compose` with the job id and an encoded request; a
`tunesmith worker` (bot/cli/worker.py) runs it in a prefork pool child whose models and soundfont were
loaded once, after the fork (worker_process_init). Choices, each against a known Celery-on-Redis trap:

- The bot is the one that retries, once, as a new task (id "<job id>.<attempt>"): when Celery reports a
  pool child lost mid-job (kill -9, a segfault: WorkerLostError, stored as the task's failure because
  reject_on_worker_lost is off), and when a worker dies whole. Celery's own ways were tried and
  dropped: reject_on_worker_lost requeues forever (a job that crashes its process would crash them
  all), and retry_on_worker_lost sends an ETA message that another worker takes at once even while
  busy (ETA tasks bypass the prefetch limit) and loses again if that worker dies.
- A worker whose main process dies whole leaves its message unacked (acks_late) until
  `visibility_timeout`; the bot does not wait for that: every worker keeps a node key alive (NODE_KEY,
  refreshed every NODE_TTL/5 s), and the bot re-sends a running job whose node key lapsed. The stale
  message, when Redis hands it out again, is skipped: a task runs only while `job_key(job_id)` names
  its own task id (the bot sets it when sending and deletes it on cancel or when the job is over).
- prefetch 1: a worker never hoards CPU-bound jobs it cannot start.
- Results come back through Celery's Redis result backend (expires after 15 minutes, the life of an
  interaction token); the bot reads them with redis.asyncio and deletes them. JSON only (no pickle).
- time limits per task (the bot's job_timeout): soft -> "timed out" outcome, hard -> the child is killed.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from typing import Any

from celery import Celery, signals
from celery.exceptions import SoftTimeLimitExceeded

from bot.config import Settings
from bot.engine import celery_codec as codec
from bot.outage import Outage

log = logging.getLogger("tunesmith.celery")

TASK_NAME = "tunesmith.compose"
QUEUE = "tunesmith"
NODE_KEY = "tunesmith:node:"  # + node name -> main pid, while the worker lives (expires NODE_TTL s after it dies)
NODE_TTL = 10  # long enough that a busy machine's worker is not taken for dead; a lost job waits <= this
RESULT_EXPIRES = 15 * 60  # the interaction token's life: a later result is of no use


def job_key(job_id: str) -> str:
    """The task id that may run this job now (absent: cancelled, finished or unknown -> skip)."""
    return f"tunesmith:job:{job_id}"


def visibility_timeout(job_timeout: float) -> int:
    """How long Redis keeps a taken message before handing it out again: longer than any job can run."""
    return int(max(60, 3 * job_timeout))


def make_app(settings: Settings) -> Celery:
    if not settings.broker_url:
        raise ValueError("broker_url (TUNESMITH_BROKER_URL) is not set")
    app = Celery("tunesmith", broker=settings.broker_url, backend=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=False,
        worker_prefetch_multiplier=1,
        result_expires=RESULT_EXPIRES,
        broker_transport_options={"visibility_timeout": visibility_timeout(settings.job_timeout)},
        broker_connection_retry_on_startup=True,
        # Redis lost while a task runs: its message (acks_late) comes back to a worker, so the running copy
        # is cancelled rather than finishing unseen next to a second run (Celery warns without this set).
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        # A pool process reports "up" only after worker_process_init (our warm-up: torch, models, the
        # soundfont; 2.8 s on a busy 2-core machine). Celery's default 4 s would kill and respawn it in a loop.
        worker_proc_alive_timeout=120.0,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=False, max_retries=0)(_compose_task)
    return app


# ---- inside a worker process ------------------------------------------------------------------------

_work: dict[str, Callable | None] = {"func": None, "init": None}


def use_function(func: Callable, initializer: Callable | None) -> None:
    """What the tasks of this worker run: `func(request, progress) -> result` (default bot.worker.compose)."""
    _work["func"], _work["init"] = func, initializer


def load_function(spec: str) -> Callable:
    """ "package.module:name" -> the function (tests and benches run small functions on real workers)."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def default_function(settings: Settings) -> tuple[Callable, Callable]:
    from bot import worker

    return worker.compose, functools.partial(worker.warm_up, settings=settings)


@signals.worker_process_init.connect
def _init_pool_process(**_: Any) -> None:
    """After the fork, in each pool child: load models and the soundfont once (never in the parent)."""
    init = _work["init"]
    if init is not None:
        try:
            init()
        except Exception:  # the jobs will meet the same problem and report it
            traceback.print_exc()


def _compose_task(task, job_id: str, request: dict) -> dict:
    redis = task.backend.client
    current = redis.get(job_key(job_id))
    if current is None or current.decode() != task.request.id:
        return codec.encode_outcome(codec.SKIPPED, "cancelled or handled elsewhere")
    task.update_state(state="STARTED", meta={"pid": os.getpid(), "hostname": task.request.hostname})

    def progress(stage: str) -> None:
        task.update_state(
            state="PROGRESS", meta={"stage": str(stage), "pid": os.getpid(), "hostname": task.request.hostname}
        )

    func = _work["func"]
    try:
        if func is None:
            raise RuntimeError("this worker process has no job function (start it with `tunesmith worker`)")
        return codec.encode_outcome(codec.DONE, func(codec.decode_request(request), progress=progress))
    except SoftTimeLimitExceeded:
        return codec.encode_outcome(codec.TIMED_OUT, None)
    except ValueError as exc:
        return codec.encode_outcome(codec.FAILED, str(exc) or type(exc).__name__)
    except Exception as exc:
        log.error("job %s failed: %s", job_id, traceback.format_exc())
        return codec.encode_outcome(codec.CRASHED, f"{type(exc).__name__}: {exc}")


# ---- the worker's node key (its main process) --------------------------------------------------------


class NodeBeat:
    """A thread in the worker's main process that keeps NODE_KEY + name alive while it runs."""

    def __init__(self, app: Celery, name: str):
        self.app, self.name = app, name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tunesmith-node-beat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        import redis

        client = redis.Redis.from_url(self.app.conf.broker_url, socket_timeout=5)  # its own: never shared across a fork
        key, pid = NODE_KEY + self.name, os.getpid()
        outage = Outage("Redis (this worker's node key)", log)
        while not self._stop.is_set():
            try:
                client.set(key, pid, ex=NODE_TTL)
            except Exception as exc:  # Redis away: the bot may re-send our job; it is skipped here then
                outage.failed(exc)  # logged once, then with a back-off; tried again every NODE_TTL/5 s
            else:
                outage.ok()
            self._stop.wait(NODE_TTL / 5)
        try:
            client.delete(key)
        except Exception:
            pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(3)


def node_name(given: str | None) -> str:
    """Celery's full node name ("celery@w1" for "w1"): the tasks report it, the node key carries it."""
    from celery.utils.nodenames import default_nodename

    return default_nodename(given or f"tunesmith-{socket.gethostname()}-{os.getpid()}")
