"""Files named on the command line (`--out DIR`, `--continue TUNE.abc`, `render TUNE.abc`): checked
before any work starts, read with a bound, and every problem a `FileArgError` (a ValueError) whose
message names the option and the path.

- an input must be a regular file: /dev/zero would be read until memory runs out, a FIFO blocks
  forever, a directory is no tune; it is read up to a limit, never more.
- an output directory is checked without creating anything: every existing part of the path must
  be a directory, and the deepest existing one must take a new entry (probed with a temporary
  directory that is removed at once; a read-only or foreign path fails here even for root).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


class FileArgError(ValueError):
    """A path given on the command line cannot be used; the message says which and why."""


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_input(name: str, option: str, limit: int) -> bytes:
    """The bytes of the regular file `name`; FileArgError when the name is empty, the file is missing,
    is not a regular file, cannot be read or holds more than `limit` bytes."""
    if not name:
        raise FileArgError(f"{option} is empty; name an ABC file")
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; whatever was opened is checked below
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileArgError(f"{option} {name}: no such file") from None
    except OSError as exc:
        raise FileArgError(f"{option} {name}: cannot open it ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise FileArgError(f"{option} {name} is {_kind(mode)}, not a regular file; name an ABC file")
    with os.fdopen(fd, "rb") as fh:
        try:
            data = fh.read(limit + 1)  # a file that grows, or a /proc file that says size 0, stops here too
        except OSError as exc:
            raise FileArgError(f"{option} {name}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise FileArgError(f"{option} {name} is over {limit:,} bytes; one tune must be under that size")
    return data


def check_out_dir(name: str, option: str = "--out") -> Path:
    """`name` as a Path if files can be written there (it may not exist yet); FileArgError otherwise.
    Creates nothing."""
    if not name:
        raise FileArgError(f"{option} is empty; name a directory for the files (it is created if missing)")
    path = Path(name)
    existing = path
    while True:
        try:
            mode = existing.stat().st_mode
            break
        except FileNotFoundError:
            existing = existing.parent
        except NotADirectoryError:  # a part of the path is a file: find which
            existing = existing.parent
        except OSError as exc:
            raise FileArgError(f"{option} {name}: cannot use {existing} ({exc.strerror or exc})") from None
    if not stat.S_ISDIR(mode):
        what = f"{option} {name} is" if existing == path else f"{option} {name}: {existing} is"
        raise FileArgError(f"{what} {_kind_of_file(mode)}, not a directory; name a directory for the files")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".tunesmith-probe-", dir=existing))
    except OSError as exc:
        raise FileArgError(f"{option} {name}: cannot write in {existing} ({exc.strerror or exc})") from None
    return path


def _kind_of_file(mode: int) -> str:
    return "a file" if stat.S_ISREG(mode) else _kind(mode)
