"""The render pipeline end to end with the real tools: abc2midi, FluidSynth (+ soundfont), LAME, and
ffmpeg to decode what we made. Durations are checked against what the ABC implies, repeats expanded."""

from __future__ import annotations

import io
import math
import subprocess
from pathlib import Path

import mido
import numpy as np
import pytest

from bot.render.audio import TAIL_MAX_SECONDS
from bot.render.renderer import Renderer, RenderResult

EXAMPLES = Path(__file__).resolve().parent.parent / "bot" / "examples"
RATE = 44100


@pytest.fixture(scope="module")
def renderer():
    with Renderer() as r:
        yield r


def decode_mp3(mp3: bytes) -> np.ndarray:
    """MP3 bytes -> mono float samples in [-1, 1], decoded by ffmpeg (an independent decoder)."""
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "mp3", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(RATE), "pipe:1"],
        input=mp3,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return np.frombuffer(proc.stdout, dtype=np.int16).astype(np.float64) / 32768.0


def rms_dbfs(x: np.ndarray) -> float:
    return 20 * math.log10(max(float(np.sqrt(np.mean(x**2))), 1e-12))


def first_note_hz(x: np.ndarray, length_s: float = 0.12) -> float:
    """Fundamental of the first note: harmonic product spectrum over a window just after the onset
    (robust to a fiddle's strong second harmonic)."""
    onset = int(np.argmax(np.abs(x) > 0.1 * np.abs(x).max()))
    start = onset + int(0.02 * RATE)
    window = x[start : start + int(length_s * RATE)] * np.hanning(int(length_s * RATE))
    n = 1 << 16
    spectrum = np.abs(np.fft.rfft(window, n))
    hps = spectrum.copy()
    for h in (2, 3):
        hps[: len(spectrum) // h] *= spectrum[::h][: len(spectrum) // h]
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    usable = (freqs > 80) & (freqs < 2000)
    return float(freqs[usable][np.argmax(hps[usable])])


def semitones(f: float, ref: float) -> float:
    return 12 * math.log2(f / ref)


def implied_seconds(bars_played: int, beats_per_bar: float, tempo: float) -> float:
    return bars_played * beats_per_bar * 60 / tempo


# (file, bars heard with repeats expanded, beats per bar, tempo the renderer should use, first note Hz)
CASES = [
    # AABB written with `:|` only: 8+8 bars, each part twice (music21 would make this 178% longer)
    ("smiths_jig.abc", 32, 2, 116, 293.66),  # Q:3/8=116 in the file; first note D4
    # 1st/2nd endings: each 8-bar part played twice, the 8th bar replaced by its 2nd ending
    ("anvil_reel.abc", 32, 2, 100, 392.00),  # no Q:, R:reel -> the reel style's 100 half-notes/min; G4
]


@pytest.mark.parametrize("name,bars,beats,tempo,first_hz", CASES)
def test_example_renders_to_the_length_and_pitch_the_abc_implies(renderer, name, bars, beats, tempo, first_hz):
    result = renderer.render_abc((EXAMPLES / name).read_text(), instrument="fiddle", sheet=False)
    assert isinstance(result, RenderResult)
    assert result.tempo == tempo and result.bars == bars and result.instrument == "fiddle"
    audio = decode_mp3(result.mp3)
    seconds = len(audio) / RATE
    expected = implied_seconds(bars, beats, tempo)
    assert abs(seconds - expected) / expected < 0.10, (seconds, expected)
    assert expected <= seconds <= expected + TAIL_MAX_SECONDS + 0.1  # the whole tune plus a release tail
    assert result.duration_s == pytest.approx(seconds, abs=0.1)  # the reported length is the MP3's
    assert rms_dbfs(audio) > -30, "too quiet or silent"
    assert np.abs(audio).max() < 0.99, "clipped"
    assert abs(semitones(first_note_hz(audio), first_hz)) < 0.5


def test_the_midi_carries_the_instrument_and_the_tempo(renderer):
    abc = (EXAMPLES / "smiths_jig.abc").read_text()
    result = renderer.render_abc(abc, instrument="tin whistle", tempo=90, sheet=False)
    midi = mido.MidiFile(file=io.BytesIO(result.midi))
    programs = {msg.program for track in midi.tracks for msg in track if msg.type == "program_change"}
    assert 78 in programs  # General MIDI whistle
    assert result.tempo == 90 and result.beat == "3/8"  # the beat of 6/8, derived from M:
    assert abs(midi.length - implied_seconds(32, 2, 90)) < 0.5


def test_tempo_and_beat_change_the_length(renderer):
    abc = "X:1\nT:Scale\nM:4/4\nL:1/4\nK:C\n" + "CDEF|GABc|cBAG|FEDC|" * 2 + "]\n"  # 8 bars
    slow = renderer.render_abc(abc, instrument="flute", tempo=60, beat="1/4", sheet=False)
    fast = renderer.render_abc(abc, instrument="flute", tempo=60, beat="1/2", sheet=False)  # twice as fast
    for result, expected in ((slow, 32.0), (fast, 16.0)):
        seconds = len(decode_mp3(result.mp3)) / RATE
        assert expected <= seconds <= expected + TAIL_MAX_SECONDS + 0.1
    assert slow.bars == fast.bars == 8


def test_flute_a4_is_440(renderer):
    result = renderer.render_abc("X:1\nM:4/4\nL:1/4\nK:C\nA4|A4|]\n", instrument="flute", tempo=120, sheet=False)
    assert abs(semitones(first_note_hz(decode_mp3(result.mp3), 0.3), 440.0)) < 0.25


def test_accompaniment_from_chord_symbols_can_be_switched_off(renderer):
    abc = (EXAMPLES / "forge_waltz.abc").read_text()
    with_chords = renderer.render_abc(abc, instrument="accordion", sheet=False)
    melody_only = renderer.render_abc(abc, instrument="accordion", accompaniment=False, sheet=False)

    def channels(result):
        midi = mido.MidiFile(file=io.BytesIO(result.midi))
        return {m.channel for t in midi.tracks for m in t if m.type == "note_on" and m.velocity}

    assert len(channels(with_chords)) >= 2  # melody + bass/chords
    assert len(channels(melody_only)) == 1
    assert with_chords.duration_s == pytest.approx(melody_only.duration_s, abs=1.0)  # audio length, not time taken


def test_audio_is_cut_and_faded_at_max_seconds(renderer):
    result = renderer.render_abc(
        (EXAMPLES / "anvil_reel.abc").read_text(), instrument="fiddle", max_seconds=5, sheet=False
    )
    audio = decode_mp3(result.mp3)
    assert result.cut and any("cut at 5 s" in w for w in result.warnings)
    assert 4.9 <= len(audio) / RATE <= 5.2
    assert rms_dbfs(audio[-int(0.05 * RATE) :]) < rms_dbfs(audio) - 20  # faded out, not chopped


def test_repeats_that_expand_to_hours_give_a_bounded_result(renderer):
    # 3,000 repeated 4-bar lines of whole notes at 20 beats per minute: about 80 hours as written
    abc = "X:1\nT:Forever\nM:4/4\nL:1/1\nK:C\n" + "|:C|D|E|F:|\n" * 3000
    result = renderer.render_abc(abc, instrument="organ", tempo=20, max_seconds=20, sheet=False)
    assert result.cut and result.duration_s == pytest.approx(20, abs=0.5)  # cut at max_seconds
    assert "cut at 20 s" in " ".join(result.warnings)


def test_render_midi_from_the_note_model(renderer):
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90)),
            mido.MetaMessage("time_signature", numerator=4, denominator=4),
            mido.Message("program_change", program=52, channel=0),
        ]
    )
    for note in (60, 64, 67, 72) * 2:  # no program for the 2nd voice: must still sound (sfload(path, 1))
        track.append(mido.Message("note_on", note=note, velocity=90, time=0))
        track.append(mido.Message("note_off", note=note, velocity=0, time=480))
    midi.tracks.append(track)
    data = io.BytesIO()
    midi.save(file=data)
    result = renderer.render_midi(data.getvalue())
    audio = decode_mp3(result.mp3)
    expected = 8 * 60 / 90
    assert expected <= len(audio) / RATE <= expected + TAIL_MAX_SECONDS + 0.1
    assert result.png is None and result.instrument == "choir" and result.tempo == 90 and result.bars == 2
    assert rms_dbfs(audio) > -30
    assert abs(semitones(first_note_hz(audio), 261.63)) < 0.5


def test_a_midi_file_without_program_changes_is_not_silent(renderer):
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("note_on", note=69, velocity=100, channel=3),
                mido.Message("note_off", note=69, velocity=0, channel=3, time=960),
            ]
        )
    )
    data = io.BytesIO()
    midi.save(file=data)
    assert rms_dbfs(decode_mp3(renderer.render_midi(data.getvalue()).mp3)) > -30


def test_consecutive_tunes_do_not_leak_state(renderer):
    """system_reset between tunes: a program left by one tune must not colour the next."""
    abc = "X:1\nM:4/4\nL:1/4\nK:C\nA4|]\n"
    first, pipes, again = (
        decode_mp3(renderer.render_abc(abc, instrument=name, tempo=120, sheet=False).mp3)
        for name in ("piano", "bagpipes", "piano")
    )

    def spectrum(x):  # magnitude spectrum of the first second (waveforms differ: chorus LFO phase)
        s = np.abs(np.fft.rfft(x[:RATE] * np.hanning(RATE)))
        return s / np.linalg.norm(s)

    assert float(spectrum(first) @ spectrum(pipes)) < 0.9  # the measure tells instruments apart
    assert float(spectrum(first) @ spectrum(again)) > 0.99


def test_a_cut_tune_does_not_ring_into_the_next(renderer):
    """system_reset stops voices but not reverb: a tune cut mid-note must not bleed into the next."""
    held = "X:1\nM:4/4\nL:1/1\nK:C\nD|D|D|D|\n"  # D4 (294 Hz) held, cut after 2 s
    renderer.render_abc(held, instrument="organ", tempo=20, max_seconds=2, sheet=False)
    after = renderer.render_abc("X:1\nM:4/4\nL:1/4\nK:C\nC4|]\n", instrument="piano", tempo=120, sheet=False)
    audio = decode_mp3(after.mp3)
    assert rms_dbfs(audio[: int(0.01 * RATE)]) < -60  # silence before the first note
    assert abs(semitones(first_note_hz(audio), 261.63)) < 0.5
