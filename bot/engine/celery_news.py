"""What a worker's Celery task state says about a job, read into one `News` value.

Celery reports STARTED and PROGRESS (with our stage), then SUCCESS (carrying our own outcome: done,
failed, timed out, or an error, see bot/engine/celery_codec.py), FAILURE (a time limit, a pool process that died,
an exception Celery caught) or REVOKED (Celery cancelled a running task when its worker lost Redis:
the job is sent again, like one whose process died; the bot's own cancel has ended the job already).
`read()` is pure; bot/engine/broker.py acts on what it returns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.engine import celery_codec as codec
from bot.engine.job import DONE, FAILED, TIMED_OUT

log = logging.getLogger("tunesmith.engine")

STARTED, PROGRESS, FINISHED, LOST = "started", "progress", "finished", "lost"


@dataclass(frozen=True)
class News:
    kind: str  # STARTED, PROGRESS, FINISHED, LOST (its pool process died), or "" (nothing to act on)
    stage: str = ""
    node: str | None = None  # the worker's name, and its pool process
    pid: int | None = None
    state: str = ""  # when FINISHED: DONE, FAILED, TIMED_OUT or CANCELLED
    result: Any = None
    error: str | None = None


def timeout_text(timeout: float) -> str:
    return f"composing took longer than {timeout:g} s and was stopped; try a shorter tune"


def read(job_id: str, status: str | None, info: Any, timeout: float) -> News:
    """The news in one task state (`info` is Celery's result or meta field)."""
    info = info if isinstance(info, dict) else {}
    if status in ("STARTED", "PROGRESS"):
        kind = STARTED if status == "STARTED" else PROGRESS
        stage = str(info["stage"]) if "stage" in info else ""
        return News(kind, stage=stage, node=info.get("hostname"), pid=info.get("pid"))
    if status == "SUCCESS":
        kind, value = codec.decode_outcome(info)
        if kind == codec.DONE:
            return News(FINISHED, state=DONE, result=value)
        if kind == codec.FAILED:
            return News(FINISHED, state=FAILED, error=str(value))
        if kind == codec.TIMED_OUT:
            return News(FINISHED, state=TIMED_OUT, error=timeout_text(timeout))
        log.error("job %s failed in the worker: %s", job_id, value)
        error = f"something went wrong while composing ({str(value).split(':')[0]}); please try again"
        return News(FINISHED, state=FAILED, error=error)
    if status == "FAILURE":
        exc_type = str(info.get("exc_type", ""))
        log.error("job %s: Celery reports %s: %s", job_id, exc_type, info.get("exc_message"))
        if exc_type in ("TimeLimitExceeded", "SoftTimeLimitExceeded"):
            return News(FINISHED, state=TIMED_OUT, error=timeout_text(timeout))
        if exc_type == "WorkerLostError":  # its pool process died (kill -9, a crash in a C library)
            return News(LOST)
        error = f"something went wrong while composing ({exc_type}); please try again"
        return News(FINISHED, state=FAILED, error=error)
    if status == "REVOKED":  # not our cancel (that ends the job first, so its news is not read): Celery
        # cancelled the running task when it lost Redis (worker_cancel_long_running_tasks_on_connection_loss)
        log.warning("job %s: Celery cancelled the task (its worker lost the broker); sending it again", job_id)
        return News(LOST)
    return News("")
