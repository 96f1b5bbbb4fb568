"""The elements of an ABC tune body (notes, grace notes, bar lines, marks), their lengths, the canonical
text the model reads and writes (`emit`), and diatonic transposition. See model/abc/notation.py for the
canonical subset."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from model.keys import LETTERS as _LETTERS
from model.keys import NATURAL_SEMITONES as _NATURAL
from model.keys import Key

UNIT = Fraction(1, 8)  # the canonical L:
MIN_LENGTH = Fraction(1, 4)  # shortest canonical note, in units of L:1/8 (a 1/32 note)
MAX_LENGTH = Fraction(16)

SECTION_BARS = ("||", "|]", ":|", "::", "|:", ":|2")  # bar lines that may close a short bar
FINAL_BARS = ("|]", ":|")  # bar lines a tune may end with
BAR_TOKENS = ("|", "||", "|]", "|:", ":|", "::", "|1", "|2", ":|2")


class AbcError(ValueError):
    """Malformed or unsupported ABC. The message says where (line and column) and what."""


# ---------------------------------------------------------------- lengths


def length_text(length: Fraction) -> str:
    """Canonical length suffix for a length in units of L (1 -> '', 1/2 -> '/', 3/2 -> '3/')."""
    n, d = length.numerator, length.denominator
    if d == 1:
        return "" if n == 1 else str(n)
    num = "" if n == 1 else str(n)
    return f"{num}/" if d == 2 else f"{num}/{d}"


def _allowed_lengths() -> dict[str, Fraction]:
    out = {}
    for den in (1, 2, 4):
        for num in range(1, int(MAX_LENGTH * den) + 1):
            f = Fraction(num, den)
            if f.denominator == den:
                out[length_text(f)] = f
    return out


LENGTHS: dict[str, Fraction] = _allowed_lengths()  # canonical suffix -> length


def parse_length(text: str) -> Fraction:
    """Any ABC length suffix ('', '3', '/', '//', '3/2', '/4') -> a Fraction of the unit length."""
    m = re.fullmatch(r"(\d*)(/*)(\d*)", text)
    if not m:
        raise ValueError(text)
    num = int(m.group(1)) if m.group(1) else 1
    slashes = len(m.group(2))
    if m.group(3):
        if slashes != 1:
            raise ValueError(text)
        den = int(m.group(3))
    else:
        den = 2**slashes
    if den == 0 or num == 0:
        raise ValueError(text)
    return Fraction(num, den)


def bar_length(meter: str) -> Fraction:
    """Bar length in units of 1/8."""
    return Fraction(meter) / UNIT


# ---------------------------------------------------------------- steps and keys


def natural_semitone(step: int) -> int:
    """Semitone of a natural note on diatonic step `step` (0 = C, the 'C' of ABC; 7 = 'c')."""
    return 12 * (step // 7) + _NATURAL[step % 7]


def shift_between(src: Key, dst: Key) -> tuple[int, int]:
    """(diatonic steps, semitones) moving src's tonic to dst's tonic by the smallest step (-3..3)."""
    steps = (_LETTERS.index(dst.letter) - _LETTERS.index(src.letter)) % 7
    if steps > 3:
        steps -= 7
    s0 = _LETTERS.index(src.letter)
    semis = natural_semitone(s0 + steps) + dst.alter - (natural_semitone(s0) + src.alter)
    return steps, semis


# ---------------------------------------------------------------- elements


@dataclass
class Note:
    """A note, rest (step None) or chord (several pitches). Pitch = (accidental or None, step)."""

    pitches: list[tuple[int | None, int]]
    length: Fraction
    chord: bool = False
    roll: bool = False
    tie: bool = False

    @property
    def rest(self) -> bool:
        return not self.pitches


@dataclass
class Grace:
    pitches: list[tuple[int | None, int]]


@dataclass
class Bar:
    token: str  # one of BAR_TOKENS


@dataclass
class Mark:
    text: str  # ' ', '\n', '>', '<', '(3'


Element = Note | Grace | Bar | Mark
_ACC_TEXT = {None: "", 0: "=", 1: "^", 2: "^^", -1: "_", -2: "__"}


def pitch_text(acc: int | None, step: int) -> str:
    octave, i = divmod(step, 7)
    if octave >= 1:
        return _ACC_TEXT[acc] + _LETTERS[i].lower() + "'" * (octave - 1)
    return _ACC_TEXT[acc] + _LETTERS[i] + "," * (-octave)


def emit(elements: list[Element], scale: Fraction = Fraction(1)) -> str:
    """Canonical ABC text of a body. `scale` converts lengths to another L: (2 for L:1/16)."""
    out: list[str] = []
    for e in elements:
        if isinstance(e, Note):
            s = "~" if e.roll else ""
            if e.rest:
                s += "z"
            elif e.chord:
                s += "[" + "".join(pitch_text(a, st) for a, st in e.pitches) + "]"
            else:
                s += pitch_text(*e.pitches[0])
            out.append(s + length_text(e.length * scale) + ("-" if e.tie else ""))
        elif isinstance(e, Grace):
            out.append("{" + "".join(pitch_text(a, st) for a, st in e.pitches) + "}")
        elif isinstance(e, Bar):
            out.append(e.token)
        else:
            out.append(e.text)
    return "".join(out)


def transpose_elements(elements: list[Element], steps: int, semis: int) -> list[Element]:
    """Diatonic transposition: letters move `steps`, explicit accidentals are re-spelled so every
    sounding pitch moves exactly `semis` semitones (the key signature moves the same way)."""

    def move(p: tuple[int | None, int]) -> tuple[int | None, int]:
        acc, step = p
        new = step + steps
        if acc is None:
            return None, new
        alter = natural_semitone(step) + acc + semis - natural_semitone(new)
        if not -2 <= alter <= 2:
            raise AbcError(f"cannot transpose an accidental by {semis} semitones")
        return alter, new

    out: list[Element] = []
    for e in elements:
        if isinstance(e, Note):
            out.append(Note([move(p) for p in e.pitches], e.length, e.chord, e.roll, e.tie))
        elif isinstance(e, Grace):
            out.append(Grace([move(p) for p in e.pitches]))
        else:
            out.append(e)
    return out
