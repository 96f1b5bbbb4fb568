"""Worker processes and the typed messages between them and the job queue (bot/engine/local.py).

Each worker process runs `worker_main`: it receives RunJob, calls the worker function, and answers with
Progress messages and one outcome (Done, Failed for the user's fault, Crashed for ours). The main process
holds a WorkerProcess per slot: a pipe, and a thread that turns replies into items of an asyncio.Queue,
so the event loop never blocks on the pipe. When the process ends, the thread adds Exited.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import traceback
from dataclasses import dataclass
from typing import Any

from bot.render import scratch


@dataclass(frozen=True)
class RunJob:
    job_id: str
    request: Any


@dataclass(frozen=True)
class Progress:
    job_id: str
    stage: str  # "composing" / "rendering"


@dataclass(frozen=True)
class Done:
    job_id: str
    result: Any


@dataclass(frozen=True)
class Failed:
    job_id: str
    error: str  # the user's fault (a ValueError in the worker): safe to show


@dataclass(frozen=True)
class Crashed:
    job_id: str | None
    error: str  # "ExcType: message" (logged; the user gets a short note)
    traceback: str


@dataclass(frozen=True)
class Exited:
    job_id: None
    code: int | None  # the process's exit code


Reply = Progress | Done | Failed | Crashed | Exited


def worker_main(conn, func, initializer) -> None:
    """Loop in a worker process: receive RunJob, send Progress messages and one outcome."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's business
    if initializer is not None:
        try:
            initializer()
        except Exception:  # the job will meet the same problem and report it
            traceback.print_exc()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if not isinstance(message, RunJob):
            return
        job_id = message.job_id

        def progress(stage: str, _job_id=job_id) -> None:
            conn.send(Progress(_job_id, str(stage)))

        try:
            conn.send(Done(job_id, func(message.request, progress=progress)))
        except ValueError as exc:
            conn.send(Failed(job_id, str(exc) or type(exc).__name__))
        except Exception as exc:
            conn.send(Crashed(job_id, f"{type(exc).__name__}: {exc}", traceback.format_exc()))


class WorkerProcess:
    """Main-process handle on one worker process: a pipe, and a thread that turns its replies
    into items of an asyncio.Queue (the event loop never blocks on the pipe)."""

    def __init__(self, ctx, func, initializer, loop: asyncio.AbstractEventLoop, name: str):
        self.loop = loop
        self.messages: asyncio.Queue[Reply] = asyncio.Queue()
        parent, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child, func, initializer), name=name, daemon=True)
        self.process.start()
        child.close()
        self.conn = parent
        self.exited = False  # set when it died or was killed: the slot starts a new one
        self._reader = threading.Thread(target=self._read, name=name + "-reader", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def _put(self, item: Reply) -> None:
        try:
            self.loop.call_soon_threadsafe(self.messages.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass

    def _read(self) -> None:
        while True:
            try:
                item = self.conn.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # a reply that does not unpickle
                item = Crashed(None, f"unreadable reply from the worker: {exc}", "")
            self._put(item)
        self.exited = True
        self.process.join()
        scratch.sweep()  # a worker killed while drawing leaves its sheet directory; clean it up now
        self._put(Exited(None, self.process.exitcode))

    def send(self, job_id: str, request: Any) -> None:
        self.conn.send(RunJob(job_id, request))

    def kill(self) -> None:
        self.exited = True
        if self.process.exitcode is None:
            try:
                self.process.kill()
            except (OSError, ValueError):
                pass

    async def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to leave, kill it if it does not, and wait for it."""
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.process.join, timeout)
        if self.process.exitcode is None:
            self.kill()
            await loop.run_in_executor(None, self.process.join, timeout)
        await loop.run_in_executor(None, self._reader.join, timeout)
        self.conn.close()
