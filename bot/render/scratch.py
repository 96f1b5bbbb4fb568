"""Scratch directories of the sheet-music child processes (`tunesmith-sheet-*` in the temp dir), and
the sweep that removes the ones nobody will clean up.

A drawing child writes its PNG (up to ~1.5 MB) into its directory and the Renderer that started it
reads and removes it. When that Renderer's process is killed (a crash, or the job timeout), nobody
would. So each directory says whose it is: its name holds the owner's pid, and the file `owners` lists
"pid start-time" of the owner and of the child (start time: a pid reused by another process is not
mistaken for the owner). Then:
- the child removes its directory itself when it finishes and finds its owner gone;
- `sweep()` removes every directory whose owner and child are both gone; it runs when a Renderer
  starts (the next worker), when the job queue sees a worker exit (the parent), and now and then while
  drawing (`sweep_now_and_then`), so what can pile up is bounded by what died since the last sweep.

The same goes for multiprocessing's own temp directory: Celery's prefork pool (billiard) makes a
`pymp-*` directory in the worker's main process and removes it only at a clean exit, so a killed worker
left one behind for good. `own_multiprocessing_tempdir()` gives multiprocessing a `tunesmith-mp-PID-*`
directory of ours instead, which the sweep removes once its process is gone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

PREFIX = "tunesmith-sheet-"
MP_PREFIX = "tunesmith-mp-"  # multiprocessing's temp directory in a `tunesmith worker` (own_multiprocessing_tempdir)
OWNERS = "owners"
LEGACY_MAX_AGE = 3600.0  # seconds: a directory of an older version (no owners file) older than this is stale
SWEEP_EVERY = 60.0  # seconds between sweeps while drawing
_OURS = re.compile(f"(?:{re.escape(PREFIX)}|{re.escape(MP_PREFIX)})" + r"(\d+)-")
_last_sweep = 0.0


def make_dir(prefix: str = PREFIX) -> Path:
    """A new scratch directory owned by this process."""
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))
    record(path, os.getpid())
    return path


def own_multiprocessing_tempdir() -> Path:
    """Make multiprocessing (and billiard, which uses its get_temp_dir) put its files in a directory of
    ours, removed at a clean exit and by sweep() after a kill; call it before the pool starts."""
    import atexit
    import multiprocessing.process

    config = multiprocessing.process.current_process()._config
    if config.get("tempdir") and Path(config["tempdir"]).name.startswith(MP_PREFIX):
        return Path(config["tempdir"])
    path = make_dir(MP_PREFIX)
    config["tempdir"] = str(path)
    atexit.register(_remove_if_mine, path, os.getpid())  # a forked pool child leaves it to its parent
    return path


def _remove_if_mine(path: Path, pid: int) -> None:
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


def record(path: Path, pid: int) -> None:
    """Add `pid` (the owner, or the child drawing there) to the directory's owners."""
    with open(path / OWNERS, "a", encoding="ascii") as fh:
        fh.write(f"{pid} {_start_time(pid)}\n")


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), "" when unknown or gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) ": state is fields[0], start time [19]
    return "" if fields[0] in ("Z", "X") else fields[19]


def _alive(pid: int, started: str) -> bool:
    if Path("/proc/self/stat").exists():
        now = _start_time(pid)
        return bool(now) and (not started or now == started)
    try:  # not Linux: no start times, a pid is alive while it can be signalled
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _owners(path: Path) -> list[tuple[int, str]] | None:
    """[(pid, start time)] from the owners file; None when there is none (another version's directory)."""
    try:
        lines = (path / OWNERS).read_text(encoding="ascii").split("\n")
    except (OSError, UnicodeDecodeError):
        return None
    owners = []
    for line in lines:
        parts = line.split()
        if parts and parts[0].isdigit():
            owners.append((int(parts[0]), parts[1] if len(parts) > 1 else ""))
    return owners


def owner_gone(path: Path) -> bool:
    """True when the process that made `path` (the first in its owners file) has exited."""
    owners = _owners(path)
    return bool(owners) and not _alive(*owners[0])


def is_stale(path: Path, now: float | None = None) -> bool:
    """No process will use or clean `path` any more."""
    owners = _owners(path)
    if owners is None:
        match = _OURS.match(path.name)
        if match and _alive(int(match.group(1)), ""):
            return False  # being made right now: the owners file comes a moment after the directory
        try:
            age = (now or time.time()) - path.stat().st_mtime
        except OSError:
            return False
        return age > LEGACY_MAX_AGE
    return not any(_alive(pid, started) for pid, started in owners)


def sweep(root: str | Path | None = None) -> int:
    """Remove the stale scratch directories under `root` (default: the temp dir); how many."""
    global _last_sweep
    _last_sweep = time.monotonic()
    root = Path(root or tempfile.gettempdir())
    removed = 0
    try:
        entries = list(os.scandir(root))
    except OSError:
        return 0
    now = time.time()
    for entry in entries:
        ours = entry.name.startswith((PREFIX, MP_PREFIX)) and entry.is_dir(follow_symlinks=False)
        if ours and is_stale(Path(entry.path), now):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += not os.path.exists(entry.path)
    return removed


def sweep_now_and_then() -> int:
    """sweep() at most once every SWEEP_EVERY seconds (call it as often as you like)."""
    if time.monotonic() - _last_sweep < SWEEP_EVERY:
        return 0
    return sweep()
