"""Real parts for the broker engine's tests: a redis-server on 127.0.0.1 (random port, no disk) and
`tunesmith worker` processes. Readiness is polled (PING, the worker's node key), bounded, never slept on.

    with RedisServer() as r:                      # r.url = redis://127.0.0.1:PORT/0
        with Workers(r.url, ["w1", "w2"]) as ws:  # each `python -m bot.cli worker --name w1 --concurrency 1`
            ws.wait_ready()
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
NODE_KEY = "tunesmith:node:"


def _die_with_parent(cpu: int | None = None):
    """preexec_fn: the child is killed when the test process dies (no orphans after a killed run)."""

    def setup():
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return setup


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self):
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.dir = tempfile.mkdtemp(prefix="tunesmith-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port)

    def start(self, timeout: float = 10.0) -> None:
        for _ in range(5):  # a port taken between choosing and binding: choose again
            self.port = _free_port()
            self.proc = subprocess.Popen(
                [
                    "redis-server",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    self.dir,
                    "--protected-mode",
                    "yes",
                    "--client-output-buffer-limit",
                    "pubsub 256mb 64mb 60",
                ],  # as docker-compose.yml
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent(),
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if self.client().ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.02)
            self.stop()
        raise RuntimeError("redis-server did not start")

    def restart(self, timeout: float = 10.0) -> None:
        """Stop and start again on the same port, empty (as a Redis without persistence comes back)."""
        port = self.port
        self.stop()
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent(),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not come back")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def node(name: str) -> str:
    """The full Celery node name of a worker started with --name `name`."""
    return name if "@" in name else f"celery@{name}"


def worker_env(redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNESMITH_", "DISCORD_"))}
    env.update({"PYTHONPATH": str(ROOT), "TUNESMITH_BROKER_URL": redis_url, "TUNESMITH_LOG_LEVEL": "WARNING"})
    env.update(extra)
    return env


class Workers:
    """`tunesmith worker` processes, each in its own process group (so a test can kill one whole)."""

    def __init__(
        self,
        redis_url: str,
        names: list[str],
        *,
        function: str | None = None,
        concurrency: int = 1,
        log_dir: Path | None = None,
        cpus: dict[str, int] | None = None,
        **env: str,
    ):
        self.redis_url, self.function, self.concurrency = redis_url, function, concurrency
        self.cpus = cpus or {}  # name -> the one CPU its processes may run on (like `taskset -c N`)
        self.env = worker_env(redis_url, **env)
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="tunesmith-workers-"))
        self.procs: dict[str, subprocess.Popen] = {}
        self.names = list(names)

    def start(self, name: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "bot.cli", "worker", "--name", name, "--concurrency", str(self.concurrency)]
        if self.function:
            cmd += ["--function", self.function]
        out = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(self.cpus.get(name)),
        )
        out.close()
        self.procs[name] = proc
        return proc

    def wait_ready(self, names: list[str] | None = None, timeout: float = 60.0) -> None:
        client = redis.Redis.from_url(self.redis_url)
        deadline = time.monotonic() + timeout
        for name in names or self.names:
            while not client.exists(NODE_KEY + node(name)):
                if self.procs[name].poll() is not None:
                    raise RuntimeError(
                        f"worker {name} exited ({self.procs[name].returncode}): {self.log(name)[-2000:]}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"worker {name} not ready in {timeout} s: {self.log(name)[-2000:]}")
                time.sleep(0.05)

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def kill_whole(self, name: str) -> None:
        """kill -9 the worker's main process and its pool children (a machine lost)."""
        proc = self.procs[name.split("@")[-1]]
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)

    def stop(self, name: str, timeout: float = 15.0) -> None:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def __enter__(self) -> Workers:
        for name in self.names:
            self.start(name)
        return self

    def __exit__(self, *exc) -> None:
        for name in list(self.procs):
            self.stop(name)
        for proc in self.procs.values():  # pool children left behind by a killed main process
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
