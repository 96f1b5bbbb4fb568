"""How well chord symbols fit a melody: the figures behind issue 13's harmony goals.

    python -m model.abc.harmony_eval              # human tunes with chords: theirs vs ours
    python bench/harmony.py --generated 40        # also compose tunes of every ABC style and measure them

chord_tone_rate: of the notes that start on a strong beat (6/8 and 9/8: each dotted quarter; 4/4:
each half bar; 2/4: each quarter; 3/4: the downbeat) while a chord sounds, the share whose pitch is
in that chord (triad, plus the seventh when the symbol says 7). Also: chord changes per half bar
(never more than one) and whether the last chord is the tonic.
"""

from __future__ import annotations

import argparse
import re
import statistics
from fractions import Fraction

from model.abc.harmony import add_chords, tonic_pc
from model.abc.notation import AbcError, Key, bar_length, natural_semitone, parse_tune, read_header
from model.abc.timeline import chord_symbols, scan

_LETTERS = "CDEFGAB"


def chord_pcs(root: str, rest: str) -> frozenset[int] | None:
    """'A' 'm7' -> {A, C, E, G}; None for what is not a chord we can read."""
    pc = (natural_semitone(_LETTERS.index(root[0])) + {"#": 1, "b": -1}.get(root[1:], 0)) % 12
    rest = rest.strip()
    if re.match(r"(dim|o)", rest):
        third, fifth = 3, 6
    elif re.match(r"(aug|\+)", rest):
        third, fifth = 4, 8
    elif re.match(r"m(?!aj)|min|-", rest):
        third, fifth = 3, 7
    elif re.fullmatch(r"(maj|M)?\d*(sus\d?)?|", rest):
        third, fifth = 4, 7
    else:
        return None
    pcs = {pc, (pc + third) % 12, (pc + fifth) % 12}
    if "maj7" in rest or "M7" in rest:
        pcs.add((pc + 11) % 12)
    elif "7" in rest:
        pcs.add((pc + 10) % 12)
    return frozenset(pcs)


def strong_step(meter: str) -> Fraction:
    top, bottom = (int(x) for x in meter.split("/"))
    full = bar_length(meter)
    if bottom == 8 and top % 3 == 0:
        return Fraction(3)
    if top == 3:
        return full
    return full / 2 if top == 4 else Fraction(8, bottom)


def measure(body: str, key: Key, meter: str, unit: Fraction = Fraction(1, 8)) -> dict:
    """Chord-tone rate, changes per half bar, last chord = tonic, for a body with chord symbols."""
    bars = scan(body, key, unit)
    symbols = chord_symbols(body)
    step, half = strong_step(meter), bar_length(meter) / 2
    hits = total = 0
    current = None
    k = 0
    most_changes = 0
    last_name = None
    for bar in bars:
        per_half: dict[int, int] = {}
        for note in bar.notes:
            changed = False
            while k < len(symbols) and symbols[k][0] < note.text_start:
                pcs = chord_pcs(symbols[k][1], symbols[k][2])
                if pcs is not None:
                    changed = changed or pcs != current
                    current, last_name = pcs, symbols[k][1] + symbols[k][2]
                k += 1
            if changed:
                h = int(note.onset // half)
                per_half[h] = per_half.get(h, 0) + 1
            if current is not None and note.pcs and note.onset % step == 0:
                total += 1
                hits += all(p in current for p in note.pcs[:1])
        most_changes = max([most_changes, *per_half.values()])
    last_root = chord_pcs(*re.match(r"([A-G][#b]?)(.*)", last_name).groups()) if last_name else None
    return {
        "hits": hits,
        "total": total,
        "max_changes_per_half_bar": most_changes,
        "ends_on_tonic": bool(last_root)
        and tonic_pc(key) in last_root
        and min(last_root, key=lambda p: (p - tonic_pc(key)) % 12) == tonic_pc(key),
    }


def _body_and_unit(text: str) -> tuple[str, Fraction]:
    tune = parse_tune(text)
    header = read_header(text)
    unit_m = re.fullmatch(r"\s*(\d+/\d+)\s*", header.fields.get("L", ""))
    unit = (
        Fraction(unit_m.group(1))
        if unit_m
        else (Fraction(1, 16) if Fraction(tune.meter) < Fraction(3, 4) else Fraction(1, 8))
    )
    return header.body, unit


def strip_chords(body: str) -> str:
    return re.sub(r'"[A-G][^"]*"', "", body)


def reference_tunes() -> list[str]:
    """Human tunes that carry chord symbols. The fiddle collections have none (their quoted strings
    are fingerings, dynamics, D.C. and segno marks); music21's nottingham-dataset sample has two."""
    from model.abc.data import corpus_dir
    from model.abc.notation import split_tunes

    path = corpus_dir() / "nottingham-dataset" / "reelsa-c.abc"
    return split_tunes(path.read_text(encoding="latin-1")) if path.exists() else []


def human_reference(tunes: list[str] | None = None) -> dict:
    """Their chords' chord-tone rate, and ours on the same melodies (their chords removed)."""
    theirs, ours, count = [0, 0], [0, 0], 0
    for raw in reference_tunes() if tunes is None else tunes:
        try:
            tune = parse_tune(raw)
            body, unit = _body_and_unit(raw)
            m1 = measure(body, tune.key, tune.meter, unit)
            m2 = measure(add_chords(strip_chords(body), tune.key, tune.meter, unit), tune.key, tune.meter, unit)
        except (AbcError, ValueError, KeyError, StopIteration):
            continue
        count += 1
        theirs = [theirs[0] + m1["hits"], theirs[1] + m1["total"]]
        ours = [ours[0] + m2["hits"], ours[1] + m2["total"]]
    return {
        "tunes": count,
        "their_chord_tone_rate": theirs[0] / max(theirs[1], 1),
        "their_strong_notes": theirs[1],
        "our_chord_tone_rate_on_their_melodies": ours[0] / max(ours[1], 1),
    }


def generated(n: int, styles: list[tuple[str, str, str]]) -> dict:
    """Compose `n` tunes (cycling through `styles`: (name, rhythm, meter), from the caller's style table)
    and measure the chords they carry."""
    from model.abc.sample import AbcPrompt, compose_abc, load_abc_model

    model = load_abc_model()
    rates, max_changes, tonic_end = [], 0, 0
    hits = total = 0
    per_style: dict[str, list[int]] = {}
    for i in range(n):
        name, rhythm, meter = styles[i % len(styles)]
        tune = compose_abc(model, AbcPrompt(rhythm, meter, bars=16, seed=1000 + i, candidates=2))
        parsed = parse_tune(tune.abc)
        body, unit = _body_and_unit(tune.abc)
        m = measure(body, parsed.key, parsed.meter, unit)
        hits, total = hits + m["hits"], total + m["total"]
        counts = per_style.setdefault(name, [0, 0])
        counts[0], counts[1] = counts[0] + m["hits"], counts[1] + m["total"]
        rates.append(m["hits"] / max(m["total"], 1))
        max_changes = max(max_changes, m["max_changes_per_half_bar"])
        tonic_end += m["ends_on_tonic"]
    return {
        "tunes": n,
        "chord_tone_rate": hits / max(total, 1),
        "median_tune_rate": statistics.median(rates),
        "max_changes_per_half_bar": max_changes,
        "ends_on_tonic": tonic_end,
        "by_style": {name: round(h / max(t, 1), 3) for name, (h, t) in per_style.items()},
    }


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    print(human_reference())
