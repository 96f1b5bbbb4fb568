"""`tunesmith worker`: compose tunes for a bot that has TUNESMITH_BROKER_URL set (Celery on Redis).

Run one per machine (or per container) next to the same Redis; each runs --concurrency jobs at once in a
prefork pool (default TUNESMITH_WORKERS), with models and the soundfont loaded once per pool process.
One pool process uses about one core (torch runs on one thread per process).
"""

from __future__ import annotations

import argparse
import logging
import sys

from bot.config import ConfigError, load_settings

log = logging.getLogger("tunesmith.worker")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tunesmith worker", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--concurrency", "-c", type=int, default=None, help="jobs at once in this worker (default TUNESMITH_WORKERS)"
    )
    parser.add_argument("--name", "-n", default=None, help="node name, unique per worker (default from host and pid)")
    parser.add_argument("--function", default=None, help=argparse.SUPPRESS)  # tests/benches: "module:func"
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"tunesmith worker: {exc}", file=sys.stderr)
        return 2
    if not settings.broker_url:
        print(
            "tunesmith worker: TUNESMITH_BROKER_URL is not set; it must name the Redis the bot uses, "
            "e.g. redis://:password@redis-host:6379/0 (see README, Scaling out)",
            file=sys.stderr,
        )
        return 2
    concurrency = args.concurrency or settings.workers
    if concurrency < 1:
        print("tunesmith worker: --concurrency must be at least 1", file=sys.stderr)
        return 2

    from bot.engine import celery_app
    from bot.render import scratch

    scratch.sweep()  # what killed workers before us left (sheet and multiprocessing directories)
    scratch.own_multiprocessing_tempdir()  # billiard's files in a directory the sweep can clean after a kill

    logging.basicConfig(
        stream=sys.stdout, level=settings.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    if args.function:
        celery_app.use_function(celery_app.load_function(args.function), None)
    else:
        celery_app.use_function(*celery_app.default_function(settings))
    app = celery_app.make_app(settings)
    name = celery_app.node_name(args.name)
    beat = celery_app.NodeBeat(app, name)
    beat.start()
    log.info("worker %s: %d pool process(es) on %s", name, concurrency, _safe(settings))
    try:
        app.worker_main(
            [
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(concurrency),
                "--hostname",
                name,
                "--queues",
                celery_app.QUEUE,
                "--loglevel",
                settings.log_level,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
        )
    finally:
        beat.stop()
    return 0


def _safe(settings) -> str:
    return settings.masked()["broker_url"]
