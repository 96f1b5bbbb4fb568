"""Chord symbols for a melody, the way a folk accompanist plays them: a small dynamic programme.

The chords are the mode's own (I ii IV V vi in major; i III iv V v VI VII in minor, the major V of the
harmonic minor first; bVII with i/I, ii, IV, v in dorian and mixolydian) plus the dominant seventh
(V7, and V7 of V in major). The tune is cut into slots, a half bar in 6/8, 4/4 and 2/4 and a whole
bar in 3/4 (in 9/8: the bar and its third beat), and a Viterbi pass picks one chord per slot minimising
    melody cost  notes that are not chord tones, weighted by where they fall (slot start 1.0,
                 another beat 0.6, off the beat 0.25) and halved for short notes;
    chord cost   the tonic is free, the primary chords cheap, the others a little dearer; a seventh
                 chord a little dearer than its triad (chosen where the melody has the seventh);
    cadence      a part closes on the tonic, reached from the dominant (V7 -> I): the last slot
                 prefers the tonic, and the chord it comes from V7, in the bar before or in the
                 last bar's first half;
    change cost  a change at a bar line is cheaper than one at the half bar; a chord can only
                 change on a slot that starts with a note (never in the middle of a held note);
    form         the first and the last chord are the tonic (the last one always).
A chord symbol is written where the chord changes and at the start of every bar that follows a
repeat, ending or double bar (so a repeated part starts with its own chord).
Human accompaniment measured for comparison (DESIGN.md): 7ths ~22% of symbols, the dominant major in
65-84% of minor-key tunes, parts closing V -> I 71-79%; `tunesmith eval abc` prints ours beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from model.abc.notation import Key, bar_length, natural_semitone
from model.abc.timeline import TimedBar, scan

_LETTERS = "CDEFGAB"
INF = float("inf")
# (degree label, root in semitones above the tonic, quality): "" major, "m" minor, "7" dominant seventh
MODE_CHORDS = {
    "maj": [("I", 0, ""), ("ii", 2, "m"), ("IV", 5, ""), ("V", 7, ""), ("vi", 9, "m"), ("V7", 7, "7")]
    + [("V7/V", 2, "7")],
    "min": [("i", 0, "m"), ("III", 3, ""), ("iv", 5, "m"), ("V", 7, ""), ("VI", 8, ""), ("VII", 10, ""), ("V7", 7, "7")]
    + [("v", 7, "m")],
    "dor": [("i", 0, "m"), ("ii", 2, "m"), ("III", 3, ""), ("IV", 5, ""), ("v", 7, "m"), ("bVII", 10, "")]
    + [("V7", 7, "7")],
    "mix": [("I", 0, ""), ("ii", 2, "m"), ("IV", 5, ""), ("v", 7, "m"), ("vi", 9, "m"), ("bVII", 10, "")]
    + [("V7", 7, "7")],
}
_INTERVALS = {"": (0, 4, 7), "m": (0, 3, 7), "7": (0, 4, 7, 10)}
_PRIMARY = {"IV", "V", "iv", "VII", "bVII"}
CHORD_COST = {"tonic": 0.0, "primary": 0.15, "other": 0.35, "seventh": 0.15, "modal_dominant": 0.35}
# V7 in dorian and mixolydian brings in a note outside the mode: only where the melody asks for it
_MODAL_V7_COST = 0.6
CADENCE_COST = {"before_last": 1.6, "last": 0.8}  # a part's closing chords other than V(7) -> I
START_COST = 0.8  # a first chord other than the tonic
PART_START_COST = 0.3  # a part (after |: :: ||) starting on another chord than the tonic
CHANGE_COST = {"bar": 0.2, "half": 0.45}  # tuned on 48 generated tunes: ~0.7 chord symbols a bar
_DEGREE_STEPS = {0: 0, 1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 4, 8: 5, 9: 5, 10: 6, 11: 6}
_WRITE_AFTER = {"|:", "::", ":|", "|1", "|2", ":|2", "||"}
_PART_CLOSE = {"|:", "::", ":|", ":|2", "||", "|]"}  # bar lines that close a part (or its first ending)


@dataclass(frozen=True)
class Chord:
    degree: str  # "I", "vi", "bVII", "V7"
    name: str  # the chord symbol in this key: "G", "Em", "F#m", "A7"
    pcs: frozenset[int]  # sounding pitch classes (0 = C)

    @property
    def is_tonic(self) -> bool:
        return self.degree.lower() == "i"

    @property
    def is_dominant(self) -> bool:
        """V, V7 (and the modes' minor v): the chord a cadence comes from."""
        return self.degree in ("V", "V7", "v")


def tonic_pc(key: Key) -> int:
    return (natural_semitone(_LETTERS.index(key.letter)) + key.alter) % 12


def chords_for(key: Key) -> list[Chord]:
    """The chords a tune in `key` may use, spelled in that key (tonic first)."""
    t, ti = tonic_pc(key), _LETTERS.index(key.letter)
    out = []
    for degree, root, quality in MODE_CHORDS[key.mode]:
        pc = (t + root) % 12
        letter = _LETTERS[(ti + _DEGREE_STEPS[root]) % 7]
        alter = (pc - natural_semitone(_LETTERS.index(letter)) + 6) % 12 - 6
        name = letter + ("#" * alter if alter > 0 else "b" * -alter) + quality
        out.append(Chord(degree, name, frozenset((pc + i) % 12 for i in _INTERVALS[quality])))
    return out


def slot_starts(meter: str) -> list[Fraction]:
    """Where a chord may start within a bar (units of 1/8): half bars in duple meters; in 9/8 the
    third beat too (2 + 1: never two changes in one half bar)."""
    full = bar_length(meter)
    top = int(meter.split("/")[0])
    if top == 9:
        return [Fraction(0), full * 2 / 3]
    return [Fraction(0), full / 2] if top in (2, 4, 6, 12) else [Fraction(0)]


def beat_length(meter: str) -> Fraction:
    top, bottom = (int(x) for x in meter.split("/"))
    if bottom == 8 and top % 3 == 0 and top > 3:
        return Fraction(3)  # compound meter: dotted quarter
    return Fraction(8, bottom)


@dataclass
class Slot:
    bar: int
    half: bool  # starts at the half bar (else at the bar line)
    notes: list  # (onset from the slot start, length, pitch classes)
    insert_at: int | None  # text offset of the chord symbol, None: no note starts here
    part_start: bool  # the bar follows |: :: || or an ending
    write_always: bool  # write the chord even when it does not change
    part_last: bool = False  # where a part's closing chord goes: the slot its last note starts in
    last_bar_first: bool = False  # the first slot of a part's last bar (when its last note starts later)


def make_slots(bars: list[TimedBar], meter: str) -> list[Slot]:
    """Bars -> chord slots. A pickup (a short first bar, or a short bar of at most half a bar
    after a section line, leading into the next part) gets no chord."""
    full, starts = bar_length(meter), slot_starts(meter)
    slots = []
    closing = {b for b in range(len(bars)) if b + 1 == len(bars) or bars[b + 1].opened_by in _PART_CLOSE}
    carried = False  # the section line before a pickup counts for the bar after it
    for b, bar in enumerate(bars):
        opened = bar.opened_by in _WRITE_AFTER or carried
        if bar.length < full and (b == 0 or (opened and bar.length <= full / 2 and b + 1 < len(bars))):
            carried = opened
            continue
        carried = False
        for i, s in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else full
            if s >= bar.length:
                break
            notes = [(n.onset - s, n.length, n.pcs) for n in bar.notes if s <= n.onset < end]
            at = next((n.insert_at for n in bar.notes if n.onset == s), None)
            slots.append(Slot(b, i > 0, notes, at, opened and i == 0, opened and i == 0))
        if b in closing and slots and slots[-1].bar == b:
            here = [s for s in slots if s.bar == b]
            last = max((s for s in here if s.insert_at is not None), key=lambda s: s.half, default=here[0])
            last.part_last = True
            here[0].last_bar_first = here[0] is not last
    return slots


def melody_cost(slot: Slot, chord: Chord, beat: Fraction) -> float:
    cost = 0.0
    for onset, length, pcs in slot.notes:
        if not pcs:
            continue
        where = 1.0 if onset == 0 else 0.6 if onset % beat == 0 else 0.25
        weight = where * (1.0 if length >= 1 else 0.5)
        cost += weight * sum(p not in chord.pcs for p in pcs) / len(pcs)
    return cost


def _chord_cost(chord: Chord, mode: str) -> float:
    if chord.is_tonic:
        return CHORD_COST["tonic"]
    if chord.degree == "V7":
        return _MODAL_V7_COST if mode in ("dor", "mix") else CHORD_COST["primary"] + CHORD_COST["seventh"]
    if chord.degree == "V7/V":
        return CHORD_COST["other"] + CHORD_COST["seventh"]
    if chord.degree == "v" and mode == "min":
        return CHORD_COST["modal_dominant"]  # the harmonic minor's major V is the usual one
    return CHORD_COST["primary"] if chord.degree in _PRIMARY else CHORD_COST["other"]


def _cadence_cost(slots: list[Slot], k: int, before: Chord, chord: Chord) -> float:
    """A part closes V -> I (V7 best): charged on the step from `before` into slot k where the closing
    chord comes. That is the last bar's first slot when it takes the tonic, else the part's last slot,
    so V(7) -> I inside the last bar (|"A7"A2G2 "D"F2D2|) is as good a close as V7 in the bar before.
    (Charging the slot before the last bar instead made V7 -> I within the last bar, where 4/4 tunes
    often put it, cost as much as no cadence at all.)"""
    slot = slots[k]
    if slot.insert_at is None:
        return 0.0
    inner = k > 0 and slots[k - 1].last_bar_first and slots[k - 1].insert_at is not None
    if slot.last_bar_first:
        if not chord.is_tonic:
            return 0.0  # the closing chord comes in the part's last slot
        push = CADENCE_COST["before_last"] * 0.5
    elif slot.part_last and inner:
        if before.is_tonic:
            return 0.0  # the tonic came with the last bar, charged there
        push = CADENCE_COST["before_last"] * 0.5
    elif slot.part_last:
        push = CADENCE_COST["before_last"]
    else:
        return 0.0
    return 0.0 if before.degree == "V7" else push * (0.4 if before.is_dominant else 1.0)


def choose(slots: list[Slot], chords: list[Chord], meter: str, mode: str = "maj") -> list[int]:
    """Viterbi: the index into `chords` for every slot (chords[0] is the tonic)."""
    if not slots:
        return []
    beat = beat_length(meter)
    n = len(chords)
    local = [
        [
            melody_cost(s, c, beat)
            + _chord_cost(c, mode)
            + (PART_START_COST if s.part_start and not c.is_tonic else 0.0)
            + (CADENCE_COST["last"] if s.part_last and not c.is_tonic else 0.0)
            for c in chords
        ]
        for k, s in enumerate(slots)
    ]
    cost = [local[0][j] + (0.0 if chords[j].is_tonic else START_COST) for j in range(n)]
    back: list[list[int]] = []
    for k in range(1, len(slots)):
        s = slots[k]
        change = INF if s.insert_at is None else CHANGE_COST["half" if s.half else "bar"]
        new, ptr = [], []
        for j in range(n):
            best, arg = cost[j] + _cadence_cost(slots, k, chords[j], chords[j]), j  # stay
            for i in range(n):
                step = cost[i] + change + _cadence_cost(slots, k, chords[i], chords[j])
                if i != j and step < best:
                    best, arg = step, i
            new.append(best + local[k][j])
            ptr.append(arg)
        cost = new
        back.append(ptr)
    final = [c if chords[j].is_tonic else INF for j, c in enumerate(cost)]
    j = min(range(n), key=lambda i: final[i])
    if final[j] == INF:  # the last slot cannot change (a held note): end where the path ends
        j = min(range(n), key=lambda i: cost[i])
    path = [j]
    for ptr in reversed(back):
        j = ptr[j]
        path.append(j)
    return path[::-1]


def chord_marks(
    body: str, key: Key, meter: str, unit: Fraction = Fraction(1, 8), write_from: int = 0
) -> list[tuple[int, str]]:
    """(text offset, chord name) of the chord symbols to add to `body`; only at offsets >= write_from
    (a continuation keeps the user's own chords before it)."""
    slots = make_slots(scan(body, key, unit), meter)
    chords = chords_for(key)
    path = choose(slots, chords, meter, key.mode)
    marks, previous, forced = [], None, True
    for slot, j in zip(slots, path, strict=True):
        if slot.insert_at is not None and slot.insert_at >= write_from:
            if j != previous or slot.write_always or forced:
                marks.append((slot.insert_at, chords[j].name))
            forced = False
        previous = j
    return marks


def add_chords(body: str, key: Key, meter: str, unit: Fraction = Fraction(1, 8), write_from: int = 0) -> str:
    """`body` with chord symbols written in (see module doc)."""
    out = body
    for at, name in sorted(chord_marks(body, key, meter, unit, write_from), reverse=True):
        at = _after_field_lines(out, at)
        space = " " if re.search(r"[\[|][12]$", out[:at]) else ""  # verovio aborts on [1"Am"
        out = out[:at] + f'{space}"{name}"' + out[at:]
    return out


def _after_field_lines(text: str, at: int) -> int:
    """Skip field lines (P:, W:, ...) and comment lines that start at `at`."""
    while at == 0 or text[at - 1] == "\n":
        m = re.match(r"(?:[A-Za-z]:|%)[^\n]*\n", text[at:])
        if not m:
            break
        at += m.end()
    return at
