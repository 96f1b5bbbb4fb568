"""`tunesmith eval abc|notes ...`: hands the rest of the arguments to that model's evaluator."""
from __future__ import annotations

import importlib
import sys

EVALUATORS = {"abc": "model.abc.evaluate", "notes": "model.notes.evaluate"}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in EVALUATORS:
        print(f"usage: tunesmith eval {{{'|'.join(EVALUATORS)}}} [options]  (add --help for the options)", file=sys.stderr)
        return 2
    return int(importlib.import_module(EVALUATORS[argv[0]]).main(argv[1:]) or 0)
