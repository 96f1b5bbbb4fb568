"""A heartbeat file in the data dir: the running bot touches it, `tunesmith doctor --health`
(the Docker HEALTHCHECK) reads its age. A file works across the container boundary with no port."""

from __future__ import annotations

import time
from pathlib import Path

HEARTBEAT_NAME = "heartbeat"
MAX_AGE_SECONDS = 180.0


def heartbeat_path(data_dir: Path) -> Path:
    return Path(data_dir) / HEARTBEAT_NAME


def touch_heartbeat(data_dir: Path, state: str = "connected") -> None:
    """Record that the bot is alive (call every ~30 s while connected)."""
    path = heartbeat_path(data_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{time.time():.0f} {state}\n")
    tmp.replace(path)


def heartbeat_age(data_dir: Path) -> tuple[float, str] | None:
    """(seconds since the last beat, state), or None when there is no heartbeat file."""
    try:
        stamp, _, state = heartbeat_path(data_dir).read_text().strip().partition(" ")
        return time.time() - float(stamp), state
    except (OSError, ValueError):
        return None
