"""`tunesmith train abc|notes ...`: hands the rest of the arguments to that model's trainer."""
from __future__ import annotations

import importlib
import sys

TRAINERS = {"abc": "model.abc.train", "notes": "model.notes.train"}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TRAINERS:
        print(f"usage: tunesmith train {{{'|'.join(TRAINERS)}}} [options]  (add --help for the options)", file=sys.stderr)
        return 2
    return int(importlib.import_module(TRAINERS[argv[0]]).main(argv[1:]) or 0)
