"""Note-level measures of one tune: pitch, rhythm and harmony, the tells a listener (and a classifier)
uses once the form is right.

Melody measures read the canonical text in C (what the model writes and the corpus is stored as),
so pitch classes are counted from the tonic (0 = tonic) whatever the tune's key. Harmony measures
read a body with chord symbols in its own key. A chord sounds from its symbol to the next one.

    melody_measures(body_c, mode, meter) -> {"pc_entropy": .., "tonic_share": .., ...}
    chord_measures(body, key, meter)     -> {"sevenths": .., "minor_major_v": .., ...} (None: no chords)
"""

from __future__ import annotations

import math
import re
from collections import Counter
from fractions import Fraction

from model.abc.notation import Key, bar_length
from model.abc.timeline import chord_symbols, scan
from model.keys import SCALES

# rhythm classes of a note's length in units of 1/8
_RHYTHM = ((Fraction(1, 2), "s"), (Fraction(1), "e"), (Fraction(3, 2), "d"), (Fraction(2), "q"), (Fraction(3), "Q"))
# sixteenth-ish, eighth, dotted eighth, quarter, dotted quarter, longer
RHYTHM_CLASSES = [c for _, c in _RHYTHM] + ["l"]
INTERVAL_CLASSES = ["unison", "step", "third", "fourth_fifth", "wide"]

# the rows of the table (per-tune means, printed side by side with human tunes)
MELODY_MEASURES = {
    "pc_entropy": "pitch-class entropy (bits)",
    "tonic_share": "notes on the tonic pitch class",
    "chromatic": "notes outside the key (chromatic)",
    "dotted_notes": "notes in dotted pairs",
    "notes_per_beat": "notes per beat (density)",
    "last_note": "last note's length (share of a bar)",
    "leaps": "intervals of a 4th or more",
    "mean_interval": "mean interval (semitones)",
}
CHORD_MEASURES = {
    "sevenths": "7th chords (share of chord symbols)",
    "minor_major_v": "minor keys: dominant chord major",
    "cadence_v_i": "parts closing V -> I",
    "chord_tones": "strong-beat notes in the chord",
    "chords_per_bar": "chord symbols per bar",
    "vocabulary": "distinct chords per tune",
}


def _interval_class(semis: int) -> str:
    s = abs(semis)
    return "unison" if s == 0 else "step" if s <= 2 else "third" if s <= 4 else "fourth_fifth" if s <= 7 else "wide"


def _rhythm_class(length: Fraction) -> str:
    for top, name in _RHYTHM:
        if length <= top:
            return name
    return "l"


def beat_of(meter: str) -> Fraction:
    """The beat in units of 1/8: a dotted quarter in compound meters, else the meter's denominator."""
    top, bottom = (int(x) for x in meter.split("/"))
    if bottom == 8 and top % 3 == 0 and top > 3:
        return Fraction(3)
    return Fraction(8, bottom)


def melody_measures(body_c: str, mode: str, meter: str) -> dict:
    """Pitch and rhythm measures of a canonical body in C<mode> (0 = tonic)."""
    bars = scan(body_c, Key("C", mode))
    notes = [n for b in bars for n in b.notes if n.midi]
    if not notes:
        return {}
    top = [max(n.midi) for n in notes]  # the melody line: the top note of a double stop
    pcs = Counter(p % 12 for p in top)
    total = len(top)
    entropy = -sum(c / total * math.log2(c / total) for c in pcs.values())
    scale = set(SCALES[mode])
    intervals = [b - a for a, b in zip(top, top[1:])]
    lengths = [n.length for n in notes]
    dotted = sum(
        1
        for a, b in zip(lengths, lengths[1:])
        if (a == 3 * b or b == 3 * a) and a + b in (1, 2) and a > b  # long-short pairs (> or written 3 1)
    )
    played = sum(b.length for b in bars) or Fraction(1)
    rhythm = Counter(_rhythm_class(x) for x in lengths)
    pairs = Counter(_rhythm_class(a) + _rhythm_class(b) for a, b in zip(lengths, lengths[1:]))
    out = {
        "pc_entropy": entropy,
        "tonic_share": pcs[0] / total,
        "chromatic": sum(c for pc, c in pcs.items() if pc not in scale) / total,
        "dotted_notes": 2 * dotted / total,
        "notes_per_beat": total / float(played / beat_of(meter)),
        "last_note": float(lengths[-1] / bar_length(meter)),
        "leaps": sum(abs(i) >= 5 for i in intervals) / max(len(intervals), 1),
        "mean_interval": sum(abs(i) for i in intervals) / max(len(intervals), 1),
        "turns": sum((a > 0) != (b > 0) for a, b in zip(intervals, intervals[1:]) if a and b) / max(len(intervals), 1),
        "range": max(top) - min(top),
    }
    out |= {f"pc_{pc}": pcs[pc] / total for pc in range(12)}
    out |= {f"rhythm_{c}": rhythm[c] / total for c in RHYTHM_CLASSES}
    out |= {f"pair_{a}{b}": pairs[a + b] / max(len(lengths) - 1, 1) for a in "eqdsQ" for b in "eqdsQ"}
    ivs = Counter(_interval_class(i) for i in intervals)
    out |= {f"interval_{c}": ivs[c] / max(len(intervals), 1) for c in INTERVAL_CLASSES}
    return out


def _chord_root_pc(root: str) -> int:
    from model.abc.notation import natural_semitone

    return (natural_semitone("CDEFGAB".index(root[0])) + {"#": 1, "b": -1}.get(root[1:], 0)) % 12


def _is_minor(rest: str) -> bool:
    return bool(re.match(r"m(?!aj)|min|-", rest.strip()))


_PART_END = re.compile(r"\|\]|\|\||:\||::")


def chord_measures(body: str, key: Key, meter: str) -> dict:
    """Harmony measures of a body with chord symbols in `key`; {} when it has none."""
    from model.abc.harmony import tonic_pc
    from model.abc.harmony_eval import measure

    symbols = chord_symbols(body)
    if not symbols:
        return {}
    tonic = tonic_pc(key)
    degrees = [(_chord_root_pc(root) - tonic) % 12 for _, root, _ in symbols]
    names = [root + rest for _, root, rest in symbols]
    dominants = [not _is_minor(rest) for (_, _, rest), d in zip(symbols, degrees) if d == 7]
    # the last two chords before each part end (section bar line, or the end of the tune)
    ends = [m.start() for m in _PART_END.finditer(body)] + [len(body)]
    closes, seen = [], set()
    for end in ends:
        before = [d for (at, _, _), d in zip(symbols, degrees) if at < end]
        if len(before) >= 2 and len(before) not in seen:
            seen.add(len(before))
            closes.append(before[-2] == 7 and before[-1] == 0)
    fit = measure(body, key, meter)
    n_bars = max(len(scan(body, key)), 1)
    return {
        "sevenths": sum("7" in n for n in names) / len(names),
        "minor_major_v": (sum(dominants) / len(dominants)) if key.mode == "min" and dominants else None,
        "cadence_v_i": sum(closes) / len(closes) if closes else None,
        "chord_tones": fit["hits"] / fit["total"] if fit["total"] else None,
        "chords_per_bar": len(symbols) / n_bars,
        "vocabulary": len(set(names)),
    }
