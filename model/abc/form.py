"""The form of a tune: which parts, how long, how they are written, and which bars come back.

    plan = make_plan("jig", form=None, played=32, rng)   # AABB, 8-bar parts, written as 16 bars

A form is a string of part letters in playing order (AABB, AABBCC, AB, ABAC). A part played
twice in a row is written once between repeat signs (`:|`, `::`); a part that comes back later
(the second A of ABAC) is written out again, so no repeat ever sends the player back over an
earlier part. Length counts bars as played: a 32-bar jig is AABB with 8-bar parts (or, now and then,
as in the corpus, AABBCC with shorter parts, AB with 16-bar parts ...). The layout (how many parts, how
long, which are repeated) is drawn from the training tunes of the style with that length, so a 16-bar
reel may be AB of 8 bars, AAB of 4 + 8 bars or AABB of 4-bar parts, in the corpus proportions. Only
when no training tune fits the length (or a form the user gave) are the parts all of one length.

Which bars repeat comes from the corpus: the sampler follows the repetition pattern of a random
training tune of the same style with the same part layout (its *template*: for each bar, "new",
"copy of bar j" or "vary bar j" = same first half). Only the pattern is taken, never the notes.
The templates and the per-style statistics live in model/weights/abc-forms.json, built by
`python -m model.abc.form` from the training split.
"""

from __future__ import annotations

import json
import re
import sys
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

import numpy as np

FORMS_FILE = Path(__file__).resolve().parent.parent / "weights" / "abc-forms.json"
FORM_RE = re.compile(r"[A-F]{1,8}")
MAX_PARTS = 6
PART_LENGTHS = (4, 8, 12, 16)  # part lengths taken from the corpus (odd ones are mostly pickup bars)


class FormError(ValueError):
    """A form the planner cannot honour; the message says what is allowed."""


@dataclass
class PlanBar:
    part: int  # index of the written part
    index: int  # bar in the part (0-based)
    action: str = "new"  # "new", "copy" or "vary"
    source: int = -1  # written bar copied or varied
    line: str = "|"  # the bar line closing it


@dataclass
class Plan:
    form: str
    played: int  # bars as played (repeats expanded)
    written_parts: list[tuple[str, bool]]  # (letter, repeated) in written order
    part_lengths: list[int]  # bars of each written part
    bars: list[PlanBar] = field(default_factory=list)
    note: str = ""  # why the length was adjusted, for the answer

    @property
    def written(self) -> int:
        return len(self.bars)

    @property
    def part_bars(self) -> int:
        """Bars per part when every part has the same length, else 0 (see `parts`)."""
        return self.part_lengths[0] if len(set(self.part_lengths)) == 1 else 0

    @property
    def sizes(self) -> dict[str, int]:
        """Bars of each distinct part, in order of appearance: {"A": 4, "B": 8} for an AAB."""
        out: dict[str, int] = {}
        for (letter, _), n in zip(self.written_parts, self.part_lengths):
            out.setdefault(letter, n)
        return out

    @property
    def parts(self) -> str:
        """The lengths of the distinct parts in order, e.g. "4+8" for an AAB of a 4- and an 8-bar part."""
        return "+".join(map(str, self.sizes.values()))

    def ends_part(self, i: int) -> bool:
        return i + 1 == len(self.bars) or self.bars[i + 1].part != self.bars[i].part


def check_form(form: str) -> str:
    f = str(form).strip().upper()
    if not FORM_RE.fullmatch(f) or f[0] != "A":
        raise FormError(f"form must be part letters starting with A, such as AABB, AB, ABAC or AABBCC, not {form!r}")
    seen = ""
    for c in f:
        if c not in seen:
            if c != "ABCDEF"[len(seen)]:
                raise FormError(f"form {form!r}: parts are lettered in order of appearance (A, then B, then C ...)")
            seen += c
    if len(written_layout(f)) > MAX_PARTS:
        raise FormError(f"form {form!r} has too many parts (at most {MAX_PARTS} written parts)")
    return f


def written_layout(form: str) -> list[tuple[str, bool]]:
    """AABB -> [(A, True), (B, True)]; ABAC -> [(A, False), (B, False), (A, False), (C, False)]."""
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(form):
        rep = i + 1 < len(form) and form[i + 1] == form[i]
        out.append((form[i], rep))
        i += 2 if rep else 1
    return out


def default_form(style: dict, played: int) -> str:
    """The style's usual form, with as many parts as come nearest to `played` bars."""
    twice = style.get("repeated", True)
    part = style["part_bars"] if twice else 16  # parts played once are two 8-bar phrases (waltz: AB)
    n = max(1, round(played / (part * (2 if twice else 1))))
    letters = "ABCDEF"[: min(n, MAX_PARTS)]
    return "".join(c * 2 for c in letters) if twice else letters


def parse_layout(layout: str) -> list[tuple[int, bool]]:
    """A corpus layout: "4r+8" -> [(4, True), (8, False)] (part bars, played twice)."""
    return [(int(p.rstrip("r")), p.endswith("r")) for p in layout.split("+")]


def played_bars(parts: list[tuple[int, bool]]) -> int:
    """[(4, True), (8, False)] -> 16 bars as played."""
    return sum(n * (2 if rep else 1) for n, rep in parts)


def layout_form(parts: list[tuple[int, bool]]) -> str:
    """[(4, True), (8, False)] -> "AAB"."""
    return "".join(c * (2 if rep else 1) for c, (_, rep) in zip("ABCDEF", parts))


def form_choices(style: dict, played: int, form: str | None = None) -> dict[tuple[str, tuple[int, ...]], float]:
    """The layouts of the style's training tunes that give exactly `played` bars (and, if given, have
    this form), each weighted by how many tunes have it: (form, part lengths) -> weight."""
    out: dict[tuple[str, tuple[int, ...]], float] = {}
    for layout, count in style.get("layouts", {}).items():
        parts = parse_layout(layout)
        f = layout_form(parts)
        if played_bars(parts) == played and (form is None or f == form):
            key = (f, tuple(n for n, _ in parts))
            out[key] = out.get(key, 0) + count
    return out


def corpus_lengths(style: dict) -> dict[int, int]:
    """Bars as played -> how many of the style's training tunes (with a kept layout) are that long."""
    out: Counter = Counter()
    for layout, count in style.get("layouts", {}).items():
        out[played_bars(parse_layout(layout))] += count
    return dict(sorted(out.items()))


def make_plan(rhythm: str, form: str | None, played: int, rng, stats: dict | None = None) -> Plan:
    """Parts, written bars, bar lines and the repeat pattern for one tune (see module doc): a layout
    of the style's training tunes with this length (and form, if given), drawn in their proportions;
    else the form (or the style's usual one) with parts all of one length, nearest the length."""
    stats = stats if stats is not None else load_stats()
    style = stats["styles"].get(rhythm) or stats["styles"]["reel"]
    f = check_form(form) if form else None
    if choices := form_choices(style, played, f):
        options = sorted(choices)
        weights = np.array([choices[o] for o in options])
        f, lengths = options[int(rng.choice(len(options), p=weights / weights.sum()))]
        plan = Plan(f, played, written_layout(f), list(lengths))
        _fill(plan, style, rng)
        return plan
    f = f or default_form(style, played)
    lengths = [p for p in (style["part_bars"], 8, 16) if p in (8, 16)]
    options = sorted({p * len(f) for p in lengths})
    best = min(options, key=lambda n: (abs(n - played), n))
    part_bars = best // len(f) if best // len(f) in lengths else lengths[0]
    note = (
        ""
        if best == played
        else (
            f"length {played} does not fit form {f} with parts of {'/'.join(map(str, sorted(set(lengths))))} bars; "
            f"composed {best} bars as played ({f}, {part_bars}-bar parts)"
        )
    )
    layout = written_layout(f)
    plan = Plan(f, best, layout, [part_bars] * len(layout), note=note)
    _fill(plan, style, rng)
    return plan


def _fill(plan: Plan, style: dict, rng) -> None:
    """Written bars with their bar lines and repeat actions (from a corpus template)."""
    sizes = plan.sizes
    distinct = list(sizes)  # letters in order of appearance (A, B, C ...)
    starts = list(accumulate([sizes[c] for c in distinct], initial=0))  # where each part starts in the template
    template = pick_template(style, [sizes[c] for c in distinct], rng)
    first_bar: dict[str, int] = {}
    for p, (letter, rep) in enumerate(plan.written_parts):
        nxt = plan.written_parts[p + 1] if p + 1 < len(plan.written_parts) else None
        start = len(plan.bars)
        d = distinct.index(letter)
        for k in range(plan.part_lengths[p]):
            bar = PlanBar(p, k)
            if letter in first_bar:  # a part that comes back: written out again, note for note
                bar.action, bar.source = "copy", first_bar[letter] + k
            else:
                action, src = template[starts[d] + k]
                if action != "new":
                    src_part = bisect_right(starts, src) - 1
                    written = _written_start(plan, distinct[src_part])
                    bar.action, bar.source = action, written + src - starts[src_part]
            plan.bars.append(bar)
        first_bar.setdefault(letter, start)
        end = plan.bars[-1]
        if nxt is None:
            end.line = ":|" if rep else "|]"
        elif rep:
            end.line = "::" if nxt[1] else ":|"
        else:
            end.line = "|:" if nxt[1] else "||"


def _written_start(plan: Plan, letter: str) -> int:
    for i, b in enumerate(plan.bars):
        if plan.written_parts[b.part][0] == letter:
            return i
    return 0


def pick_template(style: dict, sizes: list[int], rng) -> list[tuple[str, int]]:
    """A corpus tune's repeat pattern for distinct parts of these lengths (bar indices are counted
    over the whole tune): one of a tune with exactly these part lengths if there is one, else, for
    parts all of one length, one of a tune with such parts; with fewer parts in that tune, its last
    part's pattern is reused for the extra parts, shifted to point at the part before."""
    pool = _pool(style, "templates", "+".join(map(str, sizes)))
    if pool:
        return [tuple(x) for x in pool[int(rng.integers(len(pool)))]]
    parts, part_bars = len(sizes), sizes[0]
    pool = _pool(style, "uniform", str(part_bars)) if len(set(sizes)) == 1 else []
    exact = [t for t in pool if len(t) == parts * part_bars]
    longer = [t for t in pool if len(t) >= parts * part_bars]
    choice = exact or longer or pool
    if not choice:
        return [("new", -1)] * sum(sizes)
    t = [tuple(x) for x in choice[int(rng.integers(len(choice)))]]
    n_t = len(t) // part_bars
    out: list[tuple[str, int]] = []
    for p in range(parts):
        q = min(p, n_t - 1)
        shift = (p - q) * part_bars
        for k in range(part_bars):
            action, src = t[q * part_bars + k] if q * part_bars + k < len(t) else ("new", -1)
            out.append((action, src + shift) if action != "new" else (action, -1))
    return out


def _pool(style: dict, kind: str, key: str) -> list:
    """The style's templates under `key`; with fewer than 20, those of every style as well."""
    pool = style[kind].get(key) or []
    return pool if len(pool) >= 20 else pool + style["shared"][kind].get(key, [])


# ------------------------------------------------------------------ corpus statistics


def relations(keys: list[str], halves: list[str]) -> list[tuple[str, int]]:
    """For each bar: ("copy", j) if it equals an earlier bar j, ("vary", j) if only its first half
    does, else ("new", -1)."""
    out = []
    for i, (k, h) in enumerate(zip(keys, halves)):
        j = next((j for j in range(i) if keys[j] == k), None)
        if j is not None:
            out.append(("copy", j))
            continue
        j = next((j for j in range(i) if halves[j] == h), None)
        out.append(("vary", j) if j is not None else ("new", -1))
    return out


def build_stats(tunes: list[str], original_keys: dict) -> dict:
    """Per style: part layouts ("4r+8": a 4-bar part played twice, then an 8-bar part once; those of
    at least two tunes, parts of 4, 8, 12 or 16 bars), default part length, share of repeated parts,
    register, rhythm, the last note's length (share of a bar -> tunes), and the repeat templates of
    those tunes, by part lengths ("4+8")."""
    from model.abc.features import parts_of, split_bars, tune_features
    from model.abc.notation import Key, bar_length, body_of, parse_key, shift_between

    by_style: dict[str, list] = defaultdict(list)
    for t in tunes:
        by_style[re.match(r"R:(.*)", t).group(1)].append(t)
    out = {"source": "training split of the music21 fiddle collections (model/abc/data.py)", "styles": {}}
    for rhythm, ts in sorted(by_style.items()):
        layouts, rep_parts, all_parts = Counter(), 0, 0
        templates: dict[str, list] = defaultdict(list)
        high = dotted = snaps = 0.0
        last_notes: Counter = Counter()
        for t in ts:
            mode = re.search(r"K:C(\w+)", t).group(1)
            meter = re.search(r"M:(\S+)", t).group(1)
            body = body_of(t)
            bars, _, _, _ = split_bars(body, mode)
            parts = parts_of(bars, bar_length(meter))
            last = next((d for b in reversed(bars) for _, d in reversed(b.notes)), None)
            if last:
                last_notes[str(Fraction(last) / Fraction(bar_length(meter)))] += 1
            lengths = [len(p) for p in parts]
            if set(lengths) <= set(PART_LENGTHS) and 1 <= len(parts) <= MAX_PARTS:
                layouts["+".join(f"{len(p)}{'r' if p[-1].token in (':|', '::') else ''}" for p in parts)] += 1
            all_parts += len(parts)
            rep_parts += sum(p[-1].token in (":|", "::") for p in parts)
            key = parse_key(original_keys.get(t, "C" + mode))
            f = tune_features(t, shift_between(Key("C", mode), key)[1])
            high += f["above_b5"]
            dotted += f["dotted_per_100"]
            snaps += f["snaps_per_100"]
            if set(lengths) <= set(PART_LENGTHS) and 1 <= len(parts) <= MAX_PARTS:
                flat = [b for p in parts for b in p]
                half = bar_length(meter) / 2
                rel = relations([b.key for b in flat], [b.half_key(half) for b in flat])
                templates["+".join(map(str, lengths))].append(rel)
        n = len(ts)
        kept = {k: c for k, c in layouts.most_common() if c >= 2}
        eight = sum(c for k, c in kept.items() if {size for size, _ in parse_layout(k)} == {8})
        sixteen = sum(c for k, c in kept.items() if {size for size, _ in parse_layout(k)} == {16})
        out["styles"][rhythm] = {
            "tunes": n,
            "layouts": kept,
            "part_bars": 16 if sixteen > eight else 8,
            "repeated_part_share": round(rep_parts / max(all_parts, 1), 3),
            "repeated": rep_parts / max(all_parts, 1) >= 0.35,
            "above_b5": round(high / n, 3),
            "dotted_per_100": round(dotted / n, 2),
            "snaps_per_100": round(snaps / n, 2),
            "last_note": dict(last_notes.most_common()),
            "templates": {k: v for k, v in templates.items()},
        }
    return out


@lru_cache(maxsize=1)
def load_stats(path: Path = FORMS_FILE) -> dict:
    """The statistics, with the templates also pooled by one part length for forms of uniform parts
    ("uniform": "8" -> templates of 8+8, 8+8+8 ...) and over every style ("shared")."""
    stats = json.loads(Path(path).read_text())
    shared: dict[str, dict[str, list]] = {"templates": defaultdict(list), "uniform": defaultdict(list)}
    for s in stats["styles"].values():
        s["uniform"] = defaultdict(list)
        for k, v in s["templates"].items():
            sizes = set(k.split("+"))
            if len(sizes) == 1 and "+" in k:
                s["uniform"][sizes.pop()].extend(v)
        for kind in shared:
            for k, v in s[kind].items():
                shared[kind][k].extend(v)
    for s in stats["styles"].values():
        s["shared"] = shared
    return stats


def main(argv: list[str]) -> int:
    """Rebuild model/weights/abc-forms.json from the training split and print the summary."""
    from model.abc import data

    corpus = data.load_corpus()
    stats = build_stats(corpus.train, corpus.original_keys)
    FORMS_FILE.write_text(json.dumps(stats, separators=(",", ":")) + "\n")
    for rhythm, s in stats["styles"].items():
        print(
            f"{rhythm:10s} tunes {s['tunes']:4d}  part bars {s['part_bars']:2d}"
            f"  repeated {s['repeated_part_share']:.2f}  above B5 {s['above_b5']:.2f}"
            f"  dotted/100 {s['dotted_per_100']:5.1f}  snaps/100 {s['snaps_per_100']:4.1f}"
            f"  templates {sum(len(v) for v in s['templates'].values()):4d}"
            f"  layouts {dict(list(s['layouts'].items())[:8])}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
