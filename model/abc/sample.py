"""Sampling tunes from the ABC char-RNN, with constraints that make every tune valid.

    model = load_abc_model()                      # shipped weights, cached per process
    tune = compose_abc(model, AbcPrompt("jig", "6/8", "1/8", "Dmaj", bars=32, seed=7))
    print(tune.abc)

Sampling is stateful, one character at a time (the prefix is never re-run), for a batch of
candidates at once. Every drawn character is checked by a BarTracker (model/abc/tracker.py); a refused
character is removed from the distribution and another one drawn, so bars always add up, the tune
has exactly the requested number of bars and ends with a final bar line. In the last bar the tonic
is favoured. Candidates that copy 4 or more consecutive bars of a training tune are rejected
(model/abc/novelty.py); of the rest the one ending on the tonic with the best mean log-probability wins.
The model writes in C; the chosen tune is transposed to the requested key afterwards.
"""
from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from model.abc.notation import (END, MODES, UNIT, AbcError, Key, bar_length, emit, header_text, normalise_meter,
                       parse_body, parse_key, parse_tune, shift_between, transpose_elements)
from model.abc.finish import finish_tune
from model.abc.net import AbcNet, load_checkpoint
from model.abc.tracker import BarTracker, TrackerError
from model.lstm import cpu_sampling

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "abc.pt"
MAX_BARS = 256
TONIC_BIAS = 8.0  # multiplies the tonic's probability in the second half of the last bar
_REDRAWS = 6  # refused draws before falling back to the full mask


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
    bars: int = 32  # bars as written (a repeated part counts once; a pickup is not counted)
    temperature: float = 0.9
    top_p: float = 0.95
    seed: int = 0
    prime_abc: str | None = None  # a user's tune (header + some bars) to continue
    candidates: int = 4  # tunes sampled at once; the best one is returned
    style: str | None = None  # the style's name, for the title ("polka" is sampled as rhythm "march")


@dataclass
class GeneratedAbc:
    abc: str  # the whole tune: X:, T:, R:, M:, L:, K: and the body (no Q:)
    bars: int
    seed: int
    model_version: str
    key: str = ""  # canonical key name, e.g. "Dmaj"
    meter: str = ""
    rhythm: str = ""
    ends_on_tonic: bool = False
    candidates: int = 0  # how many were sampled in all
    copies_rejected: int = 0
    body_c: str = field(default="", repr=False)  # the body as sampled, in C (for evaluation)


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
    header_lines = [line.strip() for line in lines[:k_line + 1] if re.match(r"\s*[A-Za-z]:", line)]
    fields = {line[0]: line[2:].strip() for line in reversed(header_lines)}
    unit = Fraction(fields["L"].replace(" ", "")) if "L" in fields else \
        (Fraction(1, 16) if Fraction(tune.meter) < Fraction(3, 4) else Fraction(1, 8))
    rhythm = tune.rhythm if tune.rhythm in model.rhythms else p.rhythm
    check_meter(tune.meter)
    steps, semis = shift_between(tune.key, Key("C", tune.key.mode))
    body_c = emit(transpose_elements(tune.elements, steps, semis))
    user_body = "\n".join(lines[k_line + 1:]).rstrip()
    sep = "\n" if body_c.endswith(("|", "]", ":", "1", "2")) or user_body.endswith("\n") else " "
    body_c += sep
    # The user's bars are held to the bar-length rules only; the stricter composing rules (part
    # lengths, repeat layout) apply from the first generated bar, once the target is set.
    tracker = BarTracker(tune.meter)
    for ch in body_c:
        try:
            tracker.feed(ch)
        except TrackerError as e:
            raise AbcError(f"your ABC does not fit the bar rules in bar {tracker.bars + 1} "
                           f"(not counting a pickup): {e}") from None
    if tracker.mode != "free":
        raise AbcError("your ABC ends in the middle of a chord, triplet or broken rhythm; "
                       "end it after a whole note")
    if tracker.bars >= p.bars:
        raise PromptError(f"your tune already has {tracker.bars} bars; ask for more than that to continue it")
    tracker.target = p.bars
    keep = [h for h in header_lines if h[0] not in "XTRMLKQ"]
    out_header = "".join(f"{h}\n" for h in [
        f"X:{fields.get('X', '1') or '1'}", f"T:{fields.get('T') or 'Continued tune'}",
        f"R:{fields.get('R') or rhythm}", f"M:{fields.get('M', tune.meter)}", f"L:{unit}", *keep,
        f"K:{fields['K']}"])
    return _Prime(header_text(rhythm, tune.meter, tune.key.mode) + body_c, tracker, tune.key, tune.meter,
                  rhythm, out_header, user_body + sep, UNIT / unit, _complete_bars(body_c))


def _complete_bars(body: str) -> int:
    from model.abc.novelty import bars_of

    n = len(bars_of(body))
    return n if body.rstrip().endswith(("|", "]", ":", "1", "2")) else max(0, n - 1)


# ------------------------------------------------------------------ the sampler

def compose_abc(model: AbcModel, prompt: AbcPrompt) -> GeneratedAbc:
    """Sample `prompt.candidates` tunes and return the best valid, novel one (see module doc)."""
    _check_prompt(model, prompt)
    rng = np.random.default_rng(prompt.seed)
    prime = _prime_from_user(model, prompt) if prompt.prime_abc else None
    key = prime.key if prime else resolve_key(prompt.key)
    meter = prime.meter if prime else prompt.meter
    rhythm = prime.rhythm if prime else prompt.rhythm
    tried = copies = 0
    with sampling_mode():
        for _round in range(4):
            rows = _sample_batch(model, prompt, prime, key, normalise_meter(meter), rhythm, rng)
            tried += len(rows)
            good = []
            for row in rows:
                if row is None:
                    continue
                body, mode, ends_tonic, score = row
                first_new = prime.user_bars if prime else 0
                if model.novelty.copies(body, first_new):
                    copies += 1
                    continue
                good.append((not ends_tonic, -score, body, mode, ends_tonic))
            if good:
                good.sort(key=lambda g: (g[0], g[1]))
                _, _, body, mode, ends_tonic = good[0]
                break
        else:
            raise GenerationError(f"could not sample a new tune ({copies} of {tried} candidates copied a "
                                  "known tune, the others did not finish); try another seed")
    if key is None:
        key = _pick_tonic(model, mode, rng)
    bars = prompt.bars
    if prime:
        cont_c = body[len(prime.text):]
        steps, semis = shift_between(Key("C", key.mode), key)
        cont = emit(transpose_elements(parse_body(cont_c, UNIT), steps, semis), scale=prime.unit_scale)
        abc = prime.out_header + prime.out_body + cont.rstrip("\n") + "\n"
    else:
        body_c = body.split("K:", 1)[1].split("\n", 1)[1]
        steps, semis = shift_between(Key("C", key.mode), key)
        out_body = emit(transpose_elements(parse_body(body_c, UNIT), steps, semis))
        title = f"{rhythm.title()} in {key.tonic} {({'maj': 'major', 'min': 'minor', 'dor': 'dorian', 'mix': 'mixolydian'})[key.mode]}"
        abc = (f"X:1\nT:{title} (seed {prompt.seed})\nR:{rhythm}\nM:{meter}\nL:1/8\nK:{key.abc()}\n"
               f"{out_body}\n")
    abc = finish_tune(abc, style=prompt.style or rhythm, seed=prompt.seed, model_version=model.version,
                      user_part_end=len(prime.out_header) + len(prime.out_body) if prime else None)
    return GeneratedAbc(abc=abc, bars=bars, seed=prompt.seed, model_version=model.version, key=key.name,
                        meter=meter, rhythm=rhythm, ends_on_tonic=ends_tonic, candidates=tried,
                        copies_rejected=copies, body_c=body.split("K:", 1)[1].split("\n", 1)[1])


def _pick_tonic(model: AbcModel, mode: str, rng: np.random.Generator) -> Key:
    """A tonic for the mode the model chose, drawn from the corpus's key counts for that mode."""
    names = [(k, n) for k, n in sorted(model.keys.items()) if k.endswith(mode)] or [("D" + mode, 1)]
    weights = np.array([n for _, n in names], dtype=float)
    choice = names[int(rng.choice(len(names), p=weights / weights.sum()))][0]
    return Key(choice[:-3], mode)


def _sample_batch(model, prompt, prime, key, meter, rhythm, rng):
    """One batch of candidates -> list of (canonical text, mode, ends_on_tonic, mean logprob) or None."""
    net, vocab, index = model.net, model.vocab, model.index
    b = prompt.candidates
    if prime:
        start = END + prime.text
        trackers = [prime.tracker.copy() for _ in range(b)]
        mode_known = prime.key.mode
    else:
        mode_known = key.mode if key else None
        start = END + (header_text(rhythm, meter, mode_known) if mode_known else
                       header_text(rhythm, meter, "")[:-1])  # ends with "K:C"; the model picks the mode
        trackers = [BarTracker(meter, prompt.bars) for _ in range(b)]
    missing = set(start) - set(vocab)
    if missing:
        raise AbcError(f"the model has never seen the character(s) {''.join(sorted(missing))!r}")
    ids = torch.tensor([[index[c] for c in start]] * b)
    logits, state = net(ids)
    logits = logits[:, -1, :]
    texts = [start[1:]] * b
    modes = [mode_known] * b
    mode_text = [""] * b
    done = [False] * b
    dead = [False] * b
    logp = [0.0] * b
    steps = [0] * b
    limit = prompt.bars * int(bar_length(meter)) * 6 + 400
    bias = torch.ones(len(vocab), dtype=torch.float64)
    for c in "Cc":
        if c in index:
            bias[index[c]] = TONIC_BIAS
    inv_t = 1.0 / prompt.temperature
    active = list(range(b))  # rows still being sampled, in the order of the batch state
    for step in range(limit):
        probs = torch.softmax(logits.double() * inv_t, dim=-1)
        tonic_rows = [i for i, r in enumerate(active)
                      if modes[r] and trackers[r].in_last_bar and trackers[r].bar_fraction >= 0.5]
        if tonic_rows:
            probs[tonic_rows] *= bias
            probs[tonic_rows] /= probs[tonic_rows].sum(-1, keepdim=True)
        raw = probs.numpy().copy()
        nucleus = _nucleus(probs, prompt.top_p).numpy()
        next_ids = []
        for i, r in enumerate(active):
            if modes[r] is None:  # sampling the mode letters after "K:C"
                ch = _draw_choice(raw[i], index, [m + "\n" for m in MODES], mode_text[r], rng)
                mode_text[r] += ch
                if ch == "\n":
                    modes[r] = mode_text[r][:-1]
            else:
                drawn = _draw_valid(nucleus[i], raw[i], vocab, trackers[r], rng)
                if drawn is None:
                    dead[r] = done[r] = True
                    next_ids.append(index[END])
                    continue
                ch, trackers[r] = drawn
                if ch == END:
                    done[r] = True
            logp[r] += float(np.log(max(raw[i][index[ch]], 1e-12)))
            steps[r] += 1
            texts[r] += ch
            next_ids.append(index[ch])
        finished = [r for r in range(b) if done[r] and not dead[r]]
        if len(finished) >= (b + 1) // 2 and step > 1.3 * max(steps[r] for r in finished):
            break  # enough candidates; do not wait for a rambling one
        keep = [i for i, r in enumerate(active) if not done[r]]
        if not keep:
            break
        x = torch.tensor(next_ids).view(-1, 1)
        if len(keep) < len(active):  # drop finished rows from the batch
            x, state = x[keep], (state[0][:, keep], state[1][:, keep])
            active = [active[i] for i in keep]
        logits, state = net(x, state)
        logits = logits[:, -1, :]
    out = []
    for r in range(b):
        if dead[r] or not done[r]:
            if os.environ.get("TUNESMITH_DEBUG"):
                print("dead" if dead[r] else "unfinished", repr(texts[r][-300:]), file=sys.stderr)
            out.append(None)
            continue
        text = texts[r][:-1] if texts[r].endswith(END) else texts[r]
        last = trackers[r].last_pitch.lstrip("=")
        out.append((text, modes[r], last in ("C", "c"), logp[r] / max(steps[r], 1)))
    return out


def _draw_choice(p, index, options, typed, rng):
    """Draw the next character of one of `options` (strings) given what is typed so far."""
    allowed = sorted({o[len(typed)] for o in options if o.startswith(typed) and len(o) > len(typed)})
    w = np.array([p[index[c]] if c in index else 0.0 for c in allowed]) + 1e-12
    return allowed[int(rng.choice(len(allowed), p=w / w.sum()))]


def _nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Top-p for a batch: keep the smallest set of most likely symbols holding top_p of the mass."""
    if top_p >= 1.0:
        return probs.clone()
    sorted_p, order = probs.sort(dim=-1, descending=True, stable=True)
    drop = (sorted_p.cumsum(-1) - sorted_p) > top_p
    return probs.scatter(-1, order, sorted_p.masked_fill(drop, 0.0))


def _draw_valid(q: np.ndarray, p: np.ndarray, vocab: str, tracker: BarTracker, rng):
    """Draw from `q` (the nucleus) a character the tracker accepts, falling back to the whole
    distribution `p`: -> (char, advanced tracker), or None at a dead end."""
    for _ in range(_REDRAWS):
        total = q.sum()
        if total <= 0:
            break
        i = int(np.searchsorted(np.cumsum(q), rng.random() * total, side="right"))
        i = min(i, len(q) - 1)
        t = tracker.copy()
        try:
            t.feed(vocab[i])
            return vocab[i], t
        except TrackerError:
            q[i] = 0.0
    # full mask over the whole vocabulary
    ok = np.zeros_like(p)
    advanced = {}
    for i, c in enumerate(vocab):
        t = tracker.copy()
        try:
            t.feed(c)
        except TrackerError:
            continue
        ok[i] = 1.0
        advanced[i] = t
    if not advanced:
        return None
    w = p * ok
    w = w if w.sum() > 0 else ok
    i = int(np.searchsorted(np.cumsum(w), rng.random() * w.sum(), side="right"))
    i = min(i, len(w) - 1)
    while i not in advanced:  # guard against float edge cases
        i = (i - 1) % len(w)
    return vocab[i], advanced[i]
