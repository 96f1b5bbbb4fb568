"""The one Key type and the one key parser, for every model and front end (pure; no torch).

    parse_key("F#m") == Key("F#", "min");  .name "F#min"  .abc() "F#m"  .human "F# minor"
    "D", "d major", "K:D", "G Ionian" -> Dmaj;   "Em", "e minor", "Eaeolian" -> Emin;
    "Ador", "A dorian" -> Ador;   "Bb mix", "B flat mixolydian" -> Bbmix;   "f♯ minor" -> F#min

Modes are the seven church modes by their three-letter names. A key with more than seven sharps or
flats is respelled (G#maj -> Abmaj). Which modes a model can write is the model's own check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODES = ("maj", "min", "dor", "mix", "phr", "lyd", "loc")
MODE_NAMES = {
    "maj": "major",
    "min": "minor",
    "dor": "dorian",
    "mix": "mixolydian",
    "phr": "phrygian",
    "lyd": "lydian",
    "loc": "locrian",
}
MODE_FIFTHS = {"lyd": 1, "maj": 0, "mix": -1, "dor": -2, "min": -3, "phr": -4, "loc": -5}  # vs the major key
ABC_MODE = {"maj": "", "min": "m", "dor": "dor", "mix": "mix", "phr": "phr", "lyd": "lyd", "loc": "loc"}
# The one scale table: semitones above the tonic of each mode's seven degrees.
SCALES = {
    "maj": (0, 2, 4, 5, 7, 9, 11),
    "min": (0, 2, 3, 5, 7, 8, 10),
    "dor": (0, 2, 3, 5, 7, 9, 10),
    "mix": (0, 2, 4, 5, 7, 9, 10),
    "phr": (0, 1, 3, 5, 7, 8, 10),
    "lyd": (0, 2, 4, 6, 7, 9, 11),
    "loc": (0, 1, 3, 5, 6, 8, 10),
}

# Every spelling of a mode we accept (lower case, spaces removed) -> the mode.
MODE_WORDS = {
    "": "maj",
    "maj": "maj",
    "major": "maj",
    "ion": "maj",
    "ionian": "maj",
    "m": "min",
    "min": "min",
    "minor": "min",
    "aeo": "min",
    "aeolian": "min",
    "dor": "dor",
    "dorian": "dor",
    "mix": "mix",
    "mixo": "mix",
    "mixolydian": "mix",
    "phr": "phr",
    "phrygian": "phr",
    "lyd": "lyd",
    "lydian": "lyd",
    "loc": "loc",
    "locrian": "loc",
}
HELP = "a tonic A-G with an optional # or b, then a mode: e.g. D, Em, F#m, Ador, Bbmix, G major, A dorian"

LETTERS = "CDEFGAB"
NATURAL_SEMITONES = (0, 2, 4, 5, 7, 9, 11)  # C D E F G A B
_LETTER_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F": -1}
_KEY_RE = re.compile(r"^([a-g])(#|b|sharp|flat)?(.*)$")


class KeyParseError(ValueError):
    """A key we cannot read. The message says what was typed and what is allowed."""


@dataclass(frozen=True)
class Key:
    tonic: str  # letter with optional '#' or 'b', e.g. "F#"
    mode: str  # one of MODES

    @property
    def letter(self) -> str:
        return self.tonic[0]

    @property
    def alter(self) -> int:
        return {"": 0, "#": 1, "b": -1}[self.tonic[1:]]

    @property
    def fifths(self) -> int:
        """Sharps (>0) or flats (<0) in the key signature."""
        return _LETTER_FIFTHS[self.letter] + 7 * self.alter + MODE_FIFTHS[self.mode]

    @property
    def pitch_class(self) -> int:
        return (NATURAL_SEMITONES[LETTERS.index(self.letter)] + self.alter) % 12

    @property
    def name(self) -> str:
        """Canonical name, as requests store it: 'Dmaj', 'F#min'."""
        return self.tonic + self.mode

    @property
    def human(self) -> str:
        """'D major', 'A dorian'."""
        return f"{self.tonic} {MODE_NAMES[self.mode]}"

    def abc(self) -> str:
        """The K: value for standard ABC readers: 'D', 'Em', 'Ador', 'Gmix'."""
        return self.tonic + ABC_MODE[self.mode]

    def respelled(self) -> Key:
        """The enharmonic spelling with at most 7 sharps or flats (G#maj -> Abmaj)."""
        if -7 <= self.fifths <= 7:
            return self
        i = LETTERS.index(self.letter)
        semis = NATURAL_SEMITONES[i] + self.alter
        step = 1 if self.fifths > 7 else -1
        letter = LETTERS[(i + step) % 7]
        alter = (semis - NATURAL_SEMITONES[LETTERS.index(letter)] + 6) % 12 - 6
        return Key(letter + {0: "", 1: "#", -1: "b"}[alter], self.mode)


def parse_key(text: str) -> Key:
    """Any key as people or ABC files write it -> Key, or KeyParseError naming the problem."""
    if not isinstance(text, str):
        raise KeyParseError(f"key {text!r} is not text; use {HELP}")
    raw = text.split("%")[0].strip()
    if len(raw) > 40:
        raise KeyParseError(f"key '{raw[:40]}…' is too long; use {HELP}")
    cleaned = raw.replace("♯", "#").replace("♭", "b")
    if cleaned[:2].lower() == "k:":
        cleaned = cleaned[2:]
    cleaned = "".join(cleaned.split()).replace("-", "")
    # A capital M right after the tonic is still minor ("EM" is rare; "Em" is common): lower-case all.
    match = _KEY_RE.match(cleaned.lower())
    if not match:
        raise KeyParseError(f"key '{raw}' is not a key I know; use {HELP}")
    tonic, accidental, word = match.groups()
    mode = MODE_WORDS.get(word)
    if mode is None:
        raise KeyParseError(
            f"key '{raw}': mode '{word}' is not known; use major, minor, dorian, mixolydian, "
            f"phrygian, lydian or locrian ({HELP})"
        )
    sign = {"#": "#", "sharp": "#", "b": "b", "flat": "b", None: ""}[accidental]
    return Key(tonic.upper() + sign, mode).respelled()
