"""Where the CPU-seconds of one tune go (a profile; nothing is changed), 32-bar jigs by default.

    python bench/tune_cost.py [--tunes 8] [--style jig] [--length 32]

CPU time (user + system, this process and its reaped children: abc2midi, the sheet-music child) of each
step of bot/worker.compose, in a warmed-up process, per tune: the model, abc2midi, the synth, the MP3
encoder, the sheet music (its long-lived child process, drawing; a new child's start when one is replaced),
plus the whole compose for comparison. CPU time, not wall time, so other work on the machine changes
the figures little.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import worker  # noqa: E402
from bot.instruments import INSTRUMENTS  # noqa: E402
from bot.render import abc2midi  # noqa: E402
from bot.render.renderer import _to_mp3  # noqa: E402
from bot.requests import ComposeRequest  # noqa: E402
from bot.styles import STYLES  # noqa: E402


def cpu() -> tuple[float, float]:
    """(this process, its children: the reaped ones and the ones still running, e.g. the drawing child)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime + live_children_cpu()


def live_children_cpu() -> float:
    """CPU seconds used so far by this process's running children and the children they reaped (e.g. the
    drawing child's rsvg-convert), from Linux /proc."""
    pids = set()
    for children in Path("/proc/self/task").glob("*/children"):
        pids.update(children.read_text().split())
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # utime, stime, cutime, cstime: fields 14-17 of the line
        total += sum(int(f) for f in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


class Steps:
    def __init__(self):
        self.times: dict[str, list[float]] = {}

    def measure(self, name: str, func, *args, **kwargs):
        s0, c0 = cpu()
        out = func(*args, **kwargs)
        s1, c1 = cpu()
        self.times.setdefault(name, []).append((s1 - s0) + (c1 - c0))
        return out


def one(steps: Steps, request: ComposeRequest, seed: int) -> None:
    from model.abc.sample import AbcPrompt, compose_abc

    style = STYLES[request.style]
    r = worker.renderer()
    prompt = AbcPrompt(rhythm=style.rhythm, meter=style.meter, unit=style.unit, bars=request.length, seed=seed)
    generated = steps.measure("model (compose_abc)", compose_abc, worker.model("abc"), prompt)
    prepared = abc2midi.prepare_abc(
        generated.abc, program=INSTRUMENTS[style.instrument], tempo=style.tempo, beat=style.beat
    )
    made = steps.measure("abc2midi (child process)", abc2midi.abc_to_midi, prepared.playable)
    sound = steps.measure("synth (FluidSynth)", r._synth.render, made.midi, max_seconds=600)
    steps.measure("MP3 (normalise + lameenc)", _to_mp3, sound, 128)

    def sheet():
        job = r._drawer.start(prepared.tune, "abc")
        png = job.result()
        r._drawer.warm()  # as in the renderer: a child that died is replaced now, paid for by the next tune
        return png

    steps.measure("sheet (drawing child)", sheet)
    steps.measure(
        "whole compose (bot.worker)",
        worker.compose,
        ComposeRequest(style=request.style, length=request.length, seed=seed),
    )


def main(args) -> None:
    worker.warm_up(("abc",))
    request = ComposeRequest(style=args.style, length=args.length)
    worker.compose(ComposeRequest(style=args.style, length=16, seed=1))  # warm
    steps = Steps()
    for i in range(args.tunes):
        one(steps, request, seed=100 + i)
    whole = statistics.mean(steps.times.pop("whole compose (bot.worker)"))
    total = sum(statistics.mean(v) for v in steps.times.values())
    print(f"CPU-seconds per {args.length}-bar {args.style} ({args.tunes} tunes, mean):")
    for name, values in steps.times.items():
        mean = statistics.mean(values)
        print(f"  {name:<30} {mean:5.3f} s  {100 * mean / total:4.0f}%")
    print(f"  {'sum of the steps':<30} {total:5.3f} s")
    print(f"  {'whole compose (bot.worker)':<30} {whole:5.3f} s   (goal <= 0.7)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tunes", type=int, default=8)
    parser.add_argument("--style", default="jig")
    parser.add_argument("--length", type=int, default=32)
    main(parser.parse_args())
