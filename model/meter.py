"""The one meter module and the one rhythm table (pure; no torch).

    spell_meter(" C| ") == "2/2"        spell_meter("6/8") == "6/8"   (as written; not checked)
    normalise_meter("C|") == "4/4"      the meter as the ABC model writes it; ValueError when unreadable
    infer_rhythm("Double Jigs", "", "6/8") == "jig"

RHYTHM_METERS is the model side's list of the rhythms the ABC model is trained on, with their meters.
The style table (bot/styles.py) is the source of what users can ask for; every ABC style's rhythm
label is one of these, with the same meter (tests/test_import_rules.py checks it), and the model-side
lists (model/abc/evaluate.py's STYLES, the meter guess of `infer_rhythm`) derive from this one.
"""

from __future__ import annotations

import re

METER_ALIASES = {"C": "4/4", "C|": "2/2"}  # common time and cut time, as ABC defines them

# The rhythms the ABC model knows, with their meters, in the order evaluations sample them.
RHYTHM_METERS = {
    "jig": "6/8",
    "reel": "4/4",
    "hornpipe": "4/4",
    "strathspey": "4/4",
    "slip jig": "9/8",
    "march": "2/4",
    "waltz": "3/4",
}
# The rhythm a tune without an R: label or a title hint is taken to be: the first of its meter.
METER_RHYTHM = {meter: rhythm for rhythm, meter in reversed(RHYTHM_METERS.items())}

# R: labels as collections write them (lower case, a plural s or a full stop removed) -> the rhythm.
RHYTHM_ALIASES = {
    "double jig": "jig",
    "single jig": "jig",
    "jig": "jig",
    "slipjig": "slip jig",
    "slip jig": "slip jig",
    "reel": "reel",
    "hornpipe": "hornpipe",
    "strathspey": "strathspey",
    "clog": "hornpipe",
    "polka": "polka",
    "waltz": "waltz",
    "march": "march",
    "air": "air",
    "set dance": "set dance",
    "long dance": "set dance",
    "quickstep": "march",
    "quick step": "march",
    "country dance": "reel",
}
# Words in a title that name the rhythm, the longer names first ("slip jig" before "jig").
TITLE_HINTS = [
    ("slip jig", "slip jig"),
    ("strathspey", "strathspey"),
    ("hornpipe", "hornpipe"),
    ("reel", "reel"),
    ("jig", "jig"),
    ("march", "march"),
    ("quick step", "march"),
    ("quickstep", "march"),
    ("waltz", "waltz"),
    ("polka", "polka"),
    ("air", "air"),
]


def spell_meter(text: str) -> str:
    """An M: value with spaces removed and C / C| spelled out ('6/8', '2/2'); not checked ('' stays '')."""
    m = text.strip().replace(" ", "")
    return METER_ALIASES.get(m, m)


def normalise_meter(text: str) -> str:
    """An M: value as the model writes it: 'C' and 'C|' spelled out, and 2/2 as 4/4 (the same bar length;
    the corpora write reels both ways and the model learns one)."""
    m = spell_meter(text.split("%")[0])
    if not re.fullmatch(r"\d+/\d+", m) or 0 in (int(n) for n in m.split("/")):  # not 0/4, 4/0
        raise ValueError(f"unsupported meter {text.strip()!r}")
    return "4/4" if m == "2/2" else m


def infer_rhythm(label: str, title: str, meter: str) -> str:
    """R: label, else a hint in the title, else a guess from the meter (6/8 jig, 9/8 slip jig, ...)."""
    lab = label.strip().lower().rstrip("s.")
    if lab in RHYTHM_ALIASES:
        return RHYTHM_ALIASES[lab]
    low = title.lower()
    for hint, rhythm in TITLE_HINTS:
        if re.search(rf"\b{hint}\b", low):
            return rhythm
    return METER_RHYTHM.get(meter, "other")
