"""Continue N of the sampler's own tunes, sent back through the request parser as the bot does
(printed, not asserted). Run: python bench/continue_own.py [N]   (default 200)"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.requests import from_options
from model.abc.evaluate import STYLES, abc2midi_ok
from model.abc.sample import AbcPrompt, compose_abc, load_abc_model


def main(n: int) -> None:
    model, ok = load_abc_model(), 0
    for i in range(n):
        style, meter = STYLES[i % len(STYLES)]
        g = compose_abc(model, AbcPrompt(style, meter, "1/8", None, bars=32, seed=1000 + i, candidates=2))
        user = from_options(style="jig", continue_abc=g.abc).continue_abc
        try:
            more = compose_abc(
                model,
                AbcPrompt(style, meter, "1/8", None, bars=g.bars_written + 8, seed=i, prime_abc=user, candidates=2),
            )
            ok += abc2midi_ok(more.abc)
        except ValueError as e:
            print(f"seed {1000 + i}: {e}\n{g.abc}")
    print(f"continued {ok} of {n} of our own tunes")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
