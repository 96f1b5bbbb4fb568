"""An ABC body as timed notes, each with where it starts in the text: what the harmoniser reads.

The project's own parser (model/abc/notation.py) gives elements with written lengths; here a small
subclass also notes, for every note, the text offset where a chord symbol may be written before it
(after the previous note, space or bar line, so before its decorations, grace notes and triplet
mark), and where the chord symbols of the text are. Then the elements are laid out in time: triplets
take 2/3 of their written length, A>B 3/2 and 1/2; bar accidentals and the key signature give each
note its sounding pitch class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from model.abc.body_parser import BodyParser
from model.abc.notation import Bar, Key, Mark, Note, natural_semitone

_SHARP_ORDER, _FLAT_ORDER = "FCGDAEB", "BEADGCF"
_LETTERS = "CDEFGAB"


@dataclass
class TimedNote:
    onset: Fraction  # from the start of its bar, in units of 1/8
    length: Fraction  # as played (triplets, broken rhythm applied)
    pcs: tuple[int, ...]  # sounding pitch classes (0 = C); empty for a rest
    insert_at: int  # text offset where a chord symbol for this note goes
    text_start: int  # text offset of the note itself (after its decorations)
    midi: tuple[int, ...] = ()  # sounding pitches as MIDI numbers (C = 60 for the unmarked C)


@dataclass
class TimedBar:
    notes: list[TimedNote] = field(default_factory=list)
    opened_by: str = ""  # the bar line before it ("" for the first bar)
    length: Fraction = Fraction(0)  # as played


class _Scanner(BodyParser):
    """BodyParser that also records text offsets of notes and of the separators before them."""

    def __init__(self, text: str, unit: Fraction):
        super().__init__(text, unit, strict=False)
        self.sep_end = 0  # offset just after the last note, space, newline, bar line or broken mark
        self.offsets: dict[int, tuple[int, int]] = {}  # id(note) -> (insert_at, text_start)

    def note(self, roll: bool = False):
        start, before = self.i, len(self.out)
        super().note(roll)
        if len(self.out) > before and isinstance(self.out[-1], Note):
            self.offsets[id(self.out[-1])] = (self.sep_end, start)
        self.sep_end = self.i

    def add_mark(self, text: str):
        super().add_mark(text)
        self.sep_end = self.i + 1  # called before the space/newline is consumed

    def bar(self):
        super().bar()
        self.sep_end = self.i

    def ending(self, digit: str):
        super().ending(digit)
        self.sep_end = self.i


def key_alterations(key: Key) -> dict[str, int]:
    """Letter -> sharps (+1) or flats (-1) in the key signature."""
    f = key.fifths
    letters = _SHARP_ORDER[:f] if f > 0 else _FLAT_ORDER[:-f]
    return {c: (1 if f > 0 else -1) for c in letters}


def scan(body: str, key: Key, unit: Fraction = Fraction(1, 8)) -> list[TimedBar]:
    """ABC body text (the lines after K:) -> bars of timed notes. Lengths in units of 1/8."""
    parser = _Scanner(body, unit)
    elements = parser.parse()
    signature = key_alterations(key)
    bars = [TimedBar()]
    pos = Fraction(0)
    accidentals: dict[int, int] = {}
    tuplet_left = 0
    halve_next = False
    last: TimedNote | None = None
    for e in elements:
        if isinstance(e, Bar):
            bars[-1].length = pos
            bars.append(TimedBar(opened_by=e.token))
            pos, accidentals, last = Fraction(0), {}, None
        elif isinstance(e, Mark) and e.text == "(3":
            tuplet_left = 3
        elif isinstance(e, Mark) and e.text in "<>" and last is not None:
            factor = Fraction(3, 2) if e.text == ">" else Fraction(1, 2)
            pos += last.length * (factor - 1)
            last.length *= factor
            halve_next = e.text
        elif isinstance(e, Note):
            length = e.length
            if tuplet_left:
                length *= Fraction(2, 3)
                tuplet_left -= 1
            if halve_next:
                length *= Fraction(1, 2) if halve_next == ">" else Fraction(3, 2)
                halve_next = False
            midi = []
            for acc, step in e.pitches:
                if acc is not None:
                    accidentals[step] = acc
                alter = accidentals.get(step, signature.get(_LETTERS[step % 7], 0))
                midi.append(60 + natural_semitone(step) + alter)
            insert_at, start = parser.offsets.get(id(e), (0, 0))
            last = TimedNote(pos, length, tuple(m % 12 for m in midi), insert_at, start, tuple(midi))
            bars[-1].notes.append(last)
            pos += length
    bars[-1].length = pos
    return [b for b in bars if b.notes]


_CHORD_SYMBOL = re.compile(r'"([A-G][#b]?)([^"/]*)(?:/[A-Ga-g][#b]?)?"')


def chord_symbols(body: str) -> list[tuple[int, str, str]]:
    """(text offset, root, rest) of every chord symbol ("Am", "D7", "G/B"; not annotations like "^x")."""
    return [(m.start(), m.group(1), m.group(2)) for m in _CHORD_SYMBOL.finditer(body)]


def has_chords(body: str) -> bool:
    return bool(chord_symbols(body))
