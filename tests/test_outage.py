"""Operations around a lost Redis or a killed worker (issue 21): an outage is logged once and then with a
back-off, not every second; Celery cancels running tasks when the broker connection is lost; a killed
`tunesmith worker` leaves no multiprocessing temp directory behind for good. Real processes; the outage
log is driven by a given clock (no sleeps)."""

from __future__ import annotations

import glob
import logging
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bot.config import Settings
from bot.engine.celery_app import make_app
from bot.outage import Outage
from bot.render import scratch


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_logged_once_then_with_a_back_off(caplog):
    caplog.set_level(logging.INFO, logger="tunesmith.test")
    clock = Clock()
    outage = Outage("Redis", logging.getLogger("tunesmith.test"), clock=clock)
    waits = []
    for _ in range(600):  # ten minutes of a round a second, all failing
        waits.append(outage.failed(ConnectionError("Error 111 connecting to localhost:6379. Connection refused.")))
        clock.now += 1.0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert 1 < len(errors) <= 6, [r.getMessage() for r in errors]  # at 0, 30, 90, 210, 450 s
    assert "Connection refused" in errors[0].getMessage() and "still failing after 30 s" in errors[1].getMessage()
    assert waits[:5] == [1.0, 2.0, 4.0, 8.0, 10.0] and max(waits) == 10.0
    outage.ok()
    outage.ok()
    back = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert back == ["Redis: working again after 600 s (600 failed tries)"]
    outage.failed(OSError("again"))  # a new outage is news again
    assert [r.levelno for r in caplog.records][-1] == logging.ERROR and outage.failures == 1


def test_celery_cancels_running_tasks_when_the_broker_connection_is_lost():
    app = make_app(Settings(broker_url="redis://127.0.0.1:1/0"))  # nothing connects at construction
    assert app.conf.worker_cancel_long_running_tasks_on_connection_loss is True


CHILD = """
import billiard, sys
from bot.render import scratch
path = scratch.own_multiprocessing_tempdir()
pool = billiard.Pool(1)  # Celery's prefork pool: it puts its files in multiprocessing's temp directory
print(path, pool._pool[0].pid, flush=True)
sys.stdin.read()
"""


def test_a_killed_worker_leaves_no_multiprocessing_temp_dir_for_good():
    """Without our directory billiard makes a `pymp-*` one that only a clean exit removes."""
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "pymp-*")))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    try:
        where, pool_pid = proc.stdout.readline().split()  # the pool is up
        path = Path(where)
        assert path.name.startswith(f"{scratch.MP_PREFIX}{proc.pid}-") and path.is_dir()
        assert not scratch.is_stale(path)  # its process lives: the sweep leaves it alone
        scratch.sweep()
        assert path.is_dir()
    finally:
        proc.kill()  # the worker dies whole (kill -9); then its pool child, which would notice by itself
        proc.wait()
    try:
        os.kill(int(pool_pid), signal.SIGKILL)
    except ProcessLookupError:
        pass
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "pymp-*"))) == before  # no pymp-* made
    scratch.sweep()
    assert not path.exists()
