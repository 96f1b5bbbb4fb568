"""Sampling tunes from the ABC char-RNN, with constraints that make every tune valid.

    model = load_abc_model()                      # shipped weights, cached per process
    tune = compose_abc(model, AbcPrompt("jig", "6/8", "1/8", "Dmaj", bars=32, seed=7))
    print(tune.abc)

A new tune follows a form plan (model/abc/form.py): parts, bars per part, the bar lines and
which bars come back, drawn from the corpus. `bars` counts bars as played (repeats expanded); a
length that does not fit the form is moved to the nearest one that does (`GeneratedAbc.note`).
The key is chosen before sampling, so the register cap (G3..B5, now and then up to E6) is exact.
The step loop (model/abc/decode.py) samples a batch of candidates one character at a time; every
character is checked by a BarTracker (model/abc/tracker.py), so bars always add up. Candidates
that copy 4 or more consecutive bars of a training tune are rejected (model/abc/novelty.py); of
the rest one ending on the tonic is drawn at random (not the likeliest one: that is the blandest). The model writes
in C; the chosen tune is transposed to the requested key afterwards.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch

from model.abc import decode
from model.abc.finish import finish_tune
from model.abc.form import FormError, Plan, check_form, load_stats, make_plan
from model.abc.net import AbcNet, load_checkpoint
from model.abc.notation import (
    END,
    MODES,
    UNIT,
    AbcError,
    Key,
    bar_length,
    body_of,
    emit,
    header_text,
    normalise_meter,
    parse_body,
    parse_key,
    parse_tune,
    shift_between,
    transpose_elements,
)
from model.abc.tracker import BarTracker, TrackerError
from model.keys import MODE_NAMES
from model.lstm import cpu_sampling

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "abc.pt"
MAX_BARS = 256
LOW, TOP, PEAK = 55, 83, 88  # fiddle register (MIDI): G3 .. B5, rare excursions up to E6, never above


@dataclass(frozen=True)
class Tuning:
    """How the sampler leans for one rhythm, calibrated together against the held-out human tunes of
    that style (`tunesmith eval abc`): the network alone writes its own rates, which differ by style.

    bias        multipliers of the network's probability of '>' (dotted pair), '<' (scotch snap),
                '2' (a note of two units: a quarter note, of which it writes a third more than humans)
                and of letters (over PITCH_BIAS: reels lean less to the tonic C and its third E);
    high_room   the chance that a tune may climb to E6 is this times the corpus's share above B5.
    (How long a part's last note is, is drawn from the style's corpus: `_rules`.)"""

    bias: dict = field(default_factory=dict)
    high_room: float = 2.0


# the one table of per-rhythm sampling settings (a new rhythm: a row here, in model/meter.py's
# RHYTHM_METERS and in bot/styles.py; its form statistics come from the corpus)
TUNING = {
    "jig": Tuning({">": 0.6, "<": 0.3, "2": 0.55}, high_room=1.2),
    "reel": Tuning({">": 0.35, "<": 1.0, "2": 0.5, "C": 0.6, "c": 0.6, "E": 0.9, "e": 0.9}, high_room=1.8),
    "hornpipe": Tuning({">": 0.45, "<": 0.2, "2": 0.5}),
    "march": Tuning({">": 0.8, "<": 0.15}),
    "waltz": Tuning({"<": 0.2, "2": 0.7}),
    "strathspey": Tuning({"<": 15.0}),
    "slip jig": Tuning({">": 0.5}),
}

# multipliers of the network's probability of accidentals and of the tonic's letters, for every style:
# the network alone writes fewer accidentals and more tonic notes than human tunes have (held-out
# split, `tunesmith eval abc`: notes outside the key, notes on the tonic pitch class)
PITCH_BIAS = {"^": 2.5, "_": 2.5, "=": 2.5, "C": 0.75, "c": 0.75}


class PromptError(ValueError):
    """A prompt the model cannot honour; the message names the field and what is allowed."""


class GenerationError(RuntimeError):
    """Sampling failed (every candidate was a copy or hit a dead end); retry with another seed."""


@dataclass(frozen=True)
class AbcPrompt:
    rhythm: str  # R: label the model knows, e.g. "jig" (see AbcModel.rhythms)
    meter: str = "6/8"  # M:, e.g. "6/8"
    unit: str = "1/8"  # L: (the model writes in 1/8)
    key: str | None = None  # "Dmaj", "F#min", "Ador", "Bbmix"; None: the model picks mode and tonic
    bars: int = 32  # bars as played (repeats expanded; a pickup is not counted); when continuing: as written
    form: str | None = None  # AABB, AB, ABAC ... (None: the style's usual form for this length)
    temperature: float = 0.9
    top_p: float = 1.0  # a nucleus cut removes the rare notes (accidentals) that make a tune sound human
    seed: int = 0
    prime_abc: str | None = None  # a user's tune (header + some bars) to continue
    candidates: int = 2  # tunes sampled at once; one ending on the tonic is returned (2: ~90% end on it)
    style: str | None = None  # the style's name, for the title ("polka" is sampled as rhythm "march")


@dataclass
class GeneratedAbc:
    abc: str  # the whole tune: X:, T:, R:, M:, L:, K: and the body (no Q:)
    bars: int  # as played (when continuing: as written)
    seed: int
    model_version: str
    key: str = ""  # canonical key name, e.g. "Dmaj"
    meter: str = ""
    rhythm: str = ""
    ends_on_tonic: bool = False
    candidates: int = 0  # how many were sampled in all
    copies_rejected: int = 0
    body_c: str = field(default="", repr=False)  # the body as sampled, in C (for evaluation)
    form: str = ""  # e.g. "AABB" ("" when continuing a user's tune)
    part_bars: int = 0  # bars per part when all parts are as long, else 0
    parts: str = ""  # the distinct parts' lengths, e.g. "4+8"
    bars_written: int = 0
    note: str = ""  # e.g. why the length was adjusted to fit the form


class AbcModel:
    """Network + vocabulary + model card; created by load_abc_model()."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.net: AbcNet
        self.net, ckpt = load_checkpoint(self.path)
        self.vocab = self.net.config.vocab
        self.index = {c: i for i, c in enumerate(self.vocab)}
        card_path = self.path.with_suffix(".json")
        self.card = json.loads(card_path.read_text()) if card_path.exists() else {}
        self.version = self.card.get("model_version", "abc-unversioned")
        self.rhythms = set((self.card.get("data") or {}).get("rhythms", {})) or {"jig", "reel"}
        self.keys: dict[str, int] = self.card.get("keys") or {"Dmaj": 1}
        self._novelty = None

    @property
    def novelty(self):
        if self._novelty is None:
            from model.abc.novelty import NoveltyIndex

            self._novelty = NoveltyIndex.load_or_build(self.path.parent / "abc-novelty.gz")
        return self._novelty


_MODELS: dict[Path, AbcModel] = {}


def load_abc_model(path: str | Path | None = None) -> AbcModel:
    """Load the ABC model once per process (None: the shipped model/weights/abc.pt)."""
    p = Path(path).resolve() if path else WEIGHTS.resolve()
    if p not in _MODELS:
        if not p.exists():
            raise FileNotFoundError(f"ABC model weights not found: {p}")
        _MODELS[p] = AbcModel(p)
    return _MODELS[p]


sampling_mode = cpu_sampling  # bench/ and the evaluator use this name


# ------------------------------------------------------------------ validation


def _check_prompt(model: AbcModel, p: AbcPrompt) -> None:
    if p.rhythm not in model.rhythms:
        raise PromptError(f"unknown rhythm {p.rhythm!r}; the model knows {', '.join(sorted(model.rhythms))}")
    if not isinstance(p.bars, int) or not 1 <= p.bars <= MAX_BARS:
        raise PromptError(f"length must be between 1 and {MAX_BARS} bars, not {p.bars!r}")
    if not 0.1 <= p.temperature <= 2.0:
        raise PromptError(f"temperature must be between 0.1 and 2.0, not {p.temperature!r}")
    if not 0.1 <= p.top_p <= 1.0:
        raise PromptError(f"top_p must be between 0.1 and 1.0, not {p.top_p!r}")
    if not 1 <= p.candidates <= 32:
        raise PromptError(f"candidates must be between 1 and 32, not {p.candidates!r}")
    if p.unit.replace(" ", "") != "1/8" and not p.prime_abc:  # a continued tune keeps its own L:
        raise PromptError(f"unit length L:{p.unit} is not supported; the model writes L:1/8")
    check_meter(p.meter)
    if p.form is not None and not p.prime_abc:
        try:
            check_form(p.form)
        except FormError as e:
            raise PromptError(str(e)) from None


def check_meter(meter: str) -> Fraction:
    m = re.fullmatch(r"(\d{1,2})/(2|4|8|16)", str(meter).strip())
    if not m or int(m.group(1)) == 0:
        raise PromptError(f"meter must look like 6/8 or 4/4, not {meter!r}")
    length = bar_length(meter)
    if not 1 <= length <= 24 or (length * 4).denominator != 1:
        raise PromptError(f"meter {meter} is out of range (one bar must be between 1/8 and 3 whole notes)")
    return length


def resolve_key(key: str | None) -> Key | None:
    if key is None:
        return None
    try:
        m = re.fullmatch(r"([A-Ga-g][#b]?)(maj|min|dor|mix)", key.strip())
        if not m:
            raise ValueError
        return parse_key(m.group(1)[0].upper() + m.group(1)[1:] + m.group(2))
    except ValueError:
        raise PromptError(f"unknown key {key!r}; use a tonic and a mode such as Dmaj, F#min, Ador, Bbmix") from None


# ------------------------------------------------------------------ continuation


@dataclass
class _Prime:
    text: str  # canonical text fed to the model after END (header + body so far, in C)
    tracker: BarTracker
    key: Key
    meter: str
    rhythm: str
    out_header: str  # the whole header of the output tune
    out_body: str  # the user's body, verbatim, plus the separator
    unit_scale: Fraction  # canonical length / user's written length
    user_bars: int  # complete bar segments the user wrote (the novelty check starts after them)


def _prime_from_user(model: AbcModel, p: AbcPrompt) -> _Prime:
    text = p.prime_abc.replace("\r\n", "\n").replace("\r", "\n")
    if not re.search(r"(?m)^X:", text):
        text = "X:1\n" + text
    tune = parse_tune(text, strict=True)
    lines = text.split("\n")
    k_line = next(i for i, line in enumerate(lines) if re.match(r"\s*K:", line))
    header_lines = [line.strip() for line in lines[: k_line + 1] if re.match(r"\s*[A-Za-z]:", line)]
    fields = {line[0]: line[2:].strip() for line in reversed(header_lines)}
    unit = (
        Fraction(fields["L"].replace(" ", ""))
        if "L" in fields
        else (Fraction(1, 16) if Fraction(tune.meter) < Fraction(3, 4) else Fraction(1, 8))
    )
    rhythm = tune.rhythm if tune.rhythm in model.rhythms else p.rhythm
    check_meter(tune.meter)
    steps, semis = shift_between(tune.key, Key("C", tune.key.mode))
    body_c = emit(transpose_elements(_open_ended(tune.elements), steps, semis))
    user_body = "\n".join(lines[k_line + 1 :]).rstrip()
    if (
        body_c.rstrip().endswith("||") and user_body.endswith(("|", "|]")) and not user_body.endswith("||")
    ):  # written the way it is read (see _open_ended)
        user_body = (user_body[:-2] if user_body.endswith("|]") else user_body[:-1]).rstrip() + "||"
    sep = "\n" if body_c.endswith(("|", "]", ":", "1", "2")) or user_body.endswith("\n") else " "
    body_c += sep
    # The user's bars are held to the bar-length rules only; the stricter composing rules (part
    # lengths, repeat layout) apply from the first generated bar, once the target is set.
    tracker = BarTracker(tune.meter)
    for ch in body_c:
        try:
            tracker.feed(ch)
        except TrackerError as e:
            raise AbcError(
                f"your ABC does not fit the bar rules in bar {tracker.bars + 1} (not counting a pickup): {e}"
            ) from None
    if tracker.mode != "free":
        raise AbcError("your ABC ends in the middle of a chord, triplet or broken rhythm; end it after a whole note")
    if tracker.bars >= p.bars:
        raise PromptError(f"your tune already has {tracker.bars} bars; ask for more than that to continue it")
    tracker.target = p.bars
    keep = [h for h in header_lines if h[0] not in "XTRMLKQ"]
    out_header = "".join(
        f"{h}\n"
        for h in [
            f"X:{fields.get('X', '1') or '1'}",
            f"T:{fields.get('T') or 'Continued tune'}",
            f"R:{fields.get('R') or rhythm}",
            f"M:{fields.get('M', tune.meter)}",
            f"L:{unit}",
            *keep,
            f"K:{fields['K']}",
        ]
    )
    return _Prime(
        header_text(rhythm, tune.meter, tune.key.mode) + body_c,
        tracker,
        tune.key,
        tune.meter,
        rhythm,
        out_header,
        user_body + sep,
        UNIT / unit,
        _complete_bars(body_c),
    )


def _open_ended(elements: list) -> list:
    """The user's elements made ready to go on: a leading plain `|` is dropped, and the last bar
    line, if final (`|]`) or plain after a short bar (a tune with a pickup), becomes `||`."""
    from model.abc.notation import Bar, Note

    out = list(elements)
    first = next((i for i, e in enumerate(out) if isinstance(e, (Bar, Note))), None)
    if first is not None and isinstance(out[first], Bar) and out[first].token == "|":
        del out[first]
    bars = [i for i, e in enumerate(out) if isinstance(e, Bar)]
    if bars and out[bars[-1]].token in ("|]", "|"):
        start = bars[-2] + 1 if len(bars) > 1 else 0
        last = sum(e.length for e in out[start : bars[-1]] if isinstance(e, Note))
        longest = max(
            (sum(e.length for e in out[a + 1 : b] if isinstance(e, Note)) for a, b in pairwise(bars)), default=last
        )
        if out[bars[-1]].token == "|]" or last < longest:
            out[bars[-1]] = Bar("||")
    return out


def _complete_bars(body: str) -> int:
    from model.abc.notation import bars_of

    n = len(bars_of(body))
    return n if body.rstrip().endswith(("|", "]", ":", "1", "2")) else max(0, n - 1)


# ------------------------------------------------------------------ the sampler


def compose_abc(model: AbcModel, prompt: AbcPrompt) -> GeneratedAbc:
    """Sample `prompt.candidates` tunes and return the best valid, novel one (see module doc)."""
    _check_prompt(model, prompt)
    rng = np.random.default_rng(prompt.seed)
    prime = _prime_from_user(model, prompt) if prompt.prime_abc else None
    meter = prime.meter if prime else prompt.meter
    rhythm = prime.rhythm if prime else prompt.rhythm
    key = prime.key if prime else resolve_key(prompt.key) or _pick_key(model, rhythm, normalise_meter(meter), rng)
    plan = None if prime else make_plan(rhythm, prompt.form, prompt.bars, rng)
    rules = _rules(rhythm, key, plan, normalise_meter(meter), rng)
    tried = copies = 0
    with sampling_mode():
        for _round in range(4):
            cands = _sample_batch(model, prompt, prime, key, normalise_meter(meter), rhythm, rules, rng)
            tried += len(cands)
            good = []
            for c in cands:
                if c.dead or not c.done:
                    continue
                if model.novelty.copies(c.text, prime.user_bars if prime else 0):
                    copies += 1
                    continue
                text = c.text.rstrip(END)
                in_key = None if prime else _in_key(text, key)
                if not prime and in_key is None:
                    continue  # e.g. a double sharp that has no spelling in this key
                tonic = c.tracker.last_pitch.lstrip("=") in ("C", "c")
                good.append((text, tonic, in_key))
            if good:
                # a tune ending on the tonic if there is one, else any; never the likeliest: ranking by
                # log-probability picks the blandest tune (more tonic notes, no accidentals)
                pool = [g for g in good if g[1]] or good
                text, ends_tonic, out_body = pool[int(rng.integers(len(pool)))]
                break
        else:
            raise GenerationError(
                f"could not sample a new tune ({copies} of {tried} candidates copied a "
                "known tune, the others did not finish); try another seed"
            )
    body_c = body_of(text)
    facts = {
        "seed": prompt.seed,
        "model_version": model.version,
        "key": key.name,
        "meter": meter,
        "rhythm": rhythm,
        "ends_on_tonic": ends_tonic,
        "candidates": tried,
        "copies_rejected": copies,
        "body_c": body_c,
    }
    finish = dict(style=prompt.style or rhythm, seed=prompt.seed, model_version=model.version)
    if prime:
        abc = finish_tune(
            _continued_text(prime, text, key), **finish, user_part_end=len(prime.out_header) + len(prime.out_body)
        )
        return GeneratedAbc(abc=abc, bars=prompt.bars, **facts)
    abc = finish_tune(_assemble(rhythm, meter, key, prompt.seed, out_body), **finish, user_part_end=None)
    return GeneratedAbc(
        abc=abc,
        bars=plan.played,
        form=plan.form,
        part_bars=plan.part_bars,
        parts=plan.parts,
        bars_written=plan.written,
        note=plan.note,
        **facts,
    )


def _in_key(text: str, key: Key) -> str | None:
    """The body of a sampled tune (written in C) moved to `key`; None when a note cannot be spelled there."""
    steps, semis = shift_between(Key("C", key.mode), key)
    try:
        return emit(transpose_elements(parse_body(body_of(text), UNIT), steps, semis))
    except AbcError:
        return None


# a closing bar line the network put at the start of a line (d2z\n|] -> d2z|]): joined to its bar
_CLOSER_ON_NEW_LINE = re.compile(r"[ \t]*\n[ \t]*(\|\]|:\|(?!\d))[ \t]*")


def join_closing_bar_lines(body: str) -> str:
    """Move a line break that comes just before |] or :| to just after it (none if one follows)."""
    return _CLOSER_ON_NEW_LINE.sub(
        lambda m: m.group(1) + ("" if body[m.end() : m.end() + 1] in ("\n", "") else "\n"), body
    )


def _assemble(rhythm: str, meter: str, key: Key, seed: int, body: str) -> str:
    """The final tune text: header and body (titles and chord symbols are added here)."""
    body = join_closing_bar_lines(body)
    body = re.sub(r"(?<=[^\s|:])::", " ::", body)  # music21 drops the note before a "::" written close
    mode = MODE_NAMES[key.mode]
    title = f"{rhythm.title()} in {key.tonic} {mode}"
    return f"X:1\nT:{title} (seed {seed})\nR:{rhythm}\nM:{meter}\nL:1/8\nK:{key.abc()}\n{body}\n"


def _continued_text(prime: _Prime, text: str, key: Key) -> str:
    cont_c = text[len(prime.text) :]
    steps, semis = shift_between(Key("C", key.mode), key)
    cont = join_closing_bar_lines(
        emit(transpose_elements(parse_body(cont_c, UNIT), steps, semis), scale=prime.unit_scale)
    )
    return prime.out_header + prime.out_body + cont.rstrip("\n") + "\n"


def _pick_key(model: AbcModel, rhythm: str, meter: str, rng: np.random.Generator) -> Key:
    """A key chosen before sampling (the register cap depends on it): the mode as the network writes it
    after this header (so fine-tuning on a community's ratings can move it), then a tonic for that mode
    drawn from the corpus's key counts."""
    options = [m + "\n" for m in MODES]
    typed = ""
    with cpu_sampling():
        logits, state = model.net(torch.tensor([[model.index[c] for c in END + header_text(rhythm, meter, "")[:-1]]]))
        while not typed.endswith("\n"):
            p = torch.softmax(logits[0, -1].double(), dim=-1).numpy()
            allowed = sorted({o[len(typed)] for o in options if o.startswith(typed)})
            w = np.array([p[model.index[c]] if c in model.index else 0.0 for c in allowed]) + 1e-12
            ch = allowed[int(rng.choice(len(allowed), p=w / w.sum()))]
            typed += ch
            logits, state = model.net(torch.tensor([[model.index[ch]]]), state)
    mode = typed[:-1]
    names = [(k, n) for k, n in sorted(model.keys.items()) if k.endswith(mode)] or [("D" + mode, 1)]
    weights = np.array([n for _, n in names], dtype=float)
    choice = names[int(rng.choice(len(names), p=weights / weights.sum()))][0]
    return Key(choice[:-3], mode)


def _rules(rhythm: str, key: Key, plan: Plan | None, meter: str, rng) -> decode.Rules:
    """Register, rhythm and ending rules for one tune of this style in this key."""
    style = load_stats()["styles"].get(rhythm, {})
    _, semis = shift_between(Key("C", key.mode), key)
    tuning = TUNING.get(rhythm, Tuning())
    high = PEAK if rng.random() < min(1.0, tuning.high_room * style.get("above_b5", 0.1)) else TOP
    long_end = 0  # the parts' last notes at least as long as a corpus tune's of the style, drawn
    if ends := style.get("last_note"):
        shares = list(ends)
        weights = np.array([ends[s] for s in shares], dtype=float)
        share = Fraction(shares[int(rng.choice(len(shares), p=weights / weights.sum()))])
        long_end = int(share * bar_length(meter) * 4)  # quarter units of L
    return decode.Rules(
        plan=plan,
        low_step=decode.step_cap(LOW, semis, low=True),
        high_step=decode.step_cap(high, semis),
        long_end=long_end,
        bias=PITCH_BIAS | tuning.bias,
    )


def _sample_batch(model, prompt, prime, key, meter, rhythm, rules, rng) -> list[decode.Candidate]:
    """One batch of candidates, sampled after the header (and the user's bars when continuing)."""
    if prime:
        start = END + prime.text
        trackers = [prime.tracker.copy() for _ in range(prompt.candidates)]
        target = prime.tracker.target
    else:
        start = END + header_text(rhythm, meter, key.mode)
        target = rules.plan.written
        trackers = [BarTracker(meter, target) for _ in range(prompt.candidates)]
    missing = set(start) - set(model.vocab)
    if missing:
        raise AbcError(f"the model has never seen the character(s) {''.join(sorted(missing))!r}")
    limit = target * int(bar_length(meter)) * 6 + 400
    return decode.sample(
        model.net, model.vocab, start, trackers, rules, rng, prompt.temperature, prompt.top_p, True, limit
    )
