"""The sheet-music scratch directories (`tunesmith-sheet-*`) do not outlive the processes that use them:
a worker killed while its child draws (job timeout, crash) leaves nothing behind for good. Real
processes: the job queue, worker processes, verovio children; waits are on process exits (pidfd)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from bot.config import Settings
from bot.engine.base import Order
from bot.engine.local import JobQueue
from bot.render import scratch
from bot.render.sheet import SheetDrawer

LONG = "X:1\nT:Long\nM:4/4\nL:1/8\nK:G\n" + "GABG dGBG|c2ec BdgB|AGAB cBAG|FGAF DEFA|\n" * 40


def work(request, progress=None):
    """Worker function (runs in a job-queue worker process): start a drawing, say where, then die."""
    if request == "ok":
        return "ready"
    job = SheetDrawer().start(LONG)
    progress(f"{job._child.dir} {job._child.proc.pid}")
    if request == "hang":  # the job timeout kills this process while its child draws
        threading.Event().wait()
    if request == "crash":  # verovio's process dies too, then this one
        job._child.proc.kill()
        job._child.proc.wait()
        os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError(request)


def wait_exit(pid: int, timeout: float = 120) -> None:
    """Block until process `pid` (not necessarily our child) has exited."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, f"process {pid} still running after {timeout} s"
    finally:
        os.close(fd)


@pytest.fixture
def tmpdir_here(tmp_path, monkeypatch) -> Path:
    """Temp files of this process and of every process it starts go to tmp_path."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def sheet_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.name.startswith(scratch.PREFIX))


@pytest.mark.parametrize("how", ["hang", "crash"])
async def test_a_worker_killed_while_drawing_leaves_no_directory(tmpdir_here, how):
    stages = []

    async def on_progress(event):
        stages.append(event.stage)

    q = JobQueue(Settings(data_dir=tmpdir_here, workers=1, job_timeout=5.0), worker=work)
    await q.start()
    try:
        warm = await q.submit(Order(1, "ok"))  # the worker process is up before the timed job starts
        await warm.wait()
        job = await q.submit(Order(1, how, on_progress=on_progress))
        await job.wait()
        await job.events_delivered()
    finally:
        await q.close(0)  # joins the worker's reader, which sweeps after the worker is gone
    assert job.state == ("timed_out" if how == "hang" else "failed"), job.error
    folder, child_pid = next(s for s in stages if s.startswith(str(tmpdir_here))).split()
    wait_exit(int(child_pid))  # a child still drawing when its worker died cleans up when it finishes
    assert not Path(folder).exists()
    assert sheet_dirs(tmpdir_here) == []


def test_a_child_whose_owner_died_while_it_drew_removes_its_folder(tmpdir_here):
    owner = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    folder = Path(tempfile.mkdtemp(prefix=f"{scratch.PREFIX}{owner.pid}-"))
    scratch.record(folder, owner.pid)
    (folder / "tune.abc").write_text(LONG)
    child = subprocess.Popen(
        [sys.executable, "-m", "bot.render.sheet", "--serve", str(folder)],
        stdin=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    owner.kill()
    owner.wait()  # the owner is gone before the child has drawn anything
    child.communicate(b"abc\n", timeout=120)
    assert child.returncode == 0 and not folder.exists()


def test_a_child_whose_owner_lives_keeps_its_picture(tmpdir_here):
    folder = scratch.make_dir()
    (folder / "tune.abc").write_text("X:1\nM:4/4\nL:1/8\nK:D\nABcd efga|\n")
    child = subprocess.Popen(
        [sys.executable, "-m", "bot.render.sheet", "--serve", str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        child.stdin.write(b"abc\n")
        child.stdin.flush()
        assert child.stdout.readline() == b"ok 1\n"  # waits for the answer
        assert (folder / "page-1.png").read_bytes()[:4] == b"\x89PNG"
        assert scratch.sweep() == 0 and folder.exists()  # ours, and we are alive
    finally:
        child.stdin.close()  # done with it: the child ends
        assert child.wait(timeout=60) == 0


def test_the_next_start_sweeps_what_dead_processes_left(tmpdir_here):
    code = "from bot.render import scratch; d = scratch.make_dir(); (d / 'tune.png').write_bytes(bytes(1_500_000)); print(d)"
    made = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    dead = Path(made.stdout.strip())  # its process has exited without cleaning up, as a killed one would
    live = scratch.make_dir()  # this process's: in use
    old_legacy = tmpdir_here / f"{scratch.PREFIX}k3j2h1"  # an older version's, long abandoned
    old_legacy.mkdir()
    (old_legacy / "tune.png").write_bytes(b"x")
    an_hour_ago = time.time() - scratch.LEGACY_MAX_AGE - 60
    os.utime(old_legacy, (an_hour_ago, an_hour_ago))
    new_legacy = tmpdir_here / f"{scratch.PREFIX}q9w8e7"  # could be in use by an older version still running
    new_legacy.mkdir()
    unrelated = tmpdir_here / "tunesmith-abc2midi-keep"
    unrelated.mkdir()
    assert dead.is_dir() and (dead / "tune.png").stat().st_size == 1_500_000

    drawer = SheetDrawer()  # what a worker does when it starts
    drawer.close()
    assert sorted(sheet_dirs(tmpdir_here)) == sorted([live, new_legacy]) and unrelated.is_dir()


def test_a_reused_pid_is_not_mistaken_for_the_owner(tmpdir_here):
    folder = scratch.make_dir()
    (folder / scratch.OWNERS).write_text(f"{os.getpid()} 1\n")  # our pid, but another start time
    assert scratch.is_stale(folder)
    assert scratch.sweep() == 1 and not folder.exists()
