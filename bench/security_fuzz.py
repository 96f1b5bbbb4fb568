"""Issue 21's measurement: malformed tunes and include attacks through render and `--continue`, with the
real tools; counts tracebacks (anything but a friendly ValueError) and reads of a canary file.

    python bench/security_fuzz.py [--seeds 3] [--sheet-every 10]

Tunes: tests/fuzz_abc.py's corpus for --seeds seeds (450 malformed tunes each: mutants of the examples
and grammar tunes) plus tests/fuzz_include.py's attacks (184: include and file-reading directives of 82
spellings, in header and body, at a canary file and at /proc/self/environ). Each goes through
- render: Renderer.render_abc (what `tunesmith render` and every post use), the sheet drawn for every
  --sheet-every-th tune, audio capped at 2 s;
- continue: the request parser (`--continue`, /continue and the Continue button share it), the ABC
  model (8 bars, one candidate), then the continued tune rendered like a post.
A canary read is any of its pitch, program or marker text in a MIDI, or the marker or a secret of the
environment in an error, a warning or the log.
"""

from __future__ import annotations

import argparse
import collections
import io
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SECRET = "tok3n-SECRET-bench"
os.environ["DISCORD_TOKEN"] = SECRET  # as in a worker: the tools must not see it

from bot.render.renderer import Renderer  # noqa: E402
from bot.requests import from_options, guess_style_from_abc  # noqa: E402
from bot.styles import STYLES  # noqa: E402
from model.abc.sample import AbcPrompt, GenerationError, compose_abc, load_abc_model  # noqa: E402
from tests.fuzz_abc import SEED, corpus  # noqa: E402
from tests.fuzz_include import CANARY_MARK, CANARY_PITCH, CANARY_PROGRAM, CANARY_TEXT, attacks  # noqa: E402
from tests.test_fuzz_abc import friendly  # noqa: E402


class Tally:
    def __init__(self):
        self.outcomes = collections.Counter()
        self.tracebacks: list[str] = []
        self.reads: list[str] = []

    def failed(self, name: str, exc: BaseException) -> None:
        wrong = friendly(exc)
        if wrong:
            self.tracebacks.append(f"{name}: {wrong}")
        if CANARY_MARK in str(exc) or SECRET in str(exc):
            self.reads.append(f"{name}: in the error")
        self.outcomes[type(exc).__name__] += 1

    def made(self, name: str, midi: bytes, warnings) -> None:
        found = canary_in(midi) + [w for w in warnings if CANARY_MARK in w or SECRET in w]
        self.reads += [f"{name}: {f}" for f in found]


def canary_in(midi: bytes) -> list[str]:
    import mido

    events = [m for t in mido.MidiFile(file=io.BytesIO(midi)).tracks for m in t]
    found = ["pitch"] if any(m.type == "note_on" and m.note == CANARY_PITCH for m in events) else []
    found += ["program"] if any(m.type == "program_change" and m.program == CANARY_PROGRAM for m in events) else []
    return found + [s for s in (CANARY_MARK, SECRET) if s.encode() in midi]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sheet-every", type=int, default=10)
    args = parser.parse_args()
    log = io.StringIO()
    logging.basicConfig(stream=log, level=logging.DEBUG, force=True)
    canary = Path(tempfile.mkdtemp(prefix="tunesmith-canary-")) / "canary.abc"
    canary.write_text(CANARY_TEXT)
    cases = [(c.name, c.text) for s in range(args.seeds) for c in corpus(SEED + s)]
    cases += [(f"include {a.name}", a.text) for a in attacks(canary)]
    print(f"{len(cases)} tunes: {len(cases) - len(attacks(canary))} malformed + {len(attacks(canary))} include attacks")
    model = load_abc_model()
    render, cont = Tally(), Tally()
    with Renderer() as renderer:
        t = time.perf_counter()
        for i, (name, text) in enumerate(cases):
            try:
                result = renderer.render_abc(text, instrument="fiddle", sheet=i % args.sheet_every == 0, max_seconds=2)
            except Exception as exc:  # noqa: BLE001  every kind is counted
                render.failed(name, exc)
                continue
            render.outcomes["rendered"] += 1
            render.made(name, result.midi, result.warnings)
        print(f"render: {dict(render.outcomes)} in {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        for i, (name, text) in enumerate(cases):
            try:
                request = from_options(style=guess_style_from_abc(text), length=8, continue_abc=text)
                style = STYLES[request.style]
                made = compose_abc(
                    model,
                    AbcPrompt(
                        rhythm=style.rhythm,
                        meter=request.meter or style.meter,
                        unit=style.unit,
                        bars=8,
                        candidates=1,
                        seed=0,
                        prime_abc=request.continue_abc,
                    ),
                )
                if "%" in made.abc or str(canary) in made.abc:
                    cont.reads.append(f"{name}: the continued text keeps a directive")
                result = renderer.render_abc(
                    made.abc, instrument="fiddle", sheet=i % args.sheet_every == 0, max_seconds=2
                )
            except GenerationError:  # the worker says "the model could not finish this tune" (a ValueError)
                cont.outcomes["GenerationError"] += 1
                continue
            except Exception as exc:  # noqa: BLE001
                cont.failed(name, exc)
                continue
            cont.outcomes["continued"] += 1
            cont.made(name, result.midi, result.warnings)
        print(f"continue: {dict(cont.outcomes)} in {time.perf_counter() - t:.0f} s")
    for what, tally in (("render", render), ("continue", cont)):
        print(f"{what}: {len(cases)} tunes, {len(tally.tracebacks)} tracebacks, {len(tally.reads)} canary reads")
        for line in (tally.tracebacks + tally.reads)[:10]:
            print("  ", line)
    leaked = CANARY_MARK in log.getvalue() or SECRET in log.getvalue()
    print(f"log: {len(log.getvalue().splitlines())} lines, canary or secret in it: {leaked}")
    return 1 if render.tracebacks or cont.tracebacks or render.reads or cont.reads or leaked else 0


if __name__ == "__main__":
    sys.exit(main())
