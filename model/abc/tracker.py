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

from model.abc.notation import END, LENGTHS, bar_length
from model.abc.tracker_bars import MIN_PART_BARS, BarLines, TrackerError

__all__ = ["MIN_PART_BARS", "BarTracker", "TrackerError"]

Q_LENGTHS = {text: int(f * 4) for text, f in LENGTHS.items()}  # suffix -> quarter units
_PREFIX_MIN: dict[str, int] = {}  # length prefix -> shortest completion (quarter units)
for _text, _q in Q_LENGTHS.items():
    for _k in range(len(_text) + 1):
        p = _text[:_k]
        _PREFIX_MIN[p] = min(_PREFIX_MIN.get(p, 1 << 30), _q)
_NOTE_LETTERS = set("ABCDEFGabcdefg")
_NOTE_START = _NOTE_LETTERS | set("^_=z[~")
_DIGITS = set("0123456789/")
MAX_CHORD = 4  # notes in a chord
MAX_GRACE = 6  # notes in a grace group
MAX_OCTAVE_MARKS = 2  # C,, .. c'' : the range of the corpus


class BarTracker(BarLines):
    __slots__ = (
        "full",
        "target",
        "elapsed",
        "mode",
        "acc",
        "upper",
        "len_str",
        "kind",
        "has_pitch",
        "fixed",
        "tuplet_left",
        "last_free",
        "bar_str",
        "bars",
        "pickup",
        "pending_pickup",
        "need_section",
        "counting",
        "may_pickup",
        "last",
        "notes_in_bar",
        "ended",
        "last_pitch",
        "bar_pitches",
        "chord_pitches",
        "started",
        "octave",
        "ending",
        "last_token",
        "part_bars",
        "repeat_open",
        "note_text",
        "tie_to",
        "repeats_closed",
    )

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

    def copy(self) -> BarTracker:
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
                raise TrackerError(f"{e} at character {i} ({text[max(0, i - 20) : i]!r} + {ch!r})") from None

    def finish(self) -> None:
        """Check the tune may end here (as if END were fed)."""
        if not self.ended:
            self.feed(END)

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
                if self.in_last_bar and self.elapsed >= self._limit() - self.pickup:  # the bar may end here
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
