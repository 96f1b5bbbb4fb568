"""ABC text: parsing a tune body into elements, canonical re-writing, keys and transposition.

The model reads and writes a small canonical subset of ABC (one way to write each thing):

    header   R:<rhythm> M:<meter> L:1/8 K:C<mode>   (one field a line; tonic always C)
    notes    [^ ^^ _ __ =] letter [octave marks] [length]     e.g. ^f'3/ , _B,2
    lengths  "" 2 3 ... | / /4 | 3/ 3/4 ...   (units of L:1/8; the shortest is 1/4 of a unit)
    rests    z[length]     chords [ACe][length]     graces {ag}     roll ~     tie -
    broken   A>B A<B       triplets (3abc      bar lines | || |] |: :| :: |1 :|2 |2
    spaces   single spaces (beaming) and newlines between lines of bars

Keys are normalised to a C tonic (folk-rnn's approach): the four modes (maj, min, dor, mix) stay
apart, every tune in the corpus teaches the model the same scale degrees, and training costs no
more than the corpus itself (augmenting by 12 transpositions would make each epoch 12x longer on a
2-core machine). The requested tonic is reached after sampling by a diatonic transposition that
re-spells accidentals correctly (`transpose_elements`).

Anything else in user ABC (titles, chord symbols, decorations, slurs) is dropped on the way in;
what cannot be understood raises `AbcError` naming the line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from model.abc.body_parser import parse_body
from model.abc.elements import (
    BAR_TOKENS,
    FINAL_BARS,
    LENGTHS,
    MAX_LENGTH,
    MIN_LENGTH,
    SECTION_BARS,
    UNIT,
    AbcError,
    Bar,
    Element,
    Grace,
    Mark,
    Note,
    bar_length,
    emit,
    length_text,
    natural_semitone,
    parse_length,
    pitch_text,
    shift_between,
    transpose_elements,
)
from model.keys import MODE_NAMES, Key, parse_key
from model.meter import infer_rhythm, normalise_meter, spell_meter

MODES = ("maj", "min", "dor", "mix")  # the modes the ABC model writes
END = "$"  # end-of-tune symbol in the model's alphabet (never used by ABC itself)
__all__ = [
    "BAR_TOKENS",
    "END",
    "FINAL_BARS",
    "LENGTHS",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "MODES",
    "SECTION_BARS",
    "UNIT",
    "AbcError",
    "Bar",
    "Element",
    "Grace",
    "Header",
    "Key",
    "Mark",
    "Note",
    "Tune",
    "abc_key",
    "bar_length",
    "body_of",
    "emit",
    "header_text",
    "infer_rhythm",
    "length_text",
    "natural_semitone",
    "normalise_meter",
    "parse_body",
    "parse_key",
    "parse_length",
    "parse_tune",
    "pitch_text",
    "read_header",
    "shift_between",
    "split_tunes",
    "to_canonical",
    "transpose_elements",
]


def abc_key(text: str) -> Key:
    """A K: value -> Key, for the modes the ABC model writes (MODES); ValueError names the problem."""
    key = parse_key(text)
    if key.mode not in MODES:
        raise ValueError(
            f"unsupported mode {MODE_NAMES[key.mode]!r} in key {text.strip()!r} (use maj, min, dor or mix)"
        )
    return key


@dataclass
class Tune:
    """A parsed tune: header values plus body elements, lengths in units of L:1/8."""

    rhythm: str
    meter: str
    key: Key
    elements: list[Element]
    title: str = ""
    number: str = ""


@dataclass(frozen=True)
class Header:
    """The header of one tune as written: the first value of each field up to K:, comments removed."""

    fields: dict[str, str]
    lines: list[str]  # the whole text, split into lines
    key_line: int | None  # index of the K: line in `lines` (None: no K: before the music)
    stray: tuple[int, str] | None  # (index, text) of a non-field line met before K:

    @property
    def title(self) -> str:
        return self.fields.get("T", "")

    @property
    def meter(self) -> str | None:
        """The M: value with C and C| spelled out ('6/8', '2/2'), or None."""
        if "M" not in self.fields:
            return None
        return spell_meter(self.fields["M"]) or None

    @property
    def key(self) -> Key | None:
        """The K: value read as a key (any mode), or None when absent or unreadable."""
        try:
            return parse_key(self.fields["K"]) if "K" in self.fields else None
        except ValueError:
            return None

    @property
    def body(self) -> str:
        """The lines after K: (empty without a K: line)."""
        return "\n".join(self.lines[self.key_line + 1 :]) if self.key_line is not None else ""


def read_header(text: str) -> Header:
    """The one ABC header reader: every part of Tunesmith that needs a tune's fields asks it."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    fields: dict[str, str] = {}
    for n, line in enumerate(lines):
        s = line.strip()
        if not s or s.startswith("%"):
            continue
        m = re.match(r"([A-Za-z]):(.*)$", s)
        if not m:
            return Header(fields, lines, None, (n, s))
        fields.setdefault(m.group(1), m.group(2).split("%")[0].strip())
        if m.group(1) == "K":
            return Header(fields, lines, n, None)
    return Header(fields, lines, None, None)


def body_of(text: str) -> str:
    """The body of a canonical tune: the text after its K: line ('' when K: ends the text; the text itself
    when it has no K:). The one place that splits a model's text at K: (a user's tune: `read_header(text).body`)."""
    if "K:" not in text:
        return text
    return text.split("K:", 1)[1].partition("\n")[2]


_BAR_RE = re.compile(r"::|:\|2|:\||\|\]|\|\||\|:|\|1|\|2|\|")


def bars_of(text: str) -> list[str]:
    """Bar contents of a canonical tune (or body), spaces and newlines removed, empty bars dropped."""
    return [b for b in (re.sub(r"\s", "", part) for part in _BAR_RE.split(body_of(text))) if b]


def default_unit(meter: str) -> Fraction:
    """ABC's default L: when a tune gives none: 1/16 below 3/4, else 1/8."""
    return Fraction(1, 16) if Fraction(meter) < Fraction(3, 4) else Fraction(1, 8)


def parse_tune(text: str, strict: bool = False) -> Tune:
    """One whole tune (X: ... K: ... body) -> Tune. strict: user text, errors say where."""
    header = read_header(text)
    fields, key_line = header.fields, header.key_line
    if header.stray is not None:
        n, s = header.stray
        if strict:
            raise AbcError(f"line {n + 1}: expected a header field such as 'K:D' before the music, found {s[:30]!r}")
        raise AbcError("no K: line before the music")
    if key_line is None:
        raise AbcError("no K: (key) line: a tune needs a header ending with a K: line, e.g. 'K:D'")
    try:
        key = abc_key(fields["K"])
    except ValueError as e:
        raise AbcError(f"line {key_line + 1}: {e}") from None
    try:
        meter = normalise_meter(fields.get("M", "4/4"))
    except ValueError as e:
        raise AbcError(f"M: field: {e}") from None
    if "L" in fields:
        try:
            unit = Fraction(fields["L"].replace(" ", ""))
        except (ValueError, ZeroDivisionError):
            raise AbcError(f"L: field: bad unit length {fields['L']!r}") from None
    else:
        unit = default_unit(meter)
    elements = parse_body(header.body, unit, strict=strict, first_line=key_line + 2)
    if not any(isinstance(e, Note) for e in elements):
        raise AbcError("the tune has no notes after the K: line")
    rhythm = infer_rhythm(fields.get("R", ""), fields.get("T", ""), meter)
    return Tune(rhythm, meter, key, elements, fields.get("T", ""), fields.get("X", ""))


def header_text(rhythm: str, meter: str, mode: str) -> str:
    """The canonical header the model is trained on and primed with (tonic C)."""
    return f"R:{rhythm}\nM:{meter}\nL:1/8\nK:C{mode}\n"


def to_canonical(tune: Tune) -> str:
    """Tune -> canonical training text in C (header + body + newline), without the END symbol."""
    steps, semis = shift_between(tune.key, Key("C", tune.key.mode))
    elements = transpose_elements(tune.elements, steps, semis)
    if elements and isinstance(elements[-1], Bar) and elements[-1].token in ("|", "||"):
        elements[-1] = Bar("|]")  # a tune ends with a final bar line
    body = emit(elements)
    return header_text(tune.rhythm, tune.meter, tune.key.mode) + body + "\n"


def split_tunes(text: str) -> list[str]:
    """A file of several tunes -> one text per tune (split at X: lines)."""
    parts = re.split(r"(?m)^(?=X:)", text)
    return [p for p in parts if p.lstrip().startswith("X:")]
