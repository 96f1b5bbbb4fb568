"""Musical traits of one ABC tune that a community might like or dislike, measured on the text alone
(the tune as posted, in any key): its mode, how much it repeats itself, how wide its range is.

    t = traits(abc)   # {"mode": "dor", "minor": True, "bars": 32, "repeated_bars": 0.19, ...}

- minor: the mode is minor or dorian (K:Em, K:Ador ...);
- repeated_bars: share of bars (as written) whose notes and lengths equal an earlier bar's;
  repetitive: at least REPEATED_BARS such bars (the shipped model repeats a bar exactly in ~1 tune of 5);
- range_steps: highest minus lowest note in scale steps (an octave is 7); narrow: at most NARROW_STEPS.
"""

from __future__ import annotations

from model.abc.elements import Bar, Note
from model.abc.notation import parse_tune

REPEATED_BARS = 1  # a tune "repeats itself" when this many bars equal an earlier bar
NARROW_STEPS = 10  # a "narrow" tune spans at most 10 scale steps (an eleventh); human tunes ~10-12
TRAITS = ("minor", "repetitive", "narrow")


def bars_of(elements) -> list[tuple]:
    """The bars of a tune body as tuples of (pitches, length) per note; empty bars dropped."""
    bars, current = [], []
    for e in elements:
        if isinstance(e, Bar):
            if current:
                bars.append(tuple(current))
            current = []
        elif isinstance(e, Note):
            current.append((tuple(e.pitches), e.length))
    if current:
        bars.append(tuple(current))
    return bars


def traits(abc: str) -> dict:
    """The traits of one tune (ValueError/AbcError if it does not parse)."""
    tune = parse_tune(abc)
    bars = bars_of(tune.elements)
    seen, repeated = set(), 0
    for bar in bars:
        repeated += bar in seen
        seen.add(bar)
    steps = [step for e in tune.elements if isinstance(e, Note) for _acc, step in e.pitches]
    share = repeated / len(bars) if bars else 0.0
    range_steps = max(steps) - min(steps) if steps else 0
    return {
        "mode": tune.key.mode,
        "minor": tune.key.mode in ("min", "dor"),
        "bars": len(bars),
        "repeated_bars": round(share, 4),
        "repetitive": repeated >= REPEATED_BARS,
        "range_steps": range_steps,
        "narrow": range_steps <= NARROW_STEPS,
    }
