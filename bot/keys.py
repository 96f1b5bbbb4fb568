"""Musical keys as people type them -> one canonical spelling: tonic + three-letter mode.

"D", "d major", "Dmaj", "K:D" -> "Dmaj";  "Em", "e minor", "Emin", "Eaeolian" -> "Emin";
"F#m", "f♯ minor" -> "F#min";  "Ador", "A dorian" -> "Ador";  "Bb mix" -> "Bbmix".
The canonical form is also a valid ABC K: value.
"""
from __future__ import annotations

import re


class KeyError_(ValueError):
    """A key we cannot read. The message says what was typed and what is allowed."""


MODES = ("maj", "min", "dor", "mix", "phr", "lyd", "loc")

# Every spelling of a mode we accept (after lower-casing and removing spaces) -> canonical mode.
_MODE_WORDS = {
    "": "maj", "maj": "maj", "major": "maj", "ion": "maj", "ionian": "maj",
    "m": "min", "min": "min", "minor": "min", "aeo": "min", "aeolian": "min",
    "dor": "dor", "dorian": "dor",
    "mix": "mix", "mixo": "mix", "mixolydian": "mix",
    "phr": "phr", "phrygian": "phr",
    "lyd": "lyd", "lydian": "lyd",
    "loc": "loc", "locrian": "loc",
}

_KEY_RE = re.compile(r"^([a-g])(#|b|sharp|flat)?(.*)$")

HELP = "a tonic A-G with an optional # or b, then a mode: e.g. D, Em, F#m, Ador, Bbmix, G major, A dorian"


def parse_key(text: str) -> str:
    """Canonical key ("Dmaj", "F#min", "Ador", "Bbmix") or KeyError_ naming the problem."""
    if not isinstance(text, str):
        raise KeyError_(f"key {text!r} is not text; use {HELP}")
    raw = text.strip()
    if len(raw) > 40:
        raise KeyError_(f"key '{raw[:40]}…' is too long; use {HELP}")
    cleaned = raw.replace("♯", "#").replace("♭", "b")
    if cleaned[:2].lower() == "k:":
        cleaned = cleaned[2:]
    cleaned = "".join(cleaned.split()).replace("-", "")
    # A capital M directly after the tonic is still minor ("EM" is rare; "Em" is common): lower-case all.
    match = _KEY_RE.match(cleaned.lower())
    if not match:
        raise KeyError_(f"key '{raw}' is not a key I know; use {HELP}")
    tonic, accidental, mode_word = match.groups()
    mode = _MODE_WORDS.get(mode_word)
    if mode is None:
        raise KeyError_(f"key '{raw}': mode '{mode_word}' is not known; use major, minor, dorian, mixolydian, "
                        f"phrygian, lydian or locrian ({HELP})")
    sign = {"#": "#", "sharp": "#", "b": "b", "flat": "b", None: ""}[accidental]
    return tonic.upper() + sign + mode


def split_key(key: str) -> tuple[str, str]:
    """("F#", "min") from a canonical key."""
    return key[:-3], key[-3:]
