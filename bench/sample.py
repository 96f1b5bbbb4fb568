"""Sampling speed of the ABC model (printed, not asserted). Run: python bench/sample.py

1. compose_abc for a 32-bar jig: batch 1 (one candidate), the default (AbcPrompt.candidates) and 8
   candidates at once, whole path
   (priming, constrained sampling, novelty check, transposition), median of several seeds.
2. Stateful step-by-step sampling against windowed re-run sampling (the seeds' method: for every
   new symbol feed the last 100 symbols through the network from a zero state) on the same
   network, same thread settings, measured side by side: characters per second and the ratio.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from model.abc.notation import END, header_text  # noqa: E402
from model.abc.sample import AbcPrompt, compose_abc, load_abc_model, sampling_mode  # noqa: E402


def time_compose(model, candidates: int, seeds: range) -> tuple[float, int]:
    times, chars = [], 0
    for seed in seeds:
        t = time.perf_counter()
        g = compose_abc(model, AbcPrompt("jig", "6/8", "1/8", "Dmaj", bars=32, seed=seed, candidates=candidates))
        times.append(time.perf_counter() - t)
        chars += len(g.body_c)
    return statistics.median(times), chars // len(seeds)


def stateful_chars(net, prime: list[int], n: int, gen: torch.Generator) -> float:
    t = time.perf_counter()
    logits, state = net(torch.tensor([prime]))
    for _ in range(n):
        nxt = torch.multinomial(torch.softmax(logits[0, -1], -1), 1, generator=gen)
        logits, state = net(nxt.view(1, 1), state)
    return n / (time.perf_counter() - t)


def windowed_chars(net, prime: list[int], n: int, gen: torch.Generator, window: int = 100) -> float:
    seq = list(prime)
    t = time.perf_counter()
    for _ in range(n):
        logits, _ = net(torch.tensor([seq[-window:]]))
        seq.append(int(torch.multinomial(torch.softmax(logits[0, -1], -1), 1, generator=gen)))
    return n / (time.perf_counter() - t)


def main() -> int:
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--card", action="store_true", help="also write the figures into the model card")
    args = ap.parse_args()
    model = load_abc_model()
    cfg = model.net.config
    print(f"model {model.version}: {cfg.layers}x{cfg.hidden} LSTM, embed {cfg.embed}, vocab {len(cfg.vocab)}")
    print(f"torch {torch.__version__}, sampling with 1 thread and oneDNN off")
    compose_abc(model, AbcPrompt("jig", "6/8", "1/8", "Dmaj", bars=8, seed=0))  # warm up
    one, chars = time_compose(model, 1, range(1, 8))
    default = AbcPrompt("jig").candidates
    usual, _ = time_compose(model, default, range(1, 8))
    eight, _ = time_compose(model, 8, range(1, 4))
    print(f"32-bar jig, batch 1:      {one:.3f} s median ({chars} body chars)")
    print(f"32-bar jig, {default} candidates: {usual:.3f} s median (the default)          goal <= 0.15 s")
    print(f"32-bar jig, 8 candidates: {eight:.3f} s median                        goal <= 0.4 s")

    prime = [model.index[c] for c in END + header_text("jig", "6/8", "maj")]
    n = 300
    with sampling_mode():
        gen = torch.Generator().manual_seed(0)
        fast = stateful_chars(model.net, prime, n, gen)
        slow = windowed_chars(model.net, prime, n, gen)
    print(f"stateful sampling:        {fast:8.0f} chars/s")
    print(f"windowed re-run (100):    {slow:8.0f} chars/s")
    print(f"ratio stateful/windowed:  {fast / slow:8.1f}x                            goal >= 30x")
    if args.card:
        card_path = model.path.with_suffix(".json")
        card = json.loads(card_path.read_text())
        card["sampling_speed"] = {
            "jig_32_bars_batch1_s": round(one, 3),
            "jig_32_bars_default_candidates_s": round(usual, 3),
            "default_candidates": default,
            "jig_32_bars_8_candidates_s": round(eight, 3),
            "stateful_chars_per_s": round(fast),
            "windowed_chars_per_s": round(slow, 1),
            "ratio": round(fast / slow, 1),
            "command": "python bench/sample.py --card",
            "note": "1 torch thread, oneDNN off; figures depend on the machine's load",
        }
        card_path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote the figures into {card_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
