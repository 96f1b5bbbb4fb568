"""Which job engine runs the jobs: the settings decide, the front end never knows.

No broker_url: bot/engine/local.JobQueue, worker processes inside the bot (the two-command default).
broker_url set: bot/engine/broker.CeleryQueue, `tunesmith worker`s on any machine through Celery on Redis.
Both have the same interface (start, submit, cancel, close, queued, running, worker_pids).
"""

from __future__ import annotations

from bot.config import Settings


def make_queue(settings: Settings):
    """The engine the settings ask for; with warm_pool set, plain requests are answered from a pool of
    ready tunes (bot/engine/warm_pool.py); with metrics_port set, counted and exported (bot/metrics.py)."""
    if settings.broker_url:
        from bot.engine.broker import CeleryQueue

        queue = CeleryQueue(settings)
    else:
        from bot.engine.local import JobQueue

        queue = JobQueue(settings)
    if settings.warm_pool:
        from bot.engine.warm_pool import WarmPool

        queue = WarmPool(queue, settings)
    if settings.metrics_port:
        from bot.metrics import Metrics

        metrics = Metrics()
        queue = metrics.instrument(queue)
        metrics.serve(settings.metrics_host, settings.metrics_port)
    return queue
