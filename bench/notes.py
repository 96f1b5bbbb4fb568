"""Note-model speed: composing a chorale with the shipped weights, one torch thread.

    python bench/notes.py [--repeat 5] [--weights PATH]

Prints, for 8, 16 and 32 bars: sampling alone and the whole compose_notes (sampling + MIDI +
MusicXML), median wall and CPU seconds of --repeat runs; then the network alone stepping 640
tokens: our Stepper against nn.LSTM per token with oneDNN off and on, side by side (interleaved,
so all see the same machine load), with ratios. Goal: 16 bars in <= 0.5 s. Other work on the
machine slows wall times; the CPU times show our own cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from model import notes  # noqa: E402
from model.notes.sample import NotesPrompt, compose_notes, load_notes_model, sample_grid  # noqa: E402


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def median_pair(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--weights", type=Path, default=None)
    args = parser.parse_args()

    torch.set_num_threads(1)
    wall, cpu = timed(lambda: load_notes_model(args.weights))
    model = load_notes_model(args.weights)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times stretch when it is above 1)")
    print(f"note model {model.version}: {model.net.parameter_count():,} parameters, loaded in {wall:.2f} s")
    compose_notes(model, NotesPrompt(bars=2, seed=0))  # warm up (imports, first-call costs)

    print(
        f"\n{'bars':>4} {'tokens':>7} {'sample wall':>12} {'sample cpu':>11} {'compose wall':>13} {'compose cpu':>12}  16-bar goal"
    )
    for bars in (8, 16, 32):
        samples, composes = [], []
        for seed in range(args.repeat):
            torch.backends.mkldnn.enabled = False
            samples.append(
                timed(
                    lambda: sample_grid(
                        model, meter="4/4", mode="major", shift=0, bars=bars, temperature=0.9, seed=seed
                    )
                )
            )
            composes.append(timed(lambda: compose_notes(model, NotesPrompt(bars=bars, seed=seed))))
        (sw, sc), (cw, cc) = median_pair(samples), median_pair(composes)
        tokens = bars * notes.METERS["4/4"] * (1 + len(notes.VOICES))
        goal = f"cpu {'met' if cc <= 0.5 else 'MISSED'}, wall {'met' if cw <= 0.5 else 'MISSED'}" if bars == 16 else ""
        print(f"{bars:>4} {tokens:>7} {sw:>11.3f}s {sc:>10.3f}s {cw:>12.3f}s {cc:>11.3f}s  {goal}")

    # The network alone, 640 tokens (16 bars) one at a time: our Stepper against nn.LSTM called per
    # token with oneDNN on and off, interleaved so all three see the same load.
    tokens = torch.randint(0, len(notes.VOCAB), (640,), generator=torch.Generator().manual_seed(0)).tolist()

    def stepper_run():
        model.stepper.reset()
        for t in tokens:
            model.stepper.step(t)

    def lstm_run():
        state = None
        with torch.inference_mode():
            for t in tokens:
                _, state = model.net(torch.tensor([[t]]), state)

    runs = {"stepper": [], "nn.LSTM, oneDNN off": [], "nn.LSTM, oneDNN on": []}
    for _ in range(args.repeat):
        torch.backends.mkldnn.enabled = False
        runs["stepper"].append(timed(stepper_run))
        runs["nn.LSTM, oneDNN off"].append(timed(lstm_run))
        torch.backends.mkldnn.enabled = True
        runs["nn.LSTM, oneDNN on"].append(timed(lstm_run))
    torch.backends.mkldnn.enabled = False
    base = median_pair(runs["stepper"])[0]
    print("\n640 tokens one at a time (the network only), one thread:")
    for name, pairs in runs.items():
        wall, cpu = median_pair(pairs)
        print(
            f"  {name:<20} {wall:.3f} s wall ({cpu:.3f} cpu)  {wall / base:.2f}x the stepper  {640 / wall:,.0f} tokens/s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
