"""Compose with the note model: NotesPrompt -> GeneratedNotes (MIDI bytes + MusicXML text).

Sampling is stateful, one token at a time (one torch thread, oneDNN off: fastest at batch 1).
The position tokens are not sampled: the requested length fixes them, and they tell the model
where the last two bars are, so it cadences on time. A few rules steer each voice token:
  - every voice stays in its SATB range (after transposing to the requested key);
  - notes outside the key are allowed but made less likely (CHROMATIC_PENALTY);
  - a voice never repeats one pitch more than MAX_REPEATS times in a row;
  - no parallel fifths or octaves (or unisons) between two voices that both move;
  - the piece ends with a cadence: the last beat before the last bar is a dominant chord (V or
    V7, root in the bass) and the last bar is a tonic chord (root in the bass) held to the end.
The model works with tonic C; the result is transposed to the requested key.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from pathlib import Path

import torch

from model.lstm import cpu_sampling, load_checkpoint
from model.notes import grid as notes
from model.notes.net import NotesConfig, NotesLSTM, Stepper
from model.notes.titles import chorale_title, credit_score

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "notes.pt"
MAX_REPEATS = 8
CHROMATIC_PENALTY = 1.0  # subtracted from the logit of an out-of-key pitch
MAX_BARS = 128

# The note-model styles and what they mean to the model (the bot's style table names them).
NOTES_STYLES = {"chorale": {"meter": "4/4"}}
# Keys picked when the request leaves the key to the model (common chorale keys).
DEFAULT_KEYS = (
    "Cmaj",
    "Dmaj",
    "Fmaj",
    "Gmaj",
    "Amaj",
    "Bbmaj",
    "Ebmaj",
    "Amin",
    "Dmin",
    "Emin",
    "Gmin",
    "Bmin",
    "Cmin",
)


@dataclass(frozen=True)
class NotesPrompt:
    style: str = "chorale"
    key: str | None = None  # "Dmaj", "F#min", ...; None: chosen from the seed
    bars: int = 16
    temperature: float = 0.9
    seed: int = 0
    tempo: int = 80  # quarter notes per minute, written into the MIDI file
    program: int = 19  # General MIDI program (0-based) for all four voices; 19 = church organ
    meter: str | None = None  # None: the style's meter; "4/4" or "3/4"


@dataclass
class GeneratedNotes:
    midi: bytes
    musicxml: str
    bars: int
    seed: int
    model_version: str
    key: str  # e.g. "Dmaj", "F#min"
    meter: str
    grid: notes.NoteGrid | None = field(default=None, repr=False)  # the notes, for evaluation


@dataclass
class NotesModel:
    """The loaded network and its card. Composes one piece at a time (the stepper holds state)."""

    net: NotesLSTM
    card: dict
    stepper: Stepper

    @property
    def version(self) -> str:
        return self.card.get("version", "unknown")


@functools.lru_cache(maxsize=4)
def _load(path: str) -> NotesModel:
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"no note-model weights at {file}; train them with `tunesmith train notes`")
    checkpoint = load_checkpoint(file)
    if checkpoint.get("vocab") != notes.VOCAB:
        raise ValueError(f"{file} was trained with a different token vocabulary; retrain with `tunesmith train notes`")
    net = NotesLSTM(NotesConfig(**checkpoint["config"]))
    net.load_state_dict(checkpoint["state_dict"])
    net.eval()
    return NotesModel(net=net, card=checkpoint.get("card", {}), stepper=Stepper(net))


def load_notes_model(path: str | Path | None = None) -> NotesModel:
    """The note model (cached per path). None: the shipped weights, model/weights/notes.pt."""
    return _load(str(Path(path or DEFAULT_WEIGHTS).resolve()))


def check_prompt(prompt: NotesPrompt) -> tuple[str, str]:
    """Validate a prompt; returns (meter, key text). Raises NotesError."""
    if prompt.style not in NOTES_STYLES:
        raise notes.NotesError(f"style '{prompt.style}' is not a note-model style; choose {', '.join(NOTES_STYLES)}")
    meter = prompt.meter or NOTES_STYLES[prompt.style]["meter"]
    if meter not in notes.METERS:
        raise notes.NotesError(
            f"meter '{meter}' is not available for {prompt.style}; choose {' or '.join(notes.METERS)}"
        )
    if not isinstance(prompt.bars, int) or not 1 <= prompt.bars <= MAX_BARS:
        raise notes.NotesError(f"length {prompt.bars!r} bars is out of range; choose 1 to {MAX_BARS} bars")
    if not isinstance(prompt.temperature, (int, float)) or not 0.05 <= prompt.temperature <= 2.0:
        raise notes.NotesError(f"temperature {prompt.temperature!r} is out of range; choose 0.05 to 2.0")
    if not isinstance(prompt.seed, int) or not 0 <= prompt.seed < 2**63:
        raise notes.NotesError(f"seed {prompt.seed!r} must be a whole number from 0 to 2**63-1")
    if not isinstance(prompt.tempo, int) or not 20 <= prompt.tempo <= 300:
        raise notes.NotesError(f"tempo {prompt.tempo!r} is out of range; choose 20 to 300 beats per minute")
    if not isinstance(prompt.program, int) or not 0 <= prompt.program <= 127:
        raise notes.NotesError(f"instrument program {prompt.program!r} is out of range (General MIDI 0-127)")
    key = prompt.key if prompt.key is not None else random.Random(prompt.seed).choice(DEFAULT_KEYS)
    notes.key_of(key)
    return meter, key


def _non_voice_mask() -> torch.Tensor:
    return torch.tensor([not (t in (notes.HOLD_TOKEN, notes.REST_TOKEN) or t.startswith("n")) for t in notes.VOCAB])


class _Rules:
    """Additive logit biases for each voice token, from the rules in the module docstring."""

    def __init__(self, mode: str, shift: int):
        vocab = len(notes.VOCAB)
        self.pitch_id = {p: notes.TOKEN_ID[f"n{p}"] for p in range(notes.PITCH_LOW, notes.PITCH_HIGH + 1)}
        self.hold_id, self.rest_id = notes.TOKEN_ID[notes.HOLD_TOKEN], notes.TOKEN_ID[notes.REST_TOKEN]
        in_key = notes.scale_of(0, mode)
        self.base = []
        self.ranges = []
        for name in notes.VOICES:
            low, high = (x - shift for x in notes.RANGES[name])  # the range in the model's tonic-C space
            bias = torch.full((vocab,), float("-inf"))
            bias[self.hold_id] = bias[self.rest_id] = 0.0
            for p in range(low, high + 1):
                bias[self.pitch_id[p]] = 0.0 if p % 12 in in_key else -CHROMATIC_PENALTY
            self.base.append(bias)
            self.ranges.append((low, high))
        # steer=False: any voice token at all (a HOLD with nothing sounding reads as a rest)
        self.free = [torch.zeros(vocab).masked_fill(_non_voice_mask(), float("-inf"))] * len(notes.VOICES)
        tonic = {0, 7} | ({4} if mode == "major" else {3, 4})  # minor may end with a major third
        dominant = {7, 11, 2, 5}  # V or V7 (in minor too: 11 is the raised leading note)
        # by voice (S, A, T, B), the pitch classes allowed in the cadence; the bass takes the root
        self.cadence = {"dominant": [dominant] * 3 + [{7}], "chord": [tonic] * 3 + [{0}]}

    def bias(self, voice: int, sounding: int | None, repeat: tuple[int, int], final: str | None) -> torch.Tensor:
        """sounding: the pitch this voice holds now (None: silent). repeat: (pitch, run length).
        final: None; "dominant" (the last beat before the last bar: V or V7, root in the bass);
        "chord" (the last bar's first step: the tonic chord); "hold" (the rest of the last bar)."""
        bias = self.base[voice].clone()
        if sounding is None:
            bias[self.hold_id] = float("-inf")
        if repeat[1] >= MAX_REPEATS and repeat[0] in self.pitch_id:
            bias[self.pitch_id[repeat[0]]] = float("-inf")
        if final in self.cadence:
            allowed = self.cadence[final][voice]
            low, high = self.ranges[voice]
            bias[self.rest_id] = float("-inf")
            for p in range(low, high + 1):
                if p % 12 not in allowed:
                    bias[self.pitch_id[p]] = float("-inf")
            if sounding is not None and sounding % 12 not in allowed:
                bias[self.hold_id] = float("-inf")
        elif final == "hold":
            keep = self.hold_id if sounding is not None else self.rest_id
            bias = torch.full_like(bias, float("-inf"))
            bias[keep] = 0.0
        if not torch.isfinite(bias).any():  # the rules left nothing (cannot happen with 4/4 ranges; be safe)
            bias = self.base[voice]
        return bias

    def no_parallels(
        self, bias: torch.Tensor, before: list[int | None], now: list[int | None], voice: int
    ) -> torch.Tensor:
        """Forbid the pitches that would make parallel fifths or octaves with a voice above that
        has just moved (before: the pitches sounding at the previous step; now: this step's, for
        the voices above). Keeps the bias as it was if that would forbid everything."""
        mine = before[voice]
        if mine is None:
            return bias
        banned = bias.clone()
        for upper in range(voice):
            old, new = before[upper], now[upper]
            if old is None or new is None or old == new or (old - mine) % 12 not in (0, 7):
                continue
            for p in range(max(notes.PITCH_LOW, new - 36), min(notes.PITCH_HIGH, new) + 1):
                if p != mine and (new - p) % 12 == (old - mine) % 12:
                    banned[self.pitch_id[p]] = float("-inf")
        return banned if torch.isfinite(banned).any() else bias


def sample_grid(
    model: NotesModel,
    *,
    meter: str,
    mode: str,
    shift: int,
    bars: int,
    temperature: float,
    seed: int,
    steer: bool = True,
) -> notes.NoteGrid:
    """Sample `bars` whole bars in the model's tonic-C space (shift: how far the result will be
    transposed, so the voice ranges are kept after transposing). steer=False turns the rules off
    (only for measuring what they do: a raw sample may leave the ranges or miss the cadence)."""
    stepper = model.stepper
    stepper.reset()
    generator = torch.Generator().manual_seed(seed)
    rules = _Rules(mode, shift)
    spb = notes.METERS[meter]
    steps = bars * spb
    grid = notes.NoteGrid(meter=meter, tonic=0, mode=mode, voices=[[] for _ in notes.VOICES])
    sounding: list[int | None] = [None] * len(notes.VOICES)
    repeats = [(-1, 0)] * len(notes.VOICES)
    token_value = {
        i: notes.token_value(t)
        for t, i in notes.TOKEN_ID.items()
        if t in (notes.HOLD_TOKEN, notes.REST_TOKEN) or t.startswith("n")
    }

    with torch.inference_mode():
        for token in notes.header_tokens(meter, mode):
            logits = stepper.step(notes.TOKEN_ID[token])
        for t in range(steps):
            logits = stepper.step(notes.TOKEN_ID[notes.step_position(0, t, spb, bars)])
            final = None
            if t >= steps - spb:
                final = "chord" if t == steps - spb else "hold"
            elif t >= steps - spb - notes.STEPS_PER_QUARTER:
                final = "dominant"
            before = list(sounding)
            for v in range(len(notes.VOICES)):
                if steer:
                    bias = rules.no_parallels(rules.bias(v, sounding[v], repeats[v], final), before, sounding, v)
                else:
                    bias = rules.free[v]
                scores = logits / temperature + bias
                choice = int(torch.multinomial(torch.softmax(scores, -1), 1, generator=generator))
                value = token_value[choice]
                grid.voices[v].append(value)
                if value >= 0:
                    repeats[v] = (value, repeats[v][1] + 1) if repeats[v][0] == value else (value, 1)
                    sounding[v] = value
                elif value == notes.REST:
                    sounding[v] = None
                logits = stepper.step(choice)
    return grid


def sample_in_key(model: NotesModel, prompt: NotesPrompt, steer: bool = True) -> tuple[notes.NoteGrid, str, str]:
    """(the grid sampled for the prompt and moved to its key, meter, key); NotesError for a bad prompt.
    steer=False: without the steering rules (for comparison only)."""
    meter, key = check_prompt(prompt)
    tonic, mode = notes.key_of(key)
    shift = tonic if tonic <= 6 else tonic - 12  # from the model's C to the key, by the smaller step
    with cpu_sampling():
        grid = sample_grid(
            model,
            meter=meter,
            mode=mode,
            shift=shift,
            bars=prompt.bars,
            temperature=float(prompt.temperature),
            seed=prompt.seed,
            steer=steer,
        )
    return notes.transpose(grid, shift), meter, key


def compose_notes(model: NotesModel, prompt: NotesPrompt) -> GeneratedNotes:
    """Compose a piece for the prompt. Raises NotesError (a ValueError) for a bad prompt."""
    grid, meter, key = sample_in_key(model, prompt)
    mode = notes.key_of(key)[1]
    tonic_name = notes.tonic_spelling(key)
    score = notes.grid_to_score(grid, title=chorale_title(prompt.seed), tonic_name=tonic_name)
    credit_score(score, seed=prompt.seed, model_version=model.version)
    return GeneratedNotes(
        midi=notes.grid_to_midi(grid, tempo=prompt.tempo, program=prompt.program, tonic_name=tonic_name),
        musicxml=notes.score_to_musicxml(score),
        bars=prompt.bars,
        seed=prompt.seed,
        model_version=model.version,
        key=tonic_name + ("maj" if mode == "major" else "min"),
        meter=meter,
        grid=grid,
    )
