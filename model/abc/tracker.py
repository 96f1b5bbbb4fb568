"""BarTracker: follows canonical ABC one character at a time and refuses characters that would
make a bar the wrong length, break the grammar, or end the tune at the wrong place.

It is what makes constrained decoding possible: the sampler asks `copy().feed(ch)` for the
character it drew and draws again without it when the tracker refuses. Durations are integers
in quarter units of L:1/8 (the shortest canonical note), so there is no rounding anywhere.

Bar rules (shared with the evaluation):
- a full bar is exactly the meter's length;
- the first bar may be shorter (a pickup);
- a bar closed by a section bar line (|| |] :| :: |: :|2) may be shorter: either it completes the
  opening pickup (short + pickup = full), or the next bar is the matching pickup of the next part
  (the second case only in corpus tunes: when composing, with a target, only the first is allowed);
- triplets (3abc and broken pairs A>B use three / two notes of the same written length.
Bars are counted as written (a repeated part counts once); pickups are not counted.
"""
from __future__ import annotations

from model.abc.notation import BAR_TOKENS, END, FINAL_BARS, LENGTHS, SECTION_BARS, bar_length

Q_LENGTHS = {text: int(f * 4) for text, f in LENGTHS.items()}  # suffix -> quarter units
_PREFIX_MIN: dict[str, int] = {}  # length prefix -> shortest completion (quarter units)
for _text, _q in Q_LENGTHS.items():
    for _k in range(len(_text) + 1):
        p = _text[:_k]
        _PREFIX_MIN[p] = min(_PREFIX_MIN.get(p, 1 << 30), _q)
_BAR_PREFIXES = {t[:k] for t in BAR_TOKENS for k in range(1, len(t) + 1)}
_SECTION_PREFIXES = {t[:k] for t in SECTION_BARS for k in range(1, len(t) + 1)}
_FINAL_PREFIXES = {t[:k] for t in FINAL_BARS for k in range(1, len(t) + 1)}
_NOTE_LETTERS = set("ABCDEFGabcdefg")
_NOTE_START = _NOTE_LETTERS | set("^_=z[~")
_DIGITS = set("0123456789/")
MAX_CHORD = 4  # notes in a chord
MAX_GRACE = 6  # notes in a grace group
MIN_PART_BARS = 4  # when composing, :| :: || only after a part of at least this many bars
MAX_OCTAVE_MARKS = 2  # C,, .. c'' : the range of the corpus


class TrackerError(ValueError):
    """A character the tracker refuses; the message says why."""


class BarTracker:
    __slots__ = ("full", "target", "elapsed", "mode", "acc", "upper", "len_str", "kind", "has_pitch",
                 "fixed", "tuplet_left", "last_free", "bar_str", "bars", "pickup", "pending_pickup",
                 "need_section", "counting", "may_pickup", "last", "notes_in_bar", "ended", "last_pitch",
                 "bar_pitches", "chord_pitches", "started", "octave", "ending", "last_token", "part_bars", "repeat_open", "note_text", "tie_to", "repeats_closed")

    def __init__(self, meter: str, target: int | None = None):
        self.full = int(bar_length(meter) * 4)
        self.target = target  # bars to write, or None (any)
        self.elapsed = 0  # quarter units committed in the current bar
        self.mode = "free"
        self.acc = ""  # accidental being typed
        self.upper = True  # case of the open note's letter (which octave mark is allowed)
        self.len_str = ""  # length suffix being typed
        self.kind = ""  # open element: "note", "rest", "chord" or "" (none)
        self.has_pitch = 0  # pitches inside the open chord / grace
        self.fixed = None  # the length the next note must have (2nd/3rd triplet note, 2nd of A>B)
        self.tuplet_left = 0
        self.last_free = None  # length of the last note that may start a broken pair
        self.bar_str = ""  # bar line being typed
        self.bars = 0  # bars counted so far (pickups excluded)
        self.pickup = 0  # opening pickup length
        self.pending_pickup = 0  # the next bar must have this length (a part's pickup)
        self.may_pickup = 0  # the next bar may have this length (a part's pickup)
        self.need_section = False  # the bar line being typed must be a section bar line
        self.counting = True  # the bar being closed counts (False for a pickup)
        self.last = ""  # last character fed
        self.notes_in_bar = 0
        self.ended = False
        self.last_pitch = ""  # text of the last note's letter ('' for rests), for ends-on-tonic
        self.bar_pitches = 0
        self.chord_pitches = ""
        self.started = False  # any note yet
        self.octave = 0  # octave marks on the open note
        self.ending = 0  # inside a first (1) or second (2) ending
        self.last_token = ""  # the last complete bar line
        self.part_bars = 0  # bars since the last part ended
        self.repeat_open = False  # a |: waits for its :|
        self.note_text = ""  # letter and octave marks of the open note
        self.tie_to = ""  # when composing: the pitch a tie must continue with
        self.repeats_closed = False  # a :| or :: has been written

    def copy(self) -> "BarTracker":
        new = BarTracker.__new__(BarTracker)
        _copy_slots(self, new)
        return new

    # ------------------------------------------------------------ public helpers

    @property
    def in_last_bar(self) -> bool:
        return self.target is not None and self.bars == self.target - 1

    @property
    def bar_fraction(self) -> float:
        return self.elapsed / self.full

    def feed_text(self, text: str) -> None:
        for i, ch in enumerate(text):
            try:
                self.feed(ch)
            except TrackerError as e:
                raise TrackerError(f"{e} at character {i} ({text[max(0, i - 20):i]!r} + {ch!r})") from None

    def finish(self) -> None:
        """Check the tune may end here (as if END were fed)."""
        if not self.ended:
            self.feed(END)

    def can_end(self) -> bool:
        try:
            self.copy().feed(END)
            return True
        except TrackerError:
            return False

    # ------------------------------------------------------------ the automaton

    def feed(self, ch: str) -> None:
        if self.ended:
            raise TrackerError("the tune has ended")
        mode = self.mode
        if mode == "free":
            self._free(ch)
        elif mode == "open":
            self._open(ch)
        elif mode == "acc":
            if ch in _NOTE_LETTERS:
                self._letter(ch)
            elif ch == self.acc and len(self.acc) == 1 and ch != "=":
                self.acc += ch
            else:
                raise TrackerError("an accidental must be followed by a note letter")
        elif mode == "bar":
            self._bar(ch)
        elif mode in ("chord", "grace"):
            self._inside(ch)
        elif mode == "tup":
            if ch != "3":
                raise TrackerError("only (3 triplets")
            self.tuplet_left = 3
            self.mode = "needs_note"
        elif mode == "needs_note":  # after (3, >, <, ~
            if ch not in _NOTE_START or (ch == "~" and self.last == "~"):
                raise TrackerError("a note must follow")
            self._start(ch)
        elif mode == "after_end_bar":  # the last bar line is written: newline, then END
            if ch == "\n" and self.last != "\n":
                pass
            elif ch == END:
                self.ended = True
            else:
                raise TrackerError("the tune must end after its last bar line")
        self.last = ch

    def _free(self, ch: str) -> None:
        if ch == " ":
            if self.last in (" ", "\n", ""):
                raise TrackerError("double space")
        elif ch == "\n":
            if self.last in (" ", "\n", ""):
                raise TrackerError("empty line")
        elif ch in "|:":
            self._close_bar(ch)
        elif ch in _NOTE_START or ch in "{(":
            self._start(ch)
        elif ch == END:
            self._end()
        else:
            raise TrackerError(f"{ch!r} cannot start an element")

    def _start(self, ch: str) -> None:
        if self.tie_to and ch != self.tie_to[0]:
            raise TrackerError("a tie joins two notes of the same pitch")
        if ch == "{":
            if self.mode == "needs_note" or self.last == "}":
                raise TrackerError("grace notes cannot come here")
            if self.target is not None and self.fixed is None and self.elapsed + 1 > self._limit():
                raise TrackerError("grace notes need a note after them")
            self.mode, self.has_pitch = "grace", 0
            return
        if ch == "(":
            if self.tuplet_left or self.fixed is not None:
                raise TrackerError("a triplet cannot start here")
            if self.elapsed + 2 > self._limit():
                raise TrackerError("no room for a triplet")
            self.mode = "tup"
            return
        # a note, rest or chord begins: is there room for it?
        if self.fixed is None:
            mult = 2 if self.tuplet_left == 3 else 1
            if self.elapsed + mult > self._limit():
                raise TrackerError("the bar is full")
        if ch == "~":
            self.mode = "needs_note"
            return
        if ch in "^_=":
            self.mode, self.acc = "acc", ch
        elif ch == "z":
            self.kind, self.len_str, self.mode = "rest", "", "open"
        elif ch == "[":
            self.mode, self.has_pitch, self.chord_pitches = "chord", 0, ""
        else:
            self._letter(ch)

    def _letter(self, ch: str) -> None:
        self.kind, self.len_str, self.mode, self.upper = "note", "", "open", ch.isupper()
        self.octave = 0
        self.note_text = ch
        self.last_pitch = self.acc + ch if self.mode != "chord" else ""
        self.acc = ""

    def _inside(self, ch: str) -> None:
        closer = "]" if self.mode == "chord" else "}"
        if ch in _NOTE_LETTERS:
            if self.has_pitch >= (MAX_CHORD if closer == "]" else MAX_GRACE):
                raise TrackerError("too many notes in a chord or grace group")
            self.has_pitch += 1
            self.octave = 0
            self.upper = ch.isupper()
            self.acc = ""
            self.last = ch
            if self.mode == "chord":
                self.chord_pitches += ch
        elif ch in "^_=":
            if self.acc and (self.acc != ch or len(self.acc) > 1 or ch == "="):
                raise TrackerError("bad accidental")
            if self.has_pitch >= (MAX_CHORD if closer == "]" else MAX_GRACE):
                raise TrackerError("too many notes in a chord or grace group")
            self.acc += ch
        elif ch in "',":
            if self.acc or not self.has_pitch or (ch == "'") == self.upper or self.last not in _NOTE_LETTERS | {ch}:
                raise TrackerError("misplaced octave mark")
            self.octave += 1
            if self.octave > MAX_OCTAVE_MARKS:
                raise TrackerError("the note is out of range")
        elif ch == closer and not self.acc and self.has_pitch >= (2 if closer == "]" else 1):
            if closer == "]":
                self.kind, self.len_str, self.mode = "chord", "", "open"
                self.last_pitch = self.chord_pitches[0]
            else:
                self.mode = "free" if self.target is None else "needs_note"
        else:
            raise TrackerError(f"{ch!r} inside a {'chord' if closer == ']' else 'grace'}")

    def _open(self, ch: str) -> None:
        """A note/rest/chord is open: its octave marks and length may still grow."""
        if self.tie_to and ch not in "',":  # the pitch is complete: it must be the tied one
            if self.note_text != self.tie_to or self.kind != "note":
                raise TrackerError("a tie joins two notes of the same pitch")
            self.tie_to = ""
        if ch in _DIGITS:
            s = self.len_str + ch
            best = _PREFIX_MIN.get(s)
            if best is None:
                raise TrackerError(f"bad length {s!r}")
            if self.fixed is not None:
                if not _fixed_text(self.fixed).startswith(s):
                    raise TrackerError("notes of a triplet or broken pair must have the same length")
            else:
                mult = 2 if self.tuplet_left == 3 else 1
                if self.elapsed + mult * best > self._limit():
                    raise TrackerError("the note would overfill the bar")
            self.len_str = s
            return
        if ch in "',":
            if self.kind != "note" or self.len_str or (ch == "'") == self.upper:
                raise TrackerError("misplaced octave mark")
            self.octave += 1
            if self.octave > MAX_OCTAVE_MARKS:
                raise TrackerError("the note is out of range")
            self.note_text += ch
            if self.tie_to and not self.tie_to.startswith(self.note_text):
                raise TrackerError("a tie joins two notes of the same pitch")
            return
        self._commit()
        if ch == "-":
            if self.kind == "rest":
                raise TrackerError("a rest cannot be tied")
            if self.target is not None:
                if self.kind != "note":
                    raise TrackerError("only single notes are tied")
                if self.in_last_bar and self.elapsed >= self._limit():
                    raise TrackerError("the last note cannot be tied")
                self.tie_to = self.note_text
            self.mode, self.kind = "free", ""
            return
        if ch in "<>":
            if self.last_free is None:
                raise TrackerError("a broken rhythm cannot follow this note")
            self.elapsed += self.last_free
            if self.elapsed > self._limit():
                raise TrackerError("the broken rhythm would overfill the bar")
            self.fixed, self.last_free = self.last_free, None
            self.mode, self.kind = "needs_note", ""
            return
        self.mode, self.kind = "free", ""
        self._free(ch)

    def _commit(self) -> None:
        q = Q_LENGTHS.get(self.len_str)
        if q is None:
            raise TrackerError(f"unfinished length {self.len_str!r}")
        if self.fixed is not None:
            if q != self.fixed:
                raise TrackerError("notes of a triplet or broken pair must have the same length")
            if self.tuplet_left:
                self.tuplet_left -= 1
            if not self.tuplet_left:
                self.fixed = None
            self.last_free = None
        elif self.tuplet_left == 3:
            self.elapsed += 2 * q
            self.fixed, self.tuplet_left, self.last_free = q, 2, None
        else:
            self.elapsed += q
            self.last_free = q
        if self.elapsed > self._limit():
            raise TrackerError("the bar is overfull")
        self.notes_in_bar += 1
        self.started = True

    def _close_bar(self, ch: str) -> None:
        if self.tuplet_left or self.fixed is not None:
            raise TrackerError("a bar line inside an unfinished triplet or broken pair")
        e, full = self.elapsed, self.full
        self.need_section = False
        self.counting = True
        if e == 0:
            at_start = self.bars == 0 and not self.pickup
            if (self.notes_in_bar == 0 and ch == "|" and self.last_token != "|:"
                    and (self.target is None or at_start)):
                self.counting = None  # an empty bar before |: (start of tune or, in the corpus, of a part)
            else:
                raise TrackerError("an empty bar")
        elif self.pending_pickup:
            if e != self.pending_pickup:
                raise TrackerError("this part's pickup does not complete the short bar before it")
            self.counting = False
        elif e == full:
            pass
        elif e == self.may_pickup:
            self.counting = False
        elif self.bars == 0 and not self.pickup and self.counting is not None and not self._had_bar():
            self.counting = False  # the opening pickup
            if self.target is not None and 2 * e > full:
                raise TrackerError("a pickup may be at most half a bar")
        elif e < full:
            self.need_section = True  # a short bar: must end a part
            if self.target is not None and e + self.pickup != full:
                # when composing, a short bar may only complete the opening pickup
                raise TrackerError("a short bar must complete the opening pickup")
        else:
            raise TrackerError("the bar is overfull")
        if self.counting and self.target is not None and self.bars + 1 > self.target:
            raise TrackerError("the tune already has its bars")
        if (self.need_section and self.target is not None and self.bars + 1 == self.target
                and e + self.pickup != full):
            raise TrackerError("the last bar is short")
        self.bar_str = ch
        self._check_bar_prefix()
        self.mode = "bar"

    def _limit(self) -> int:
        """The most the current bar may hold: a part's pickup, or a full bar."""
        return self.pending_pickup or self.full

    def _had_bar(self) -> bool:
        return self.bars > 0 or self.pickup > 0

    def _allowed_bars(self) -> tuple[set[str], str]:
        """The bar lines that may close the current bar, and why others may not."""
        if self.counting is None:
            return {"|:"}, "an empty bar"
        allowed, why = set(BAR_TOKENS), "bad bar line"
        if self.need_section:
            allowed &= set(SECTION_BARS)
            why = "a short bar must end a part (|| :| :: |])"
        allowed -= {"|1"} if self.ending else {"|2", ":|2"} if self.ending != 1 else set()
        if self.target is None:
            return allowed, why
        # when composing, repeats and endings must be ones abc2midi reads without complaint
        closing_ok = self.repeat_open or not self.repeats_closed  # may :| :: :|2 close a repeat here?
        nb = self.bars + (1 if self.counting else 0)  # bars written once this one is closed
        if nb == self.target:
            final = {":|"} if self.repeat_open else set(FINAL_BARS) if closing_ok else {"|]"}
            return allowed & final, "the last bar must end with |] or :| (closing any open repeat)"
        allowed.discard("|]")
        if self.target - nb < MIN_PART_BARS:  # a part starting here would end the tune too short
            allowed -= {":|", "::", "||", "|:", ":|2"} if self.need_section else {":|", "::", "||", "|:"}
            why = f"the last part has at least {MIN_PART_BARS} bars"
        if self.part_bars + (1 if self.counting else 0) < MIN_PART_BARS:
            allowed -= {":|", "::", "||", "|:", ":|2"} if self.need_section else {":|", "::", "||"}
            why = f"a part has at least {MIN_PART_BARS} bars"
        if self.repeat_open:
            allowed -= {"|:", "||"}
        if not closing_ok:
            allowed -= {":|", "::", ":|2", "|1"}
        if nb + 2 > self.target:
            allowed.discard("|1")  # no room left for the second ending
        if self.ending == 1:  # a first ending closes only with :|2
            allowed &= {":|2"} if nb >= self.target - 1 else {"|", ":|2"}
        return allowed, why

    def _check_bar_prefix(self) -> None:
        s = self.bar_str
        allowed, why = self._allowed_bars()
        if not any(t.startswith(s) for t in allowed):
            raise TrackerError(why)

    def _bar(self, ch: str) -> None:
        if ch in "|:]12":
            s = self.bar_str + ch
            if s in _BAR_PREFIXES:
                self.bar_str = s
                self._check_bar_prefix()
                return
        self._finish_bar()
        if self.mode == "after_end_bar":
            self.feed(ch)
            return
        self._free(ch)

    def _finish_bar(self) -> None:
        s = self.bar_str
        if s not in BAR_TOKENS:
            raise TrackerError(f"unfinished bar line {s!r}")
        allowed, why = self._allowed_bars()
        if s not in allowed:
            raise TrackerError(why)
        self.last_token = s
        if s in (":|", "::", ":|2"):
            self.repeats_closed = True
        if s in ("|:", "::"):
            self.repeat_open = True
        elif s in (":|", ":|2", "|]", "||"):
            self.repeat_open = False
        if s in (":|", "::", "||", "|]"):
            self.part_bars = -1 if self.counting else 0  # (this bar is counted below)
        if s == "|1":
            if self.ending:
                raise TrackerError("a first ending inside an ending")
            self.ending = 1
        elif s in ("|2", ":|2"):
            if self.ending != 1:
                raise TrackerError("a second ending without a first")
            self.ending = 2
        elif s != "|" and self.ending == 2:
            self.ending = 0
        if self.counting is None:
            if s != "|:":
                raise TrackerError("an empty bar")
        else:
            if self.need_section and s not in SECTION_BARS:
                raise TrackerError("a short bar must end a part")
            if self.counting is False:
                if self.pending_pickup or self.may_pickup:
                    self.pending_pickup = 0
                else:
                    self.pickup = self.elapsed
            else:
                self.bars += 1
                self.part_bars += 1
                if self.need_section:
                    short = self.elapsed
                    if short + self.pickup != self.full or (self.target is not None and s != ":|2"
                                                            and self.bars < self.target):
                        self.pending_pickup = self.full - short  # the next part starts with it
                    else:
                        self.may_pickup = self.full - short
                if self.target is not None and self.bars == self.target:
                    if s not in FINAL_BARS:
                        raise TrackerError("the last bar must end with |] or :|")
                    if self.pending_pickup:
                        raise TrackerError("the last bar is short")
                    self.mode = "after_end_bar"
                    self.elapsed, self.notes_in_bar = 0, 0
                    return
        if self.counting is not None and not (self.counting and self.need_section):
            self.may_pickup = 0
        self.elapsed, self.notes_in_bar = 0, 0
        self.mode = "free"
        self.last_free = None

    def _end(self) -> None:
        if self.target is not None:
            raise TrackerError(f"the tune needs {self.target} bars, it has {self.bars}")
        if self.last not in ("\n",) and self.mode != "after_end_bar":
            raise TrackerError("the tune must end with a bar line and a newline")
        if self.elapsed or self.pending_pickup or not self.started:
            raise TrackerError("the tune ends inside a bar")
        self.ended = True


def _fixed_text(q: int) -> str:
    return _Q_TEXT[q]


_Q_TEXT = {q: t for t, q in Q_LENGTHS.items()}


def _make_copier():
    """A function copying every slot with plain assignments (the sampler copies a tracker per character)."""
    lines = ["def _copy_slots(a, b):"] + [f"    b.{n} = a.{n}" for n in BarTracker.__slots__]
    scope: dict = {}
    exec("\n".join(lines), scope)  # noqa: S102 - generated from our own slot names
    return scope["_copy_slots"]


_copy_slots = _make_copier()
