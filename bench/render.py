"""Render speed: our in-process path (ABC -> MIDI -> FluidSynth -> MP3) against the command line chain
(abc2midi + `fluidsynth -ni -F` + ffmpeg), on the same tunes, in one run, side by side.

    python bench/render.py [--repeat 3] [--soundfont PATH]

For each tune length it prints the audio length, both times (median of --repeat runs, interleaved so
both see the same machine load), the ratio ours/CLI and our seconds per minute of audio. Goals: ours
<= 0.5 s per minute of audio and <= 0.5x the CLI chain. Then a breakdown of our steps, the MP3 encoders
we could use (lameenc at several LAME qualities vs ffmpeg/libmp3lame, with the SNR of each decoded
result against the samples we fed in, to show the fast setting still sounds right) and the sheet music
child (cold vs warm). Wall times are affected by other work on the machine; CPU times are printed too.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.instruments import INSTRUMENTS  # noqa: E402
from bot.render import abc2midi, audio, sheet  # noqa: E402
from bot.render.renderer import Renderer  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "bot" / "examples"


def reel_of(copies: int) -> str:
    """The Anvil Reel's body `copies` times over: ~38 s of audio per copy at the reel's tempo."""
    text = (EXAMPLES / "anvil_reel.abc").read_text()
    head, body = text.split("K:G\n")
    return head + "K:G\n" + body * copies


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ours(renderer: Renderer, abc: str) -> tuple[float, float, float]:
    """(wall s, CPU s, audio s) for ABC -> MP3 in process (no sheet: the CLI chain draws none)."""
    cpu, kids, wall = time.process_time(), children_cpu(), time.perf_counter()
    result = renderer.render_abc(abc, instrument="fiddle", sheet=False)
    wall = time.perf_counter() - wall
    return wall, time.process_time() - cpu + children_cpu() - kids, result.duration_s


def run_cli(abc: str, soundfont: Path, workdir: Path) -> tuple[float, float]:
    """(wall s, CPU s) for the same tune through the command line tools."""
    playable = abc2midi.prepare_abc(abc, program=INSTRUMENTS["fiddle"]).playable
    (workdir / "t.abc").write_text(playable)
    kids, wall = children_cpu(), time.perf_counter()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": True, "cwd": workdir}
    subprocess.run(["abc2midi", "t.abc", "-o", "t.mid", "-quiet"], **quiet)
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-r", str(audio.SAMPLE_RATE), "-F", "t.wav", str(soundfont), "t.mid"], **quiet
    )
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-i", "t.wav", "-b:a", "128k", "t.mp3"], **quiet)
    return time.perf_counter() - wall, children_cpu() - kids


def decode(mp3: bytes) -> np.ndarray:
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "mp3", "-i", "pipe:0", "-f", "s16le", "-ac", "2", "pipe:1"],
        input=mp3,
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype=np.int16).astype(np.float64).reshape(-1, 2) / 32768.0


def compare(reference: np.ndarray, decoded: np.ndarray) -> str:
    """SNR and log-spectral distance of a decoded MP3 against its source, after finding the encoder's
    delay. SNR alone punishes psychoacoustic noise shaping; the spectral distance (mean |dB| difference
    per 2048-sample frame and frequency bin below 16 kHz, where the source is above -60 dB) is closer to
    what you hear."""
    ref, dec = reference[:, 0].astype(np.float64), decoded[:, 0]
    rate = audio.SAMPLE_RATE
    probe = ref[rate : rate * 3]
    best = max(range(0, 3000), key=lambda lag: float(np.dot(probe, dec[rate + lag : rate * 3 + lag])))
    n = min(len(ref), len(dec) - best) - rate
    a, b = ref[:n], dec[best : best + n]
    snr = 10 * np.log10(np.sum(a**2) / max(np.sum((a - b) ** 2), 1e-20))
    frames = n // 2048
    window = np.hanning(2048)
    below_16k = int(16000 / (audio.SAMPLE_RATE / 2) * 1024)
    spec = lambda x: np.abs(np.fft.rfft(x[: frames * 2048].reshape(frames, 2048) * window, axis=1))[:, :below_16k]
    sa, sb = spec(a), spec(b)
    loud = 20 * np.log10(sa + 1e-12) > 20 * np.log10(sa.max()) - 60
    lsd = np.mean(np.abs(20 * np.log10((sa[loud] + 1e-9) / (sb[loud] + 1e-9))))
    return f"SNR {snr:.1f} dB, spectral distance {lsd:.2f} dB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--soundfont", default="")
    args = parser.parse_args()

    soundfont = audio.find_soundfont(args.soundfont)
    started = time.perf_counter()
    renderer = Renderer(soundfont)
    print(
        f"soundfont {soundfont.name}: loaded in {time.perf_counter() - started:.2f} s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    tunes = [
        ("jig, 16 bars AABB", (EXAMPLES / "smiths_jig.abc").read_text()),
        ("reel x1", reel_of(1)),
        ("reel x2", reel_of(2)),
        ("reel x4", reel_of(4)),
    ]
    renderer.render_abc(tunes[0][1], instrument="fiddle", sheet=False)  # warm up (first-use costs)

    print(
        f"\n{'tune':<18} {'audio':>7} {'ours':>7} {'CLI':>7} {'ratio':>6} {'ours/min':>9}"
        f" {'ours CPU':>9} {'CLI CPU':>8} {'CPU ratio':>9} {'CPU/min':>8}"
    )
    ours_per_min, ratios, cpu_per_min, cpu_ratios = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, abc in tunes:
            ours, cli = [], []
            for _ in range(args.repeat):
                ours.append(run_ours(renderer, abc))
                cli.append(run_cli(abc, soundfont, Path(tmp)))
            wall = statistics.median(o[0] for o in ours)
            cpu = statistics.median(o[1] for o in ours)
            seconds = ours[0][2]
            cli_wall = statistics.median(c[0] for c in cli)
            cli_cpu = statistics.median(c[1] for c in cli)
            ours_per_min.append(wall / seconds * 60)
            ratios.append(wall / cli_wall)
            print(
                f"{name:<18} {seconds:6.1f}s {wall:6.2f}s {cli_wall:6.2f}s {wall / cli_wall:5.2f}x "
                f"{wall / seconds * 60:8.2f}s {cpu:8.2f}s {cli_cpu:7.2f}s {cpu / cli_cpu:8.2f}x {cpu / seconds * 60:7.2f}s"
            )
            cpu_per_min.append(cpu / seconds * 60)
            cpu_ratios.append(cpu / cli_cpu)
    print(
        f"worst: ours {max(ours_per_min):.2f} s per minute of audio (goal <= 0.5), "
        f"{max(ratios):.2f}x the CLI chain (goal <= 0.5x); in CPU time: {max(cpu_per_min):.2f} s per minute, "
        f"{max(cpu_ratios):.2f}x the CLI chain"
    )

    # Where our time goes, on the 2-copy reel.
    abc = reel_of(2)
    times = {}
    t = time.perf_counter()
    prepared = abc2midi.prepare_abc(abc, program=INSTRUMENTS["fiddle"])
    made = abc2midi.abc_to_midi(prepared.playable)
    times["abc2midi"] = time.perf_counter() - t
    t = time.perf_counter()
    sound = renderer._synth.render(made.midi)
    times["synth"] = time.perf_counter() - t
    t = time.perf_counter()
    audio.normalise(sound.samples)
    times["normalise"] = time.perf_counter() - t
    t = time.perf_counter()
    audio.encode_mp3(sound.samples)
    times["mp3 (lameenc q7)"] = time.perf_counter() - t
    total = sum(times.values())
    print(
        f"\nsteps for {sound.seconds:.0f} s of audio: "
        + ", ".join(f"{k} {v:.3f} s ({v / total:.0%})" for k, v in times.items())
    )

    print("\nMP3 encoders, 128 kbps, same samples:")
    pcm = audio.to_int16(sound.samples)
    for quality in (2, 5, 7):
        t = time.perf_counter()
        mp3 = audio.encode_mp3(sound.samples, quality=quality)
        took = time.perf_counter() - t
        print(
            f"  lameenc quality {quality}: {took:.3f} s, {len(mp3) / 1e3:.0f} kB, {compare(pcm / 32768.0, decode(mp3))}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "in.raw"
        raw.write_bytes(pcm.tobytes())
        t = time.perf_counter()
        subprocess.run(
            [
                "ffmpeg",
                "-y",
                "-v",
                "error",
                "-f",
                "s16le",
                "-ar",
                str(audio.SAMPLE_RATE),
                "-ac",
                "2",
                "-i",
                str(raw),
                "-b:a",
                "128k",
                str(Path(tmp) / "out.mp3"),
            ],
            check=True,
        )
        took = time.perf_counter() - t
        mp3 = (Path(tmp) / "out.mp3").read_bytes()
        print(
            f"  ffmpeg libmp3lame (what pydub runs): {took:.3f} s, {len(mp3) / 1e3:.0f} kB, "
            f"{compare(pcm / 32768.0, decode(mp3))}"
        )

    print("\nsheet music (verovio + rsvg-convert in the drawing child), the jig:")
    jig = tunes[0][1]
    t = time.perf_counter()
    sheet.sheet_png(jig)
    print(f"  cold child (python start + imports + draw): {time.perf_counter() - t:.2f} s")
    drawer = sheet.SheetDrawer()
    drawer.start(jig).result()  # the child has started and drawn once
    t = time.perf_counter()
    drawer.start(jig).result()
    print(f"  the same child again (what Renderer uses from the 2nd tune on): {time.perf_counter() - t:.2f} s")
    drawer.close()
    t = time.perf_counter()
    renderer.render_abc(jig, instrument="fiddle", sheet=True)
    with_sheet = time.perf_counter() - t
    t = time.perf_counter()
    renderer.render_abc(jig, instrument="fiddle", sheet=False)
    print(f"  whole render_abc of the jig: {with_sheet:.2f} s with the sheet, {time.perf_counter() - t:.2f} s without")
    renderer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
