"""Chord fit of human tunes and of composed ones, for every ABC style of the style table
(model/abc/harmony_eval.py measures; the style table is the bot's, so the composing side lives here).

    PYTHONPATH=. python bench/harmony.py [--generated 40]
"""

from __future__ import annotations

import argparse

from bot.styles import STYLES
from model.abc.harmony_eval import generated, human_reference

ORDER = ("jig", "reel", "hornpipe", "strathspey", "slip jig", "polka", "waltz", "march")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--generated", type=int, default=0, help="also compose and measure this many tunes")
    args = ap.parse_args()
    print(human_reference())
    if args.generated:
        styles = [(STYLES[n].name, STYLES[n].rhythm, STYLES[n].meter) for n in ORDER if n in STYLES]
        print(generated(args.generated, styles))


if __name__ == "__main__":
    main()
