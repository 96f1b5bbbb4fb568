"""`tunesmith eval abc|notes|feedback ...`: hands the rest of the arguments to that model's evaluator (the note
model's with the `cache` setting as its corpus cache unless the arguments name one)."""

from __future__ import annotations

import importlib
import sys

from bot.config import ConfigError, load_settings

EVALUATORS = {"abc": "model.abc.evaluate", "notes": "model.notes.evaluate", "feedback": "bot.feedback_eval"}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in EVALUATORS:
        print(
            f"usage: tunesmith eval {{{'|'.join(EVALUATORS)}}} [options]  (add --help for the options)", file=sys.stderr
        )
        return 2
    try:
        cache = load_settings().cache
    except ConfigError as exc:
        print(f"tunesmith eval: {exc}", file=sys.stderr)
        return 2
    rest = argv[1:]
    if argv[0] == "notes" and cache and not any(a.startswith("--cache") for a in rest):
        rest = [*rest, "--cache", cache]
    return int(importlib.import_module(EVALUATORS[argv[0]]).main(rest) or 0)
