"""`tunesmith eval notes ...`: measure the note model against the issue's goals.

1. Validation loss (nats per voice token, the same validation chorales the trainer holds out)
   of the LSTM beside simple baselines fitted on the training chorales: a unigram model and
   Witten-Bell interpolated n-gram models over the same tokens.
2. Samples (seeds 0..N-1, the seed picks the key): notes in key, longest run of one repeated
   pitch in a voice, notes inside the voice ranges, time with two or more voices sounding,
   endings on a tonic chord, endings whose bass goes dominant -> tonic, and parallel
   fifths/octaves (per pair of voices that both move). The same figures for the validation chorales themselves, and for
   the model sampled with no steering rules (--raw), show what the rules add.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from model.lstm import DEFAULT_CACHE
from model.notes import grid as notes
from model.notes.data import load_chorales, split
from model.notes.sample import DEFAULT_WEIGHTS, NotesPrompt, compose_notes, load_notes_model

VOICE_TOKENS = [notes.HOLD_TOKEN, notes.REST_TOKEN] + [t for t in notes.VOCAB if t.startswith("n")]
VOICE_SET = frozenset(VOICE_TOKENS)


# ---------------------------------------------------------------- baselines


class WittenBell:
    """Interpolated Witten-Bell n-gram model of voice tokens given the previous n-1 tokens."""

    def __init__(self, order: int):
        self.order = order
        self.counts: list[dict[tuple, Counter]] = [defaultdict(Counter) for _ in range(order)]

    def fit(self, pieces: list[list[str]]) -> WittenBell:
        for tokens in pieces:
            for i, token in enumerate(tokens):
                if token not in VOICE_SET:
                    continue
                for n in range(self.order):
                    if i - n < 0:
                        break
                    self.counts[n][tuple(tokens[i - n : i])][token] += 1
        return self

    def prob(self, context: tuple, token: str) -> float:
        p = 1.0 / len(VOICE_TOKENS)  # uniform floor
        for n in range(self.order):
            if len(context) < n:
                break
            seen = self.counts[n].get(context[len(context) - n :] if n else ())
            if not seen:
                break
            total, types = sum(seen.values()), len(seen)
            p = (seen[token] + types * p) / (total + types)
        return p

    def nats(self, pieces: list[list[str]]) -> float:
        total, count = 0.0, 0
        for tokens in pieces:
            for i, token in enumerate(tokens):
                if token in VOICE_SET:
                    context = tuple(tokens[max(0, i - self.order + 1) : i])
                    total -= math.log(self.prob(context, token))
                    count += 1
        return total / count


# ---------------------------------------------------------------- musical checks


def tonic_triad(tonic: int, mode: str) -> set[int]:
    thirds = {4} if mode == "major" else {3, 4}  # a minor piece may end on a major chord
    return {(tonic + pc) % 12 for pc in {0, 7} | thirds}


def sounding(grid: notes.NoteGrid, step: int) -> list[int | None]:
    """The pitch each voice sounds at a step (None: silent)."""
    out = []
    for voice in grid.voices:
        t = step
        while t > 0 and voice[t] == notes.HOLD:
            t -= 1
        out.append(voice[t] if voice[t] >= 0 else None)
    return out


def piece_checks(grid: notes.NoteGrid) -> dict:
    scale = notes.scale_of(grid.tonic, grid.mode)
    onsets = [p for voice in grid.voices for p in voice if p >= 0]
    in_key = sum(p % 12 in scale for p in onsets)
    in_range = sum(
        notes.RANGES[name][0] <= p <= notes.RANGES[name][1]
        for name, voice in zip(notes.VOICES, grid.voices)
        for p in voice
        if p >= 0
    )
    longest = 0
    for voice in grid.voices:
        run, last = 0, None
        for p in voice:
            if p >= 0:
                run, last = (run + 1, p) if p == last else (1, p)
                longest = max(longest, run)
            elif p == notes.REST:
                run, last = 0, None
    two_voices = sum(sum(p is not None for p in sounding(grid, t)) >= 2 for t in range(grid.steps))
    parallels, moving_pairs, previous = 0, 0, None
    for t in range(grid.steps):
        current = sounding(grid, t)
        if previous is not None:
            for i in range(len(current)):
                for j in range(i + 1, len(current)):
                    a0, b0, a1, b1 = previous[i], previous[j], current[i], current[j]
                    if None in (a0, b0, a1, b1) or a0 == a1 or b0 == b1:
                        continue  # a voice is silent or holds: no parallel motion
                    moving_pairs += 1
                    parallels += (a0 - b0) % 12 in (0, 7) and (a1 - b1) % 12 == (a0 - b0) % 12
        previous = current
    final = sounding(grid, grid.steps - 1)
    triad = tonic_triad(grid.tonic, grid.mode)
    ends_on_tonic = (
        final[-1] is not None and final[-1] % 12 == grid.tonic and all(p is None or p % 12 in triad for p in final)
    )
    bass_onsets = [p for p in grid.voices[-1] if p >= 0]
    bass_5_to_1 = len(bass_onsets) >= 2 and [(p - grid.tonic) % 12 for p in bass_onsets[-2:]] == [7, 0]
    return {
        "notes": len(onsets),
        "in_key": in_key,
        "in_range": in_range,
        "longest_run": longest,
        "two_voice_steps": two_voices,
        "steps": grid.steps,
        "ends_on_tonic": ends_on_tonic,
        "bass_5_to_1": bass_5_to_1,  # an authentic cadence: the bass's last move is dominant -> tonic
        "parallels": parallels,  # fifths, octaves or unisons moving in parallel between two voices
        "moving_pairs": moving_pairs,
    }


def summarise(checks: list[dict]) -> dict:
    notes_total = sum(c["notes"] for c in checks) or 1
    return {
        "pieces": len(checks),
        "in_key_pct": round(100 * sum(c["in_key"] for c in checks) / notes_total, 2),
        "in_range_pct": round(100 * sum(c["in_range"] for c in checks) / notes_total, 2),
        "longest_run": max(c["longest_run"] for c in checks),
        "pieces_with_run_over_8": sum(c["longest_run"] > 8 for c in checks),
        "two_voices_pct_of_time": round(
            100 * sum(c["two_voice_steps"] for c in checks) / sum(c["steps"] for c in checks), 2
        ),
        "ends_on_tonic_pct": round(100 * sum(c["ends_on_tonic"] for c in checks) / len(checks), 1),
        "cadence_bass_5_to_1_pct": round(100 * sum(c["bass_5_to_1"] for c in checks) / len(checks), 1),
        "parallel_5ths_8ves_pct_of_moves": round(
            100 * sum(c["parallels"] for c in checks) / max(1, sum(c["moving_pairs"] for c in checks)), 2
        ),
    }


# ---------------------------------------------------------------- command


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="tunesmith eval notes", description=__doc__.splitlines()[0])
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--bars", type=int, default=16)
    p.add_argument("--temperature", type=float, default=0.9)
    p.add_argument("--meter", choices=sorted(notes.METERS), default=None, help="default: the chorale style's (4/4)")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the parsed corpus is cached")
    p.add_argument("--raw", action="store_true", help="also sample with no steering rules, for comparison")
    p.add_argument(
        "--write-card", action="store_true", help="store the results in the model card (.json beside the weights)"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import torch

    from model.notes.train import evaluate, piece_ids

    torch.set_num_threads(1)
    model = load_notes_model(args.weights)
    train, valid = split(load_chorales(progress=False, cache=args.cache))
    train_tokens = [notes.encode(notes.normalise(g)[0]) for g in train.values()]
    valid_tokens = [notes.encode(notes.normalise(g)[0]) for g in valid.values()]

    report: dict = {"model_version": model.version, "validation_pieces": len(valid)}
    loss = {"lstm": round(evaluate(model.net, [piece_ids(g) for g in valid.values()]), 4)}
    for order in (1, 3, 6, 11):
        loss[f"{order}-gram" if order > 1 else "unigram"] = round(
            WittenBell(order).fit(train_tokens).nats(valid_tokens), 4
        )
    report["valid_nats_per_voice_token"] = loss
    best_baseline = min(v for k, v in loss.items() if k != "lstm")
    print(f"validation loss, nats per voice token ({len(valid)} held-out chorales):")
    for name, value in loss.items():
        print(f"  {name:<8} {value:.4f}  ({value / math.log(2):.3f} bits)")
    print(f"  the LSTM is {100 * (1 - loss['lstm'] / best_baseline):.1f}% below the best baseline")

    report["bach_validation"] = summarise([piece_checks(g) for g in valid.values()])
    runs = [("steered", True)] + ([("raw", False)] if args.raw else [])
    for label, steer in runs:
        started = time.perf_counter()
        checks = []
        for seed in range(args.samples):
            prompt = NotesPrompt(bars=args.bars, temperature=args.temperature, seed=seed, meter=args.meter)
            if steer:
                checks.append(piece_checks(compose_notes(model, prompt).grid))
            else:
                checks.append(piece_checks(_raw_sample(model, prompt)))
        report[f"samples_{label}"] = {
            **summarise(checks),
            "bars": args.bars,
            "meter": args.meter or "4/4",
            "temperature": args.temperature,
            "seconds_each": round((time.perf_counter() - started) / args.samples, 3),
        }
    print("\nsamples (and the validation chorales for reference):")
    for name in ["bach_validation"] + [f"samples_{label}" for label, _ in runs]:
        print(f"  {name}: {json.dumps(report[name])}")

    if args.write_card:
        card_path = Path(args.weights).with_suffix(".json")
        card = json.loads(card_path.read_text()) if card_path.exists() else {}
        card["evaluation"] = {
            **report,
            "command": "tunesmith eval notes " + " ".join(argv if argv is not None else sys.argv[1:]),
        }
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        print(f"\nwrote the results into {card_path}")
    return 0


def _raw_sample(model, prompt: NotesPrompt) -> notes.NoteGrid:
    """A sample with no steering rules (for comparison only), transposed to its key."""
    from model.notes.sample import sample_in_key

    return sample_in_key(model, prompt, steer=False)[0]


if __name__ == "__main__":
    sys.exit(main())
