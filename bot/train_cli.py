"""`tunesmith train abc|notes ...`: hands the rest of the arguments to that model's trainer, with the
`cache` setting (TUNESMITH_CACHE) as its cache directory unless the arguments name one."""

from __future__ import annotations

import importlib
import sys

from bot.config import ConfigError, load_settings

TRAINERS = {"abc": "model.abc.train", "notes": "model.notes.train"}


def with_cache(kind: str, argv: list[str], cache: str) -> list[str]:
    """argv plus the cache setting, where the trainer/evaluator takes one and argv does not set it."""
    if not cache:
        return argv
    if kind == "abc":
        return argv if any(a.startswith("--run-dir") for a in argv) else [*argv, "--run-dir", f"{cache}/runs/abc"]
    return argv if any(a.startswith("--cache") for a in argv) else [*argv, "--cache", cache]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TRAINERS:
        print(
            f"usage: tunesmith train {{{'|'.join(TRAINERS)}}} [options]  (add --help for the options)", file=sys.stderr
        )
        return 2
    try:
        cache = load_settings().cache
    except ConfigError as exc:
        print(f"tunesmith train: {exc}", file=sys.stderr)
        return 2
    return int(importlib.import_module(TRAINERS[argv[0]]).main(with_cache(argv[0], argv[1:], cache)) or 0)
