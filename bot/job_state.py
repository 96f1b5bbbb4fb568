"""The one list of job states, shared by the job engine and the store's job rows."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


FINAL_STATES = (JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT)
UNFINISHED_STATES = (JobState.QUEUED, JobState.RUNNING)
