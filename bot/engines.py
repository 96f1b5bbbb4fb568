"""Which job engine runs the jobs: the settings decide, the front end never knows.

No broker_url: bot/jobs.JobQueue, worker processes inside the bot (the two-command default).
broker_url set: bot/engine_celery.CeleryQueue, `tunesmith worker`s on any machine through Celery on Redis.
Both have the same interface (start, submit, cancel, close, queued, running, worker_pids).
"""
from __future__ import annotations

from bot.config import Settings


def make_queue(settings: Settings):
    if settings.broker_url:
        from bot.engine_celery import CeleryQueue
        return CeleryQueue(settings)
    from bot.jobs import JobQueue
    return JobQueue(settings)
