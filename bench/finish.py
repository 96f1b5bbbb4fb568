"""What issue 13 (titles, chord symbols, accompaniment) costs: compose + render of a 32-bar jig with
finish_tune on and off, in one process, interleaved, so both see the same machine load.

    python bench/finish.py [--tunes 12]

"Off" is the tune as it was before: no chord symbols (so no bass and chords to synthesise or draw)
and the old title. Also the cost of finish_tune alone. Goal: on within 10% of off. Wall times move
with the load other work puts on the machine; CPU seconds (this process + the sheet child, abc2midi)
do not, so both are printed.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import time

from bot.render.renderer import Renderer
from model.abc import sample
from model.abc.finish import finish_tune
from model.abc.sample import AbcPrompt, compose_abc, load_abc_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tunes", type=int, default=12)
    args = ap.parse_args()
    model = load_abc_model()
    times: dict[str, list[float]] = {"on": [], "off": []}
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    alone = []
    with Renderer() as renderer:
        renderer.render_abc(compose_abc(model, AbcPrompt("jig", "6/8", bars=32, seed=1)).abc, instrument="fiddle")
        for seed in range(400, 400 + args.tunes):
            for name, values in times.items():
                sample.finish_tune = finish_tune if name == "on" else (lambda abc, **_: abc)
                start, cpu_start = time.perf_counter(), _cpu()
                tune = compose_abc(model, AbcPrompt("jig", "6/8", bars=32, seed=seed))
                renderer.render_abc(tune.abc, instrument="fiddle", tempo=116, beat="3/8")
                values.append(time.perf_counter() - start)
                cpu[name].append(_cpu() - cpu_start)
            plain = re.sub(r'"[^"]*"|% Tunesmith.*', "", tune.abc)
            start = time.perf_counter()
            finish_tune(plain, style="jig", seed=seed, model_version="bench")
            alone.append(time.perf_counter() - start)
    sample.finish_tune = finish_tune
    for name, values in times.items():
        print(
            f"finish_tune {name:3}: wall median {statistics.median(values):.3f} s, mean {statistics.mean(values):.3f} s;"
            f" CPU median {statistics.median(cpu[name]):.3f} s, over {len(values)} tunes"
        )
    on, off = (statistics.mean(times[k]) for k in ("on", "off"))
    cpu_on, cpu_off = (statistics.median(cpu[k]) for k in ("on", "off"))
    print(
        f"on/off: wall (means) {on / off:.3f}, CPU (medians) {cpu_on / cpu_off:.3f}; "
        f"finish_tune alone: median {1000 * statistics.median(alone):.1f} ms"
    )


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children (the sheet drawing, abc2midi)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    main()
