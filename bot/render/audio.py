"""MIDI bytes -> audio samples (FluidSynth, in process) -> MP3 bytes (LAME via lameenc).

One `Synth` per process: loading FluidR3_GM takes ~1 s and ~150 MB, and a FluidSynth synth is
stateful and not thread-safe. We drive the synth ourselves from the MIDI events (mido gives each
event's time in seconds), rendering the samples between events straight into a numpy buffer: no
temporary WAV, an exact cap at `max_seconds`, and the release tail rendered until it fades out.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.render.errors import RenderError

SAMPLE_RATE = 32000  # Hz: keeps everything up to 16 kHz (a fiddle in FluidR3_GM has -47 dB of its energy above;
# LAME at 128 kbps cuts near 17 kHz anyway) for 27% less synth and MP3 work than 44.1 kHz
TAIL_MAX_SECONDS = 3.0  # keep rendering after the last note until the reverb fades, at most this
FADE_SECONDS = 2.0  # fade-out when a tune is cut at max_seconds
SILENCE_PEAK = 1e-4  # below this (-80 dBFS) a block counts as silent
TARGET_RMS_DBFS = -16.0  # loudness normalisation target...
PEAK_LIMIT_DBFS = -1.0  # ...unless that would push a peak above this
MP3_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
MP3_QUALITY = 7  # LAME's fastest algorithm; at 128 kbps it sounds the same here (see bench/render.py)
MAX_SECONDS_LIMIT = 3600

SYSTEM_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),  # Debian/Ubuntu fluid-soundfont-gm (MIT)
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),  # Fedora, Arch
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),  # Debian timgm6mb-soundfont (GPL-2), small
    Path("/usr/share/soundfonts/default.sf2"),
)
REPO_SOUNDFONTS = Path(__file__).resolve().parent.parent / "soundfonts"


def find_soundfont(setting: str = "") -> Path:
    """The soundfont to use, in the order of soundfonts/README.md:
    the `soundfont` setting (bot/config.py reads $TUNESMITH_SOUNDFONT), *.sf2/*.sf3 in soundfonts/,
    Debian's FluidR3_GM.sf2, then TimGM6mb.sf2. RenderError says what to install when none is found."""
    chosen = setting
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise RenderError(f"soundfont {chosen} (TUNESMITH_SOUNDFONT / soundfont setting) does not exist")
        return path
    if REPO_SOUNDFONTS.is_dir():
        bundled = sorted(p for p in REPO_SOUNDFONTS.iterdir() if p.suffix.lower() in (".sf2", ".sf3"))
        if bundled:
            return bundled[0]
    for path in SYSTEM_SOUNDFONTS:
        if path.is_file():
            return path
    raise RenderError(
        "no soundfont found: install one (Debian/Ubuntu: apt-get install fluid-soundfont-gm), "
        "put a .sf2 file in soundfonts/, or set TUNESMITH_SOUNDFONT to a .sf2 file"
    )


def import_fluidsynth():
    """pyfluidsynth, imported quietly: with CI set in the environment it prints where it found the
    library to stdout, which would corrupt `tunesmith compose --json`."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import fluidsynth
    except (ImportError, OSError) as exc:  # pyfluidsynth raises ImportError when libfluidsynth is missing
        raise RenderError(
            "FluidSynth is not available (Debian/Ubuntu: apt-get install libfluidsynth3; "
            f"pip install pyfluidsynth): {exc}"
        ) from None
    return fluidsynth


class NoNotesError(RenderError):
    """The MIDI has no notes to play (within the time allowed)."""


class BadMidiError(RenderError):
    """The MIDI bytes are not a MIDI file we can read."""


@dataclass
class Audio:
    samples: np.ndarray  # float32, shape (frames, 2)
    music_seconds: float  # time of the last MIDI event (the tune as written, repeats expanded)
    full_seconds: float  # what the MIDI would last uncut
    notes: int
    cut: bool  # True when the tune was longer than max_seconds

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


class Synth:
    """A FluidSynth synthesizer with one soundfont, rendering offline (no audio driver)."""

    def __init__(self, soundfont: Path | str):
        fluidsynth = import_fluidsynth()
        self.soundfont = Path(soundfont)
        if not self.soundfont.is_file():
            raise RenderError(f"soundfont {self.soundfont} does not exist")
        # polyphony 96 (default 256): plenty for a tune with accompaniment, and it bounds the CPU a
        # hostile tune of thousands of overlapping notes can take. Chorus off: our MIDI never sends
        # CC93 (chorus send), so the output is bit-identical without it and the synth is ~14% faster.
        settings = {"synth.polyphony": 96, "synth.chorus.active": 0}
        self._fs = fluidsynth.Synth(gain=0.5, samplerate=float(SAMPLE_RATE), channels=16, **settings)
        # update_midi_preset=1: select the soundfont's presets on every channel now. The default (0)
        # renders SILENCE, without an error, for MIDI files that never send a program change.
        self.sfid = self._fs.sfload(str(self.soundfont), 1)
        if self.sfid == -1:
            self._fs.delete()
            raise RenderError(f"FluidSynth could not load the soundfont {self.soundfont}")
        self._write_float = fluidsynth.cfunc(
            "fluid_synth_write_float",
            ctypes.c_int,
            ("synth", ctypes.c_void_p, 1),
            ("len", ctypes.c_int, 1),
            ("lout", ctypes.c_void_p, 1),
            ("loff", ctypes.c_int, 1),
            ("lincr", ctypes.c_int, 1),
            ("rout", ctypes.c_void_p, 1),
            ("roff", ctypes.c_int, 1),
            ("rincr", ctypes.c_int, 1),
        )

    def close(self) -> None:
        if self._fs is not None:
            self._fs.delete()
            self._fs = None

    def _render_into(self, buffer: np.ndarray, start: int, stop: int) -> None:
        """Render frames [start, stop) into the interleaved stereo float32 `buffer`."""
        if stop <= start:
            return
        ptr = buffer.ctypes.data + start * 2 * 4
        self._write_float(self._fs.synth, stop - start, ptr, 0, 2, ptr, 1, 2)

    def _drain(self) -> None:
        """Run the synth until it is silent: system_reset stops the voices but not the reverb and
        chorus, which would otherwise ring into the start of the next tune (after a cut tune)."""
        scratch = np.zeros(SAMPLE_RATE // 10 * 2, dtype=np.float32)
        for _ in range(int(TAIL_MAX_SECONDS * 10)):
            self._render_into(scratch, 0, len(scratch) // 2)
            if np.abs(scratch).max() < SILENCE_PEAK:
                return

    def render(self, midi_bytes: bytes, *, max_seconds: float = 600) -> Audio:
        """MIDI file bytes -> stereo float32 samples; RenderError for unreadable MIDI or no notes."""
        events, full_seconds, notes = read_midi_events(midi_bytes)
        if notes == 0:
            raise NoNotesError("the tune has no notes to play")
        first_note = next(when for when, kind, *_ in events if kind == "note_on")
        if first_note >= max_seconds:
            raise NoNotesError(f"the tune has no notes in its first {max_seconds:g} s (it starts with a long rest)")
        cut = full_seconds > max_seconds
        music_seconds = min(full_seconds, max_seconds)
        end_frame = int(round(music_seconds * SAMPLE_RATE))
        tail_frames = int(TAIL_MAX_SECONDS * SAMPLE_RATE)
        buffer = np.zeros((end_frame + tail_frames) * 2, dtype=np.float32)

        fs = self._fs
        fs.system_reset()  # a clean state: no notes, controllers or programs left from the last tune
        self._drain()
        for channel in range(16):
            fs.program_select(channel, self.sfid, 128 if channel == 9 else 0, 0)
        frame = 0
        for when, kind, channel, a, b in events:
            at = int(round(when * SAMPLE_RATE))
            if at > end_frame:
                break
            self._render_into(buffer, frame, at)
            frame = max(frame, at)
            if kind == "note_on":
                fs.noteon(channel, a, b)
            elif kind == "note_off":
                fs.noteoff(channel, a)
            elif kind == "control_change":
                fs.cc(channel, a, b)
            elif kind == "program_change":
                fs.program_change(channel, a)
            elif kind == "pitchwheel":
                fs.pitch_bend(channel, a)
        self._render_into(buffer, frame, end_frame)
        frame = end_frame
        if cut:  # fade out over the last FADE_SECONDS instead of stopping mid-note
            fade = min(int(FADE_SECONDS * SAMPLE_RATE), end_frame)
            samples = buffer[: end_frame * 2].reshape(-1, 2)
            samples[end_frame - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
        else:  # the release tail: render in 0.1 s blocks until it is silent
            block = SAMPLE_RATE // 10
            while frame < end_frame + tail_frames:
                stop = min(frame + block, end_frame + tail_frames)
                self._render_into(buffer, frame, stop)
                quiet = np.abs(buffer[frame * 2 : stop * 2]).max(initial=0.0) < SILENCE_PEAK
                frame = stop
                if quiet:
                    break
            samples = buffer[: frame * 2].reshape(-1, 2)
        fs.system_reset()
        return Audio(samples=samples, music_seconds=music_seconds, full_seconds=full_seconds, notes=notes, cut=cut)


def read_midi_events(midi_bytes: bytes) -> tuple[list[tuple], float, int]:
    """(events as (seconds, kind, channel, a, b), length in seconds, note count) from MIDI bytes."""
    import mido

    try:
        midi = mido.MidiFile(file=io.BytesIO(midi_bytes))
        events, now, notes = [], 0.0, 0
        for msg in midi:  # merged tracks, msg.time = seconds since the previous message
            now += msg.time
            if msg.is_meta or msg.type == "sysex":
                continue
            if msg.type == "note_on" and msg.velocity > 0:
                notes += 1
                events.append((now, "note_on", msg.channel, msg.note, msg.velocity))
            elif msg.type in ("note_on", "note_off"):
                events.append((now, "note_off", msg.channel, msg.note, 0))
            elif msg.type == "control_change":
                events.append((now, "control_change", msg.channel, msg.control, msg.value))
            elif msg.type == "program_change":
                events.append((now, "program_change", msg.channel, msg.program, 0))
            elif msg.type == "pitchwheel":
                events.append((now, "pitchwheel", msg.channel, msg.pitch, 0))
    except EOFError:
        raise BadMidiError("the MIDI data could not be read: it ends too early (truncated?)") from None
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise BadMidiError(f"the MIDI data could not be read: {exc}") from None
    return events, now, notes


def normalise(samples: np.ndarray) -> float:
    """Scale in place to TARGET_RMS_DBFS, capped so peaks stay under PEAK_LIMIT_DBFS; the gain in dB.
    RenderError when there is nothing to hear (never post a silent file)."""
    flat = samples.reshape(-1)
    peak = max(float(flat.max(initial=0.0)), -float(flat.min(initial=0.0)))
    if peak < SILENCE_PEAK:
        raise RenderError("the rendered audio is silent; the soundfont may lack the instrument")
    rms = math.sqrt(float(np.dot(flat, flat)) / len(flat))  # BLAS dot: ~40x faster than np.square().mean()
    gain = min(10 ** (TARGET_RMS_DBFS / 20) / rms, 10 ** (PEAK_LIMIT_DBFS / 20) / peak)
    samples *= np.float32(gain)
    return 20 * math.log10(gain)


def to_int16(samples: np.ndarray) -> np.ndarray:
    scaled = samples * np.float32(32767.0)
    np.clip(scaled, -32767.0, 32767.0, out=scaled)
    return scaled.astype(np.int16)


def check_bitrate(bitrate: int) -> None:
    if bitrate not in MP3_BITRATES:
        raise RenderError(
            f"MP3 bitrate {bitrate} kbps is not one LAME offers; use one of {', '.join(map(str, MP3_BITRATES))}"
        )


def encode_ogg(samples: np.ndarray, *, quality: int = 4, timeout: float = 120.0) -> bytes:
    """Stereo float32 samples -> Ogg Vorbis bytes (ffmpeg's libvorbis; quality 4 is ~128 kbps)."""
    import subprocess

    from bot.render.child_env import child_env

    try:
        proc = subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "s16le",
                "-ar",
                str(SAMPLE_RATE),
                "-ac",
                "2",
                "-i",
                "pipe:0",
                "-c:a",
                "libvorbis",
                "-q:a",
                str(quality),
                "-f",
                "ogg",
                "pipe:1",
            ],
            input=to_int16(samples).tobytes(),
            capture_output=True,
            timeout=timeout,
            env=child_env(),
        )
    except FileNotFoundError:
        raise RenderError("ffmpeg is not installed (Debian/Ubuntu: apt-get install ffmpeg); it makes the OGG") from None
    except subprocess.TimeoutExpired:
        raise RenderError(f"OGG encoding took longer than {timeout:g} s") from None
    if proc.returncode != 0 or not proc.stdout:
        raise RenderError(f"ffmpeg could not make the OGG: {proc.stderr.decode(errors='replace')[:200]}")
    return proc.stdout


def encode_mp3(samples: np.ndarray, *, bitrate: int = 128, quality: int = MP3_QUALITY) -> bytes:
    """Stereo float32 samples in [-1, 1] -> MP3 bytes (constant bitrate, LAME via lameenc)."""
    import lameenc

    check_bitrate(bitrate)
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_channels(2)
    encoder.set_quality(quality)
    out = bytearray()
    chunk = SAMPLE_RATE * 10  # convert to int16 ten seconds at a time: bounded extra memory
    for start in range(0, len(samples), chunk):
        out += encoder.encode(to_int16(samples[start : start + chunk]).tobytes())
    out += encoder.flush()
    return bytes(out)


# The audio formats a render can make besides its MP3: name (also the file extension) -> the encoder of the
# normalised stereo samples. A new format (WAV, ...) is one line here; `Renderer.render_abc|render_midi(
# formats=(name,))` makes it and `RenderResult.audio[name]` holds it.
ENCODERS: dict[str, Callable[[np.ndarray], bytes]] = {"ogg": encode_ogg}


def check_soundfont(path: Path | str | None = None) -> str:
    """Load a soundfont in a fresh synth and play one note; a short OK text, or RenderError when it
    cannot be loaded or the note is silent. Used by `tunesmith doctor`."""
    import mido

    path = Path(path) if path else find_soundfont()
    started = time.perf_counter()
    synth = Synth(path)
    loaded = time.perf_counter() - started
    try:
        midi = mido.MidiFile(ticks_per_beat=480)
        track = mido.MidiTrack(
            [
                mido.Message("note_on", note=69, velocity=100, time=0),
                mido.Message("note_off", note=69, velocity=0, time=480),
            ]
        )
        midi.tracks.append(track)
        data = io.BytesIO()
        midi.save(file=data)
        audio = synth.render(data.getvalue(), max_seconds=5)
    finally:
        synth.close()
    peak = float(np.abs(audio.samples).max(initial=0.0))
    if peak < SILENCE_PEAK:
        raise RenderError(f"soundfont {path} loads but a test note renders silent; try another soundfont")
    size_mb = path.stat().st_size / 1e6
    return (
        f"{path.name} ({size_mb:.0f} MB) loaded in {loaded:.2f} s; test note A4 peaks at {20 * np.log10(peak):.0f} dBFS"
    )
