"""Musical measures of one tune, shared by the evaluation, the form statistics and the classifier.

A tune is read from its canonical text in C (what the model writes and the corpus is stored as);
`semis` moves it to its real key for the register measures (a sampled tune's key, or a corpus
tune's original key). Bars are compared by their notes (spaces, grace notes and rolls ignored).

Parts are the stretches between section bar lines (|| |] :| :: |:); the bars of a first ending
are not counted (the second ending replaces them), pickups are not counted, a short bar that
completes the pickup counts as a bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from model.abc.notation import (
    MODES,
    UNIT,
    Bar,
    Mark,
    Note,
    bar_length,
    natural_semitone,
    parse_body,
    read_header,
)
from model.keys import MODE_FIFTHS

B5, E6 = 83, 88  # MIDI numbers: a fiddle tune's usual top, and the top it never passes
PART_ENDS = ("||", "|]", ":|", "::", "|:")
_FLATS = {mode: "BEADGCF"[: -MODE_FIFTHS[mode]] for mode in MODES}  # key signature of C<mode>: maj "", min "BEA"

# the measures of the table, in the order the eval prints them
MEASURES = {
    "bar_repeat": "bars equal to an earlier bar",
    "unit2_repeat": "2-bar units repeating an earlier one",
    "echo_5_6": "parts whose bars 5-6 echo bars 1-2",
    "ends_alike": "parts A and B end alike (first half of last bar)",
    "parts_8_16": "tunes whose parts are all 8 or 16 bars",
    "above_b5": "tunes going above B5",
    "above_e6": "tunes going above E6",
    "last_short": "last note shorter than 1/4 bar",
    "dotted_per_100": "dotted pairs per 100 notes",
    "snaps_per_100": "scotch snaps per 100 notes",
    "da_capo": "repeats going back over earlier parts",
}


@dataclass
class BarInfo:
    notes: list = field(default_factory=list)  # (midi pitches in C, duration in units of 1/8)
    key: str = ""  # the notes as text, for comparing bars
    length: Fraction = Fraction(0)
    token: str = ""  # the bar line closing it
    first_ending: bool = False

    def half_key(self, half: Fraction) -> str:
        """The notes of the first half of the bar (those starting before `half`)."""
        t, out = Fraction(0), []
        for pitches, d in self.notes:
            if t >= half:
                break
            out.append(f"{pitches}{d}")
            t += d
        return ";".join(out)


def _pitch(p: tuple, mode: str) -> int:
    acc, step = p
    if acc is None:
        acc = -1 if "CDEFGAB"[step % 7] in _FLATS[mode] else 0
    return 60 + natural_semitone(step) + acc


def split_bars(body: str, mode: str) -> tuple[list[BarInfo], list[str], int, int]:
    """The bars of a canonical body with their notes (actual durations) and closing bar lines,
    every bar line in order, and the dotted pairs (long-short) and scotch snaps (short-long)."""
    tokens: list[str] = []
    bars, cur, scale, left, ending = [], BarInfo(), Fraction(1), 0, False
    dotted = snaps = 0
    prev: Note | None = None
    for e in parse_body(body, UNIT):
        if isinstance(e, Bar):
            if e.token == "|1":
                ending = True
            tokens.append(e.token)
            if cur.notes:
                cur.token = e.token
                cur.key = ";".join(f"{p}{d}" for p, d in cur.notes)
                bars.append(cur)
            elif bars and e.token in PART_ENDS and bars[-1].token not in PART_ENDS:
                bars[-1].token = e.token  # `| |:` after an empty bar: the part ends at the last bar
            if e.token in (":|2", "|2") or e.token in PART_ENDS:
                ending = False
            cur = BarInfo(first_ending=ending)
            prev = None
        elif isinstance(e, Mark):
            if e.text in "<>" and cur.notes:
                pitches, d = cur.notes[-1]
                first = Fraction(3, 2) if e.text == ">" else Fraction(1, 2)
                cur.notes[-1] = (pitches, d * first)
                cur.length += d * (first - 1)
                scale = 2 - first
                dotted += e.text == ">"
                snaps += e.text == "<"
            elif e.text == "(3":
                left = 3
        elif isinstance(e, Note):
            d = e.length * scale * (Fraction(2, 3) if left else 1)
            scale, left = Fraction(1), max(0, left - 1)
            if prev is not None and prev.length * 3 == e.length and e.length + prev.length in (1, 2):
                dotted += 1
            elif prev is not None and prev.length == e.length * 3 and e.length + prev.length in (1, 2):
                snaps += 1
            cur.notes.append((tuple(_pitch(p, mode) for p in e.pitches), d))
            cur.length += d
            prev = e
    if cur.notes:
        cur.key = ";".join(f"{p}{d}" for p, d in cur.notes)
        bars.append(cur)
    return bars, tokens, dotted, snaps


def parts_of(bars: list[BarInfo], full: Fraction) -> list[list[BarInfo]]:
    """Bars grouped into parts; pickups and first-ending bars left out."""
    parts, cur = [], []
    pickup = bars[0].length if bars and bars[0].length < full else Fraction(0)
    skip_next = False
    for i, b in enumerate(bars):
        counted = not b.first_ending and not skip_next and not (i == 0 and pickup)
        skip_next = False
        if (
            b.length < full
            and pickup
            and b.length + pickup == full
            and i + 1 < len(bars)
            and b.token in PART_ENDS
            and bars[i + 1].length == pickup
        ):
            skip_next = True  # the next bar is the next part's pickup
        if counted and b.notes:
            cur.append(b)
        if b.token in PART_ENDS and cur:
            parts.append(cur)
            cur = []
    if cur:
        parts.append(cur)
    return parts


def da_capo(tokens: list[str], max_bars: int = 16) -> bool:
    """A :| that sends the player back over a part boundary (|| |]) or over more than max_bars."""
    since = 0
    crossed = False
    for t in tokens:
        since += 1
        if t in (":|", "::", ":|2") and (crossed or since > max_bars):
            return True
        if t in ("|:", "::", ":|", ":|2"):
            since, crossed = 0, False
        elif t in ("||", "|]"):
            crossed = True
    return False


def tune_features(text: str, semis: int = 0) -> dict:
    """All measures of one canonical tune text (header + body, in C); `semis` moves it to its key."""
    header = read_header(text)
    mode, body = header.fields.get("K", "C")[1:] or "maj", header.body
    meter = header.fields.get("M") or "4/4"
    full = bar_length(meter)
    bars, tokens, dotted, snaps = split_bars(body, mode)
    parts = parts_of(bars, full)
    flat = [b for p in parts for b in p]
    keys = [b.key for b in flat]
    n_notes = sum(len(b.notes) for b in bars) or 1
    units = [tuple(keys[i : i + 2]) for p in _part_offsets(parts) for i in range(p[0], p[1] - 1, 2)]
    half = full / 2
    echo = [
        p[4].half_key(half) == p[0].half_key(half) and p[5].half_key(half) == p[1].half_key(half)
        for p in parts
        if len(p) >= 6
    ]
    pitches = [x + semis for b in bars for ps, _ in b.notes for x in ps]
    last = next((d for b in reversed(bars) for _, d in reversed(b.notes)), Fraction(0))
    return {
        "bar_repeat": _share(k in keys[:i] for i, k in enumerate(keys)),
        "unit2_repeat": _share(u in units[:i] for i, u in enumerate(units)),
        "echo_5_6": _share(echo) if echo else None,
        "ends_alike": (parts[0][-1].half_key(half) == parts[1][-1].half_key(half)) if len(parts) >= 2 else None,
        "parts_8_16": all(len(p) in (8, 16) for p in parts),
        "above_b5": bool(pitches) and max(pitches) > B5,
        "above_e6": bool(pitches) and max(pitches) > E6,
        "last_short": last < full / 4,
        "dotted_per_100": 100 * dotted / n_notes,
        "snaps_per_100": 100 * snaps / n_notes,
        "da_capo": da_capo(tokens),
        "range": (max(pitches) - min(pitches)) if pitches else 0,
        "part_bars": [len(p) for p in parts],
    }


def _part_offsets(parts):
    i = 0
    for p in parts:
        yield i, i + len(p)
        i += len(p)


def _share(flags) -> float:
    flags = list(flags)
    return sum(map(bool, flags)) / len(flags) if flags else 0.0


def summarise(rows: list[dict]) -> dict:
    """Mean of each measure over tunes (booleans as shares; None = does not apply)."""
    out = {}
    for m in MEASURES:
        vals = [float(r[m]) for r in rows if r.get(m) is not None]
        out[m] = round(sum(vals) / len(vals), 4) if vals else None
    out["tunes"] = len(rows)
    return out


FEATURES = [m for m in MEASURES] + ["range"]


def vector(row: dict) -> list[float]:
    """A tune's measures as numbers for the classifier (None -> -1, a value no measure takes)."""
    return [(-1.0 if row.get(m) is None else float(row[m])) for m in FEATURES]
