"""The step loop: a batch of candidates sampled one character at a time, following a form plan.

Each candidate is one object (text, tracker, log-probability, forced characters). At every step,
a candidate either writes its next *forced* character (a bar line chosen by the plan, or a bar
copied from earlier in the tune) or draws one from the network; both go through the network, so
its state always matches the text. Drawn characters must pass the BarTracker and the style's
rules (register, long last note of a part); a refused character is removed and another drawn.

With a plan (model/abc/form.py): when the network wants a bar line ('|' or ':'), the plan's bar
line for that bar is written instead; at the start of a bar the plan marks "copy", the whole
source bar is forced; for "vary", its first half is, and the network writes the rest.
Without a plan (continuing a user's tune) the network writes its own bar lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import torch

from model.abc.form import Plan
from model.abc.notation import END, natural_semitone
from model.abc.tracker import Q_LENGTHS, BarTracker, TrackerError

# multiplies the tonic's probability in the second half of a part's last bar (the tune's included):
# human parts end on the tonic 75-95% of the time, the network alone ends inner parts on it 25-45%
TONIC_BIAS = 25.0
REDRAWS = 6  # refused draws before falling back to the full mask
_COMPLETIONS: dict[str, list[int]] = {}  # a typed length prefix -> the lengths it can still become
for _text, _q in Q_LENGTHS.items():
    for _k in range(len(_text) + 1):
        _COMPLETIONS.setdefault(_text[:_k], []).append(_q)
_LETTER_STEP = {c: i for i, c in enumerate("CDEFGAB")} | {c: i + 7 for i, c in enumerate("cdefgab")}


@dataclass
class Rules:
    """What every candidate of one tune must respect besides the bar rules."""

    plan: Plan | None = None
    low_step: int = -99  # lowest / highest diatonic step allowed in C (0 = C, 7 = c)
    high_step: int = 99
    long_end: int = 0  # quarter units: the last note of a part is at least this long (0: no rule)
    bias: dict[str, float] = field(default_factory=dict)  # character -> probability multiplier


@dataclass
class Candidate:
    text: str
    tracker: BarTracker
    forced: str = ""  # characters still to write without sampling
    logp: float = 0.0
    steps: int = 0
    done: bool = False
    dead: bool = False
    bar_texts: list[str] = field(default_factory=list)  # written counted bars, as text
    bar_from: int = 0  # where the current bar's text begins
    closing: int | None = None  # where the bar line being written begins
    copying: bool = False  # `forced` holds (part of) an earlier bar, not a bar line
    line_counted: bool = False  # the bar it closes is counted (not a pickup)

    def ok(self, t: BarTracker, rules: Rules) -> bool:
        """The style's rules for a tracker that has just taken a character."""
        if t.mode == "open" and t.kind == "note" and t.note_text:
            step = _LETTER_STEP[t.note_text[0]] + 7 * (t.note_text.count("'") - t.note_text.count(","))
            if not rules.low_step <= step <= rules.high_step:
                return False
        if _long_end_applies(t, rules):
            broken = t.last in "<>" and t.fixed is not None  # elapsed already counts the whole pair
            # the bar may still end full or, in a tune with a pickup, that much short
            if not any(_may_end_long(t, end, rules.long_end, broken) for end in {t.full, t.full - t.pickup}):
                return False
        return True

    def may_close_bar(self, rules: Rules) -> bool:
        """A bar line may come now: at a part's end, only after a long enough note."""
        t = self.tracker
        if not _long_end_applies(t, rules):
            return True
        if t.mode == "open":  # the bar line ends the note being written
            if t.kind == "rest":
                return True
            if t.fixed is not None or t.tuplet_left:
                return False  # the second of a broken pair or a triplet's note: short
            return Q_LENGTHS.get(t.len_str, 0) >= rules.long_end
        return t.last_free is not None and t.last_free >= rules.long_end


def _ends_planned_part(t: BarTracker, plan: Plan | None) -> bool:
    """By the plan, the bar being written (not a pickup) is a part's last."""
    return plan is not None and t.bars < plan.written and plan.ends_part(t.bars) and not t.pending_pickup


def _closes_a_part(t: BarTracker, rules: Rules) -> bool:
    """The bar being written is the tune's last or a part's last."""
    return t.in_last_bar or _ends_planned_part(t, rules.plan)


def _long_end_applies(t: BarTracker, rules: Rules) -> bool:
    """The bar being written ends a part and its last note must be long (the style's rule for this tune)."""
    return bool(rules.long_end and _ends_planned_part(t, rules.plan) and (t.bars or t.pickup))


def _may_end_long(t: BarTracker, end: int, long_end: int, broken: bool) -> bool:
    """The bar can still end at `end` on a note at least `long_end` long. A note being written counts
    with every length it may still get (`B` may become `B2`; `B11/` only `B11/2` ...)."""
    low = end - long_end
    if t.elapsed > end or low < t.elapsed < end or broken and low < t.elapsed <= end:
        return False
    if t.elapsed == end:  # the last note has just ended: was it long? nothing more may begin (a tie ...)
        return t.mode == "free" and not t.tie_to and t.last_free is not None and t.last_free >= long_end
    if t.mode == "tup" and t.elapsed >= low:
        return False  # a triplet from here on would end the bar on one of its short notes
    if t.mode == "open" and t.kind and t.fixed is None and not t.tuplet_left:
        ends = [t.elapsed + q for q in _COMPLETIONS.get(t.len_str, ())]
        return any(e == end or e <= low for e in ends)
    return True


def step_cap(top_midi: int, semis: int, low: bool = False) -> int:
    """The highest (or lowest) diatonic step in C whose natural note stays within `top_midi` in the key."""
    steps = range(-21, 29)
    ok = [
        s
        for s in steps
        if (60 + natural_semitone(s) + semis <= top_midi if not low else 60 + natural_semitone(s) + semis >= top_midi)
    ]
    return max(ok) if not low else min(ok)


def sample(
    net,
    vocab: str,
    start: str,
    trackers: list[BarTracker],
    rules: Rules,
    rng,
    temperature: float,
    top_p: float,
    tonic_known: bool,
    limit: int,
) -> list[Candidate]:
    """Sample len(trackers) candidates from the text `start` (END + header [+ body])."""
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([[index[c] for c in start]] * len(trackers))
    logits, state = net(ids)
    logits = logits[:, -1, :]
    cands = [Candidate(start[1:], t, bar_from=len(start) - 1) for t in trackers]
    mult = torch.ones(len(vocab), dtype=torch.float64)
    for c, m in rules.bias.items():
        if c in index:
            mult[index[c]] = m
    tonic = torch.ones(len(vocab), dtype=torch.float64)
    for c in "Cc":
        if c in index:
            tonic[index[c]] = TONIC_BIAS
    bar_ids = [index[c] for c in "|:" if c in index]
    active = list(range(len(cands)))
    for step in range(limit):
        probs = torch.softmax(logits.double() / temperature, dim=-1) * mult
        for i, r in enumerate(active):
            t = cands[r].tracker
            if tonic_known and t.bar_fraction >= 0.5 and _closes_a_part(t, rules):
                probs[i] *= tonic
        probs /= probs.sum(-1, keepdim=True)
        raw = probs.numpy()
        nucleus = _nucleus(probs, top_p).numpy()
        next_ids = []
        for i, r in enumerate(active):
            c = cands[r]
            ch = _next_char(c, nucleus[i], raw[i], vocab, rules, bar_ids, rng)
            if ch is None:
                c.dead = c.done = True
                next_ids.append(index[END])
                continue
            c.logp += float(np.log(max(raw[i][index[ch]], 1e-12)))
            c.steps += 1
            next_ids.append(index[ch])
            if ch == END:
                c.done = True
        finished = [c for c in cands if c.done and not c.dead]
        if len(finished) >= (len(cands) + 1) // 2 and step > 1.3 * max(c.steps for c in finished):
            break  # enough candidates; do not wait for a rambling one
        keep = [i for i, r in enumerate(active) if not cands[r].done]
        if not keep:
            break
        x = torch.tensor(next_ids).view(-1, 1)
        if len(keep) < len(active):
            x, state = x[keep], net.select(state, keep)
            active = [active[i] for i in keep]
        logits, state = net(x, state)
        logits = logits[:, -1, :]
    return cands


def _next_char(c: Candidate, q: np.ndarray, p: np.ndarray, vocab: str, rules: Rules, bar_ids, rng):
    """Write the candidate's next character (forced or drawn); None at a dead end."""
    if c.forced:
        ch, c.forced = c.forced[0], c.forced[1:]
        t = c.tracker.copy()
        try:
            t.feed(ch)
        except TrackerError:
            t = None
        if t is not None and c.copying and not c.ok(t, rules):
            t = None  # e.g. a bar copied to a part's end whose last note is short
        if t is None:
            c.forced, c.copying = "", False  # the copy does not fit here: the network goes on
        else:
            c.copying = c.copying and bool(c.forced)
            c.tracker, c.text = t, c.text + ch
            if not c.forced and c.closing is not None:
                _bar_done(c, rules)
            return ch
    if rules.plan is not None and bar_ids:
        total_q, total_p = q[bar_ids].sum(), p[bar_ids].sum()
        q[bar_ids], p[bar_ids] = 0.0, 0.0
        q[bar_ids[0]], p[bar_ids[0]] = total_q, total_p  # '|' stands for "the plan's bar line"
    for strict in (True, False):
        drawn = _draw(q.copy(), p, vocab, c, rules, strict, rng)
        if drawn is not None:
            ch, t, line, counted = drawn
            c.tracker, c.text = t, c.text + ch
            if line is not None:  # a bar line began: write the rest of it, then see to the next bar
                c.forced, c.closing, c.line_counted = line, len(c.text) - 1, counted
                if not line:
                    _bar_done(c, rules)
            return ch
    return None


def _try(c: Candidate, ch: str, rules: Rules, strict: bool):
    """(character written, tracker after it, rest of a planned bar line or None, bar counted) or None."""
    if rules.plan is not None and (ch == ":" or ch == "|" and c.tracker.mode not in ("free", "open")):
        return None  # bar lines are the plan's, written whole (drawing '|' stands for it)
    try:
        if ch == "|" and rules.plan is not None:
            probe = _probe_bar(c.tracker)
            if probe is None or probe.counting is None:
                return None  # an empty bar
            line = "|" if probe.counting is False else rules.plan.bars[min(probe.bars, rules.plan.written - 1)].line
            if line[0] == ":" and len(c.text.rsplit("\n", 1)[-1]) == 1:
                line = " " + line  # "b::" at the start of a line would read as a header field "b:"
            c.tracker.copy().feed_text(line + "\n")  # the whole line must be accepted
            if strict and not c.may_close_bar(rules):
                return None
            t = c.tracker.copy()
            t.feed(line[0])
            return line[0], t, line[1:], bool(probe.counting)
        t = c.tracker.copy()
        t.feed(ch)
    except TrackerError:
        return None
    if strict and not c.ok(t, rules):
        return None
    return ch, t, None, False


def _probe_bar(tracker: BarTracker) -> BarTracker | None:
    """The tracker once a bar line begins here (whether the bar counts), or None if none may."""
    for first in "|:":
        probe = tracker.copy()
        try:
            probe.feed(first)
            return probe
        except TrackerError:
            continue
    return None


def _draw(q, p, vocab, c: Candidate, rules: Rules, strict: bool, rng):
    for _ in range(REDRAWS):
        total = q.sum()
        if total <= 0:
            break
        i = min(int(np.searchsorted(np.cumsum(q), rng.random() * total, side="right")), len(q) - 1)
        got = _try(c, vocab[i], rules, strict)
        if got is not None:
            return got
        q[i] = 0.0
    ok = {i: got for i, ch in enumerate(vocab) if (got := _try(c, ch, rules, strict)) is not None}
    if not ok:
        return None
    w = np.array([p[i] if i in ok else 0.0 for i in range(len(vocab))])
    if w.sum() <= 0:
        w = np.array([1.0 if i in ok else 0.0 for i in range(len(vocab))])
    i = min(int(np.searchsorted(np.cumsum(w), rng.random() * w.sum(), side="right")), len(w) - 1)
    while i not in ok:
        i = (i - 1) % len(w)
    return ok[i]


def _bar_done(c: Candidate, rules: Rules) -> None:
    """A bar line is written: record the bar, and queue the next bar's copy or varied half."""
    if c.line_counted:
        c.bar_texts.append(c.text[c.bar_from : c.closing].strip())
    c.closing, c.bar_from = None, len(c.text)
    probe = c.tracker.copy()
    try:
        probe.feed("\n")  # finishes the bar line: is this the end, or a part's pickup next?
    except TrackerError:
        return
    if probe.mode == "after_end_bar":
        c.forced = "\n" + END
        return
    plan = rules.plan
    if probe.pending_pickup or probe.bars >= plan.written:
        return
    bar = plan.bars[probe.bars]
    if bar.action == "new" or bar.source >= len(c.bar_texts):
        return
    src = c.bar_texts[bar.source]
    copy = bar.action == "copy"
    if copy and probe.bars == plan.written - 1 and not ends_on_tonic(src):
        copy = False  # the tune's last bar: keep the source's first half, let the network find the tonic
    c.forced = src if copy else first_half(src, probe.full)
    c.copying = bool(c.forced)


def ends_on_tonic(bar: str) -> bool:
    """The last note of a bar of canonical text (in C) is a C, any octave, not sharpened or flattened."""
    notes = re.findall(r"([_^=]*)([A-Ga-g])[,']*[\d/]*", re.sub(r"\{[^}]*\}", "", bar))
    return bool(notes) and notes[-1][1] in "Cc" and notes[-1][0] in ("", "=")


def first_half(bar: str, full: int) -> str:
    """The text of a bar up to the first space after half the bar ('' if there is none)."""
    t = BarTracker(f"{Fraction(full, 32)}")
    for i, ch in enumerate(bar):
        try:
            t.feed(ch)
        except TrackerError:
            return ""
        if ch == " " and t.mode == "free" and t.elapsed * 2 >= full:
            return bar[: i + 1]
    return ""


def _nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Top-p for a batch: keep the smallest set of most likely symbols holding top_p of the mass."""
    if top_p >= 1.0:
        return probs.clone()
    sorted_p, order = probs.sort(dim=-1, descending=True, stable=True)
    drop = (sorted_p.cumsum(-1) - sorted_p) > top_p
    return probs.scatter(-1, order, sorted_p.masked_fill(drop, 0.0))
