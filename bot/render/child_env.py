"""The environment the renderer's child processes get (abc2midi, the sheet-drawing Python, ffmpeg).

The worker's own environment holds secrets (DISCORD_TOKEN, TUNESMITH_BROKER_URL with the Redis password);
a tool that could be talked into reading `/proc/self/environ` must find none there. So a child gets only
the variables it needs to run (KEEP) and, for the sheet child, the path to this project's code.
"""

from __future__ import annotations

import os
from pathlib import Path

KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "XDG_CACHE_HOME", "FONTCONFIG_PATH")
PROJECT_ROOT = str(Path(__file__).resolve().parent.parent.parent)  # where `import bot` finds this code


def child_env(*, python: bool = False) -> dict[str, str]:
    """The variables of KEEP that are set (PATH defaults to the usual one); with `python`, PYTHONPATH
    names the project so `python -m bot.render.sheet` runs this very code."""
    env = {name: os.environ[name] for name in KEEP if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    if python:
        env["PYTHONPATH"] = PROJECT_ROOT
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env
