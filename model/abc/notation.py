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

UNIT = Fraction(1, 8)  # the canonical L:
MIN_LENGTH = Fraction(1, 4)  # shortest canonical note, in units of L:1/8 (a 1/32 note)
MAX_LENGTH = Fraction(16)
MODES = ("maj", "min", "dor", "mix")
END = "$"  # end-of-tune symbol in the model's alphabet (never used by ABC itself)

_NATURAL = [0, 2, 4, 5, 7, 9, 11]  # semitones of C D E F G A B
_LETTERS = "CDEFGAB"
_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F": -1}  # naturals on the circle of fifths
_MODE_FIFTHS = {"maj": 0, "mix": -1, "dor": -2, "min": -3}
_MODE_WORDS = {"": "maj", "maj": "maj", "ion": "maj", "major": "maj", "m": "min", "min": "min",
               "aeo": "min", "minor": "min", "aeolian": "min", "dor": "dor", "dorian": "dor",
               "mix": "mix", "mixolydian": "mix", "ionian": "maj"}
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
        den = 2 ** slashes
    if den == 0 or num == 0:
        raise ValueError(text)
    return Fraction(num, den)


# ---------------------------------------------------------------- keys

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
        return _FIFTHS[self.letter] + 7 * self.alter + _MODE_FIFTHS[self.mode]

    @property
    def name(self) -> str:
        """Canonical name as used by ComposeRequest: 'Dmaj', 'F#min'."""
        return self.tonic + self.mode

    def abc(self) -> str:
        """The K: value for standard ABC readers: 'D', 'Em', 'Ador', 'Gmix'."""
        return self.tonic + {"maj": "", "min": "m", "dor": "dor", "mix": "mix"}[self.mode]

    def respelled(self) -> "Key":
        """The enharmonic spelling with at most 7 sharps or flats (G#maj -> Abmaj)."""
        if -7 <= self.fifths <= 7:
            return self
        i = _LETTERS.index(self.letter)
        semis = _NATURAL[i] + self.alter
        step = 1 if self.fifths > 7 else -1
        letter = _LETTERS[(i + step) % 7]
        alter = (semis - _NATURAL[_LETTERS.index(letter)] + 6) % 12 - 6
        return Key(letter + {0: "", 1: "#", -1: "b"}[alter], self.mode)


_KEY_RE = re.compile(r"^\s*([A-Ga-g])([#b]?)\s*([A-Za-z]*)")


def parse_key(text: str) -> Key:
    """'G', 'Gm', 'A Dorian', 'F#min', 'Bbmix', 'Dmaj' -> Key. Raises ValueError if unsupported."""
    m = _KEY_RE.match(text)
    if not m:
        raise ValueError(f"unsupported key {text.strip()!r}")
    word = m.group(3).lower()
    rest = text[m.end():].strip()
    if rest and not rest.startswith("%"):
        raise ValueError(f"unsupported key {text.strip()!r} (extra accidentals or clef)")
    mode = _MODE_WORDS.get(word) or _MODE_WORDS.get(word[:3])
    if mode is None or (word not in _MODE_WORDS and len(word) < 3):
        raise ValueError(f"unsupported mode {m.group(3)!r} in key {text.strip()!r} (use maj, min, dor or mix)")
    return Key(m.group(1).upper() + m.group(2), mode).respelled()


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


# ---------------------------------------------------------------- parsing

@dataclass
class Tune:
    """A parsed tune: header values plus body elements, lengths in units of L:1/8."""
    rhythm: str
    meter: str
    key: Key
    elements: list[Element]
    title: str = ""
    number: str = ""


_DECORATION_LETTERS = set("HLMOPSTuvkJRy")
_METER_ALIASES = {"C": "4/4", "C|": "4/4", "2/2": "4/4"}


def normalise_meter(text: str) -> str:
    m = text.split("%")[0].strip().replace(" ", "")
    m = _METER_ALIASES.get(m, m)
    if not re.fullmatch(r"\d+/\d+", m) or 0 in (int(n) for n in m.split("/")):  # not 0/4, 4/0
        raise ValueError(f"unsupported meter {text.strip()!r}")
    return m


def default_unit(meter: str) -> Fraction:
    """ABC's default L: when a tune gives none: 1/16 below 3/4, else 1/8."""
    return Fraction(1, 16) if Fraction(meter) < Fraction(3, 4) else Fraction(1, 8)


class _BodyParser:
    """Reads an ABC body (the lines after K:) into elements. strict=True for user text."""

    def __init__(self, text: str, unit: Fraction, strict: bool, first_line: int = 1):
        self.text = text
        self.scale = unit / UNIT  # written length * scale = length in units of 1/8
        self.strict = strict
        self.first_line = first_line
        self.out: list[Element] = []
        self.i = 0
        self.tuplet_left = 0

    def where(self, i: int | None = None) -> str:
        i = self.i if i is None else i
        line = self.text.count("\n", 0, i)
        col = i - (self.text.rfind("\n", 0, i) + 1)
        return f"line {self.first_line + line}, column {col + 1}"

    def fail(self, what: str, i: int | None = None):
        raise AbcError(f"{what} at {self.where(i)}")

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.text[j] if j < len(self.text) else ""

    def add_mark(self, text: str):
        if text == " ":
            if not self.out or isinstance(self.out[-1], Mark) and self.out[-1].text in (" ", "\n"):
                return
        if text == "\n":
            while self.out and isinstance(self.out[-1], Mark) and self.out[-1].text == " ":
                self.out.pop()
            if not self.out or isinstance(self.out[-1], Mark) and self.out[-1].text == "\n":
                return
        self.out.append(Mark(text))

    def parse(self) -> list[Element]:
        t = self.text
        at_line_start = True
        while self.i < len(t):
            c = t[self.i]
            if at_line_start and re.match(r"[A-Za-z]:", t[self.i:self.i + 2]) and not t.startswith("|:", self.i):
                self.field_line()
                continue
            at_line_start = False
            if c == "\n":
                self.add_mark("\n")
                self.i += 1
                at_line_start = True
            elif c in " \t`y\r":
                if c in " \t":
                    self.add_mark(" ")
                self.i += 1
            elif c == "%":
                while self.i < len(t) and t[self.i] != "\n":
                    self.i += 1
            elif c == "\\":
                self.i += 1  # line continuation
            elif c == '"':
                end = t.find('"', self.i + 1)
                if end < 0:
                    self.fail('a chord symbol or annotation opened with " is never closed')
                self.i = end + 1
            elif c in "!+":
                end = t.find(c, self.i + 1)
                nl = t.find("\n", self.i + 1)
                if end < 0 or (0 <= nl < end):
                    self.fail(f"a decoration opened with {c} is never closed")
                self.i = end + 1
            elif c in ".)" or c in _DECORATION_LETTERS:
                self.i += 1
            elif c == "~":
                self.i += 1
                self.note(roll=True)
            elif c == "(":
                if self.peek(1).isdigit():
                    self.tuplet()
                else:
                    self.i += 1  # slur
            elif c == "{":
                self.grace()
            elif c == "[":
                nxt = self.peek(1)
                if nxt.isalpha() and self.peek(2) == ":":
                    self.inline_field()
                elif nxt in "12":
                    self.i += 2
                    self.ending(nxt)
                elif nxt == "|":
                    self.bar()
                else:
                    self.note()
            elif c in "|:":
                self.bar()
            elif c in "^_=" or c in "ABCDEFGabcdefgzx":
                self.note()
            elif c == "-":
                last = self.out[-1] if self.out else None
                if not isinstance(last, Note) or last.rest:
                    if self.strict:
                        self.fail("a tie '-' must follow a note")
                else:
                    last.tie = True
                self.i += 1
            elif c in "<>":
                j = self.i
                while j < len(t) and t[j] == c:
                    j += 1
                if j - self.i > 1:
                    self.fail(f"double broken rhythm {t[self.i:j]!r} is not supported")
                last = self.out[-1] if self.out else None
                if not isinstance(last, Note):
                    self.fail(f"broken rhythm {c!r} must follow a note")
                self.out.append(Mark(c))
                self.i = j
            elif c == "Z":
                self.fail("multi-bar rests (Z) are not supported")
            elif c == "&":
                self.fail("voice overlay (&) is not supported")
            else:
                self.fail(f"unexpected character {c!r}")
        if self.tuplet_left:
            self.fail("a triplet is not finished by the end of the tune")
        while self.out and isinstance(self.out[-1], Mark) and self.out[-1].text in " \n":
            self.out.pop()
        return self.out

    def field_line(self):
        end = self.text.find("\n", self.i)
        end = len(self.text) if end < 0 else end
        line = self.text[self.i:end]
        name, value = line[0], line[2:].split("%")[0].strip()
        if name == "L":
            try:
                self.scale = Fraction(value) / UNIT
            except (ValueError, ZeroDivisionError):
                self.fail(f"bad unit length L:{value}")
        elif name in "KMV":
            self.header_change(name, value)
        self.i = end + 1 if end < len(self.text) else end

    def inline_field(self):
        end = self.text.find("]", self.i)
        if end < 0:
            self.fail("an inline field opened with [ is never closed")
        name, value = self.text[self.i + 1], self.text[self.i + 3:end].strip()
        if name == "L":
            self.scale = Fraction(value) / UNIT
        elif name in "KMV":
            self.header_change(name, value)
        self.i = end + 1

    def header_change(self, name: str, value: str):
        self.fail({"K": "a key change inside the tune", "M": "a meter change inside the tune",
                   "V": "a second voice"}[name] + f" ({name}:{value}) is not supported")

    def pitch(self) -> tuple[int | None, int]:
        t = self.text
        start = self.i
        acc = None
        if t[self.i] in "^_=":
            sym = t[self.i]
            if sym == "=":
                acc = 0
                self.i += 1
            else:
                n = 1 + (self.peek(1) == sym)
                acc = n if sym == "^" else -n
                self.i += n
        c = self.peek()
        if c not in "ABCDEFGabcdefg" or not c:
            self.fail("an accidental must be followed by a note letter", start)
        step = _LETTERS.index(c.upper()) + (7 if c.islower() else 0)
        self.i += 1
        while self.peek() in ("'", ","):
            step += 7 if self.peek() == "'" else -7
            self.i += 1
        return acc, step

    def length(self) -> Fraction:
        m = re.compile(r"\d*/*\d*").match(self.text, self.i)
        raw = m.group(0)
        start = self.i
        self.i = m.end()
        try:
            written = parse_length(raw)
        except ValueError:
            self.fail(f"bad note length {raw!r}", start)
        length = written * self.scale
        if length < MIN_LENGTH or length > MAX_LENGTH or (length / MIN_LENGTH).denominator != 1:
            self.fail(f"note length {raw!r} is too short, too long or irregular", start)
        return length

    def note(self, roll: bool = False):
        t = self.text
        start = self.i
        c = self.peek()
        if c == "[":
            self.i += 1
            pitches = []
            while self.peek() and self.peek() != "]":
                if self.peek() in "^_=ABCDEFGabcdefg":
                    pitches.append(self.pitch())
                    m = re.compile(r"\d*/*\d*").match(t, self.i)
                    self.i = m.end()  # lengths inside chords: the chord's own length rules
                elif self.peek() in " .-~)(":
                    self.i += 1
                elif self.peek() == "\n":
                    break
                else:
                    self.fail(f"unexpected {self.peek()!r} inside a chord", self.i)
            if self.peek() != "]":
                self.fail("a chord opened with [ is never closed", start)
            self.i += 1
            if not pitches:
                self.fail("an empty chord", start)
            e = Note(pitches, Fraction(1), chord=len(pitches) > 1, roll=roll)
        elif c in "zx":
            self.i += 1
            e = Note([], Fraction(1))
        elif c and c in "^_=ABCDEFGabcdefg":
            e = Note([self.pitch()], Fraction(1), roll=roll)
        else:
            if self.strict:
                self.fail("a decoration must be followed by a note")
            return
        e.length = self.length()
        if self.tuplet_left:
            self.tuplet_left -= 1
        self.out.append(e)

    def tuplet(self):
        m = re.compile(r"\((\d)(?::(\d?)(?::(\d?))?)?").match(self.text, self.i)
        p, q, r = m.group(1), m.group(2), m.group(3)
        if p != "3" or q not in (None, "", "2") or r not in (None, "", "3"):
            self.fail(f"only plain triplets (3 are supported, not {m.group(0)!r}")
        self.i = m.end()
        self.out.append(Mark("(3"))
        self.tuplet_left = 3

    def grace(self):
        start = self.i
        self.i += 1
        pitches = []
        while self.peek() and self.peek() != "}":
            if self.peek() in "^_=ABCDEFGabcdefg":
                pitches.append(self.pitch())
                self.i = re.compile(r"\d*/*\d*").match(self.text, self.i).end()
            elif self.peek() in "/ ":
                self.i += 1
            else:
                self.fail(f"unexpected {self.peek()!r} inside grace notes", self.i)
        if self.peek() != "}":
            self.fail("grace notes opened with { are never closed", start)
        self.i += 1
        if pitches:
            self.out.append(Grace(pitches))

    def bar(self):
        t = self.text
        start = self.i
        j = self.i
        if t[j] == "[":
            j += 1
        while j < len(t) and t[j] in "|:]":
            if t[j] == "]" and j > start and t[j - 1] != "|":
                break
            j += 1
        raw = t[self.i:j]
        self.i = j
        if raw in (":", "::") and self.peek() == "":
            pass
        core = raw.lstrip("[").strip(":")
        left, right = raw.lstrip("[").startswith(":"), raw.endswith(":")
        if not core and not (left and right) and raw != ":":
            self.fail(f"unexpected bar line {raw!r}", start)
        if raw == ":":
            self.fail("a lone ':' (did you mean ':|' or '|:'?)", start)
        if left and right:
            token = "::"
        elif left:
            token = ":|"
        elif right:
            token = "|:"
        elif core.endswith("]") and core != "[|]":
            token = "|]"
        elif core.count("|") >= 2:
            token = "||"
        else:
            token = "|"
        if self.tuplet_left and self.strict:
            self.fail("a bar line inside an unfinished triplet", start)
        self.add_bar(token)
        # endings: |1 :|2 |[2 and ': | [2'
        k = self.i
        if self.peek() == "[" and self.peek(1) in "12":
            k += 1
        if k < len(t) and t[k] in "12" and not (k + 1 < len(t) and t[k + 1] in "/"):
            self.i = k + 1
            self.ending(t[k])

    def add_bar(self, token: str):
        """Append a bar line, merging it with a bar line just before it ('|' at the end of one line
        and '|' at the start of the next are one bar line)."""
        j = len(self.out) - 1
        while j >= 0 and isinstance(self.out[j], Mark) and self.out[j].text in " \n":
            j -= 1
        prev = self.out[j] if j >= 0 else None
        if isinstance(prev, Bar) and token != "|:":
            if token in ("|", "||") and prev.token != "|":
                return
            if prev.token == "|" or token in ("|", "||"):
                prev.token = token if prev.token == "|" else prev.token
                return
        self.out.append(Bar(token))

    def ending(self, digit: str):
        # attach to the bar line before it (skipping spaces); ',2' lists like [1,3 are not supported
        if self.peek() in ",-":
            self.fail("only first and second endings (1, 2) are supported")
        while self.out and isinstance(self.out[-1], Mark) and self.out[-1].text == " ":
            self.out.pop()
        j = len(self.out) - 1
        while j >= 0 and isinstance(self.out[j], Mark) and self.out[j].text == "\n":
            j -= 1
        last = self.out[j] if j >= 0 else None
        if not isinstance(last, Bar):
            self.fail(f"an ending [{digit} must follow a bar line")
        if digit == "1":
            if last.token not in ("|", "|:", "||"):
                self.fail("a first ending must follow a plain bar line")
            last.token = "|1"
        else:
            last.token = ":|2" if last.token in (":|", "::") else "|2"


def parse_body(text: str, unit: Fraction, strict: bool = False, first_line: int = 1) -> list[Element]:
    """ABC body text -> elements (lengths in units of 1/8, no normalising of key)."""
    return _BodyParser(text, unit, strict, first_line).parse()


_RHYTHM_ALIASES = {
    "double jig": "jig", "single jig": "jig", "jig": "jig", "slipjig": "slip jig", "slip jig": "slip jig",
    "reel": "reel", "hornpipe": "hornpipe", "strathspey": "strathspey", "clog": "hornpipe",
    "polka": "polka", "waltz": "waltz", "march": "march", "air": "air", "set dance": "set dance",
    "long dance": "set dance", "quickstep": "march", "quick step": "march", "country dance": "reel",
}
_TITLE_HINTS = [("slip jig", "slip jig"), ("strathspey", "strathspey"), ("hornpipe", "hornpipe"),
                ("reel", "reel"), ("jig", "jig"), ("march", "march"), ("quick step", "march"),
                ("quickstep", "march"), ("waltz", "waltz"), ("polka", "polka"), ("air", "air")]
_METER_RHYTHM = {"6/8": "jig", "9/8": "slip jig", "2/4": "march", "3/4": "waltz", "4/4": "reel"}


def infer_rhythm(label: str, title: str, meter: str) -> str:
    """R: label, else a hint in the title, else a guess from the meter (6/8 jig, 9/8 slip jig, ...)."""
    lab = label.strip().lower().rstrip("s.")
    if lab in _RHYTHM_ALIASES:
        return _RHYTHM_ALIASES[lab]
    low = title.lower()
    for hint, rhythm in _TITLE_HINTS:
        if re.search(rf"\b{hint}\b", low):
            return rhythm
    return _METER_RHYTHM.get(meter, "other")


def parse_tune(text: str, strict: bool = False) -> Tune:
    """One whole tune (X: ... K: ... body) -> Tune. strict: user text, errors say where."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    fields: dict[str, str] = {}
    key_line = None
    for n, line in enumerate(lines):
        s = line.strip()
        if not s or s.startswith("%"):
            continue
        m = re.match(r"([A-Za-z]):(.*)$", s)
        if not m:
            if strict:
                raise AbcError(f"line {n + 1}: expected a header field such as 'K:D' before the music, "
                               f"found {s[:30]!r}")
            return _fail("no K: line before the music")
        name, value = m.group(1), m.group(2).split("%")[0].strip()
        fields.setdefault(name, value)
        if name == "K":
            key_line = n
            break
    if key_line is None:
        raise AbcError("no K: (key) line: a tune needs a header ending with a K: line, e.g. 'K:D'")
    try:
        key = parse_key(fields["K"])
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
    body = "\n".join(lines[key_line + 1:])
    elements = parse_body(body, unit, strict=strict, first_line=key_line + 2)
    if not any(isinstance(e, Note) for e in elements):
        raise AbcError("the tune has no notes after the K: line")
    rhythm = infer_rhythm(fields.get("R", ""), fields.get("T", ""), meter)
    return Tune(rhythm, meter, key, elements, fields.get("T", ""), fields.get("X", ""))


def _fail(msg: str):
    raise AbcError(msg)


def bar_length(meter: str) -> Fraction:
    """Bar length in units of 1/8."""
    return Fraction(meter) / UNIT


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
