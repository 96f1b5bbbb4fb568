"""`tunesmith train abc|notes ...` and `tunesmith eval abc|notes|feedback ...`: hand the rest of the
arguments to that model's trainer or evaluator, with the `cache` setting (TUNESMITH_CACHE) as its cache
directory unless the arguments name one."""

from __future__ import annotations

import importlib
import sys

from bot.config import ConfigError, load_settings

TRAINERS = {"abc": "model.abc.train", "notes": "model.notes.train"}
EVALUATORS = {"abc": "model.abc.evaluate", "notes": "model.notes.evaluate", "feedback": "bot.feedback_eval"}
CACHE_FLAGS = {  # (verb, kind) -> how that command takes the cache directory
    ("train", "abc"): ("--run-dir", "/runs/abc"),
    ("train", "notes"): ("--cache", ""),
    ("eval", "notes"): ("--cache", ""),
}


def with_cache(kind: str, argv: list[str], cache: str, verb: str = "train") -> list[str]:
    """argv plus the cache setting, where the command takes one and argv does not set it."""
    flag = CACHE_FLAGS.get((verb, kind))
    if not cache or flag is None or any(a.startswith(flag[0]) for a in argv):
        return argv
    return [*argv, flag[0], cache + flag[1]]


def dispatch(verb: str, table: dict[str, str], argv: list[str]) -> int:
    if not argv or argv[0] not in table:
        print(f"usage: tunesmith {verb} {{{'|'.join(table)}}} [options]  (add --help for the options)", file=sys.stderr)
        return 2
    try:
        cache = load_settings().cache
    except ConfigError as exc:
        print(f"tunesmith {verb}: {exc}", file=sys.stderr)
        return 2
    return int(importlib.import_module(table[argv[0]]).main(with_cache(argv[0], argv[1:], cache, verb)) or 0)


def main(argv: list[str]) -> int:
    return dispatch("train", TRAINERS, argv)


def eval_main(argv: list[str]) -> int:
    return dispatch("eval", EVALUATORS, argv)
