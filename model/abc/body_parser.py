"""Reading an ABC body (the lines after K:) into elements; strict=True for user text, where every
error says where (line and column) and what."""

from __future__ import annotations

import re
from fractions import Fraction

from model.abc.elements import MAX_LENGTH, MIN_LENGTH, UNIT, AbcError, Bar, Element, Grace, Mark, Note, parse_length
from model.keys import LETTERS as _LETTERS

_DECORATION_LETTERS = set("HLMOPSTuvkJRy")


class BodyParser:
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
            if at_line_start and re.match(r"[A-Za-z]:", t[self.i : self.i + 2]) and not t.startswith("|:", self.i):
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
                    self.fail(f"double broken rhythm {t[self.i : j]!r} is not supported")
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
        line = self.text[self.i : end]
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
        name, value = self.text[self.i + 1], self.text[self.i + 3 : end].strip()
        if name == "L":
            try:
                self.scale = Fraction(value) / UNIT
            except (ValueError, ZeroDivisionError):
                self.fail(f"bad unit length [L:{value}]")
        elif name in "KMV":
            self.header_change(name, value)
        self.i = end + 1

    def header_change(self, name: str, value: str):
        self.fail(
            {"K": "a key change inside the tune", "M": "a meter change inside the tune", "V": "a second voice"}[name]
            + f" ({name}:{value}) is not supported"
        )

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
        raw = t[self.i : j]
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
    return BodyParser(text, unit, strict, first_line).parse()
