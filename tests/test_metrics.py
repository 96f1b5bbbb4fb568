"""Prometheus metrics around a real job engine (worker processes running tests/celery_work.work), read
over HTTP from the exporter the way Prometheus would."""

from __future__ import annotations

import asyncio
import socket
import urllib.request

from bot import metrics as metrics_module
from bot.config import Settings
from bot.engine.base import Order
from bot.engine.choose import make_queue
from bot.engine.local import JobQueue
from bot.metrics import MeteredQueue, Metrics
from bot.requests import ComposeRequest
from tests.celery_work import work


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


async def test_jobs_queue_latency_ratings_workers(tmp_path):
    metrics = Metrics()
    settings = Settings(data_dir=tmp_path, workers=1, job_timeout=30, per_user_running=1, per_user_queued=3)
    queue = metrics.instrument(JobQueue(settings, worker=work, initializer=None))
    await queue.start()
    port = metrics.serve("127.0.0.1", 0)
    try:
        jobs = [
            await queue.submit(Order(1, ComposeRequest(style="jig", length=16))),
            await queue.submit(Order(1, ComposeRequest(style="reel", length=16))),
            await queue.submit(Order(1, ("bad", "no"))),
        ]
        await asyncio.wait_for(asyncio.gather(*(j.wait() for j in jobs)), 60)
        for job in jobs:
            await job.events_delivered()
        metrics_module.rated(5)
        metrics_module.rated(4)
        metrics_module.rated(5)
        metrics_module.posted(jobs[0])  # the front end's hook once the files are posted
        values = await asyncio.to_thread(scrape, port)
    finally:
        await queue.close(0)
        metrics.stop()
    assert values['tunesmith_jobs_started_total{style="jig"}'] == 1
    assert values['tunesmith_jobs_finished_total{state="done",style="jig"}'] == 1
    assert values['tunesmith_jobs_finished_total{state="done",style="reel"}'] == 1
    assert values['tunesmith_jobs_finished_total{state="failed",style="other"}'] == 1
    assert values['tunesmith_job_seconds_count{style="jig"}'] == 1
    assert values['tunesmith_job_latency_seconds_count{style="reel"}'] == 1
    assert values['tunesmith_job_latency_seconds_bucket{le="120.0",style="reel"}'] == 1
    assert values['tunesmith_ratings_total{stars="5"}'] == 2 and values['tunesmith_ratings_total{stars="4"}'] == 1
    assert values['tunesmith_posted_seconds_count{style="jig"}'] == 1
    assert values["tunesmith_queue_depth"] == 0 and values["tunesmith_jobs_running"] == 0
    assert values["tunesmith_workers"] == 1


async def test_settings_turn_metrics_on(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    queue = make_queue(Settings(data_dir=tmp_path, workers=1, metrics_port=port))
    try:
        assert isinstance(queue, MeteredQueue) and queue.queued == 0  # the engine's interface passes through
        values = await asyncio.to_thread(scrape, port)
        assert "tunesmith_queue_depth" in values
    finally:
        metrics_module.current.stop()
    assert not isinstance(make_queue(Settings(data_dir=tmp_path, workers=1)), MeteredQueue)  # off by default
