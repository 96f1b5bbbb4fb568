"""Prometheus metrics (opt-in: TUNESMITH_METRICS_PORT). Works with either job engine.

    metrics = Metrics()                       # its own registry
    queue = metrics.instrument(make_queue(settings))   # the same interface; counts what passes through
    metrics.serve(settings.metrics_host, settings.metrics_port)   # GET /metrics, in a daemon thread

Jobs started / finished (by style and final state), queue depth and running jobs, job time (running),
latency (asked -> result, queue wait included) and end to end (asked -> files posted) by style,
ratings by stars, and live workers.
Gauges are set from the event loop (on every job event and every few seconds), never read from the
engine by the HTTP thread, so the exporter never touches the engine's structures concurrently.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from bot.engine.base import EngineWrapper, Order
from bot.job_state import FINAL_STATES

log = logging.getLogger("tunesmith.metrics")

BUCKETS = (0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 13, 20, 30, 60, 120)
REFRESH_EVERY = 5.0  # seconds between gauge refreshes when nothing happens

current: Metrics | None = None  # the process's metrics, once set up (for hooks such as ratings)


def style_of(request: Any) -> str:
    inner = getattr(request, "request", request)  # a RerenderRequest carries its ComposeRequest
    return str(getattr(inner, "style", None) or "other")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.started = Counter("tunesmith_jobs_started", "Jobs that began running", ["style"], registry=r)
        self.finished = Counter(
            "tunesmith_jobs_finished", "Jobs that ended, by final state", ["style", "state"], registry=r
        )
        self.job_seconds = Histogram(
            "tunesmith_job_seconds", "Running time of finished jobs", ["style"], buckets=BUCKETS, registry=r
        )
        self.latency = Histogram(
            "tunesmith_job_latency_seconds",
            "From the request to its result (queue wait included), jobs done",
            ["style"],
            buckets=BUCKETS,
            registry=r,
        )
        self.posted = Histogram(
            "tunesmith_posted_seconds",
            "End to end: from the request to its files posted (front end included), jobs done",
            ["style"],
            buckets=BUCKETS,
            registry=r,
        )
        self.queued = Gauge("tunesmith_queue_depth", "Jobs waiting", registry=r)
        self.running = Gauge("tunesmith_jobs_running", "Jobs running", registry=r)
        self.workers = Gauge(
            "tunesmith_workers", "Live worker processes (in-process engine) or worker nodes (broker engine)", registry=r
        )
        self.ratings = Counter("tunesmith_ratings", "Ratings given, by stars", ["stars"], registry=r)
        self.server = None

    def instrument(self, queue) -> MeteredQueue:
        global current
        current = self
        return MeteredQueue(queue, self)

    def serve(self, host: str, port: int) -> int:
        """Start the exporter (a daemon thread); returns the port (useful with port 0)."""
        self.server, _ = start_http_server(port, addr=host, registry=self.registry)
        bound = self.server.server_port
        log.info("Prometheus metrics on http://%s:%d/metrics", host, bound)
        return bound

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def rated(self, stars: int) -> None:
        self.ratings.labels(stars=str(stars)).inc()


def rated(stars: int) -> None:
    """Hook for the service: count a rating when metrics are on."""
    if current is not None:
        current.rated(stars)


def posted(job) -> None:
    """Hook for the front end: a job's files were posted (end-to-end latency)."""
    if current is not None:
        current.posted.labels(style=style_of(job.request)).observe(max(0.0, time.time() - job.created_at))


class MeteredQueue(EngineWrapper):
    """A job engine with counting around it; everything else goes to the engine unchanged."""

    def __init__(self, queue, metrics: Metrics):
        super().__init__(queue)
        self._metrics = metrics
        self._refresher: asyncio.Task | None = None

    # ---- cancel, queued, running, worker_pids: forwarded by EngineWrapper (bot/engine/base.py) --------

    async def start(self) -> None:
        await self._queue.start()
        self._refresher = asyncio.create_task(self._refresh_loop(), name="tunesmith-metrics")

    async def close(self, grace: float | None = None) -> dict[str, int]:
        if self._refresher is not None:
            self._refresher.cancel()
        counts = await self._queue.close(grace)
        self._refresh()
        return counts

    async def submit(self, order: Order):
        style, on_progress = style_of(order.request), order.on_progress
        asked = time.monotonic()
        seen_start = False
        m = self._metrics
        holder: list = []  # the job, once submit returned (events are delivered after that)

        async def observe(event) -> None:
            nonlocal seen_start
            if event.state == "running" and not seen_start:
                seen_start = True
                m.started.labels(style=style).inc()
            elif event.state in FINAL_STATES:
                m.finished.labels(style=style, state=str(event.state)).inc()
                job = holder[0] if holder else None
                if event.state == "done":
                    m.latency.labels(style=style).observe(time.monotonic() - asked)
                    if job is not None and job.seconds is not None:
                        m.job_seconds.labels(style=style).observe(job.seconds)
            self._refresh()
            if on_progress is not None:
                await on_progress(event)

        job = await self._queue.submit(dataclasses.replace(order, on_progress=observe))
        holder.append(job)
        return job

    def _refresh(self) -> None:
        m, q = self._metrics, self._queue
        m.queued.set(q.queued)
        m.running.set(q.running)
        m.workers.set(len(q.worker_pids()))

    async def _refresh_loop(self) -> None:
        while True:
            self._refresh()
            await asyncio.sleep(REFRESH_EVERY)
