"""MP3 tags (read back by ffprobe, an independent reader) and the accompaniment heard in the MP3."""

from __future__ import annotations

import io
import json
import subprocess

import mido
import numpy as np
import pytest

from bot.render import abc2midi
from bot.render.renderer import Renderer
from bot.render.tags import id3v2, read_id3v2

RATE = 44100
TUNE = 'X:1\nT:The Humours of Testing\nR:jig\nM:6/8\nL:1/8\nK:D\n|:"D"DFA dAF|"G"GBd gdB|"A"Ace aec|"D"d3 d3:|\n'


@pytest.fixture(scope="module")
def renderer():
    with Renderer() as r:
        yield r


def probe_tags(mp3: bytes) -> dict:
    proc = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", "-i", "pipe:0"],
        input=mp3,
        capture_output=True,
        check=True,
    )
    return {k.lower(): v for k, v in json.loads(proc.stdout)["format"].get("tags", {}).items()}


def decode(mp3: bytes) -> np.ndarray:
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "1", "-ar", str(RATE), "pipe:1"],
        input=mp3,
        capture_output=True,
        check=True,
    )
    return np.frombuffer(proc.stdout, dtype=np.float32)


def low_share(samples: np.ndarray, below_hz: float = 200.0) -> float:
    """Share of the signal's energy between 30 Hz and `below_hz` (the bass register)."""
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / RATE)
    return float(spectrum[(freqs >= 30) & (freqs < below_hz)].sum() / spectrum.sum())


def test_tag_round_trip_with_non_ascii_text():
    tag = id3v2(title="Gott, dein göttlich Wort", genre="Choral")
    assert tag[:3] == b"ID3" and read_id3v2(tag) == {
        "TIT2": "Gott, dein göttlich Wort",
        "TPE1": "Tunesmith",
        "TCON": "Choral",
    }
    assert read_id3v2(b"\xff\xfb\x90\x00") == {}


def test_mp3_carries_title_artist_genre(renderer):
    result = renderer.render_abc(TUNE, instrument="fiddle", sheet=False)
    assert probe_tags(result.mp3) == {"title": "The Humours of Testing", "artist": "Tunesmith", "genre": "Folk"}
    retitled = renderer.render_abc(TUNE, instrument="fiddle", sheet=False, title="Another Name")
    assert probe_tags(retitled.mp3)["title"] == "Another Name"
    assert len(decode(result.mp3)) / RATE == pytest.approx(result.duration_s, abs=0.2)  # the tag hides no audio


def test_accompaniment_is_heard_in_the_bass_register(renderer):
    with_band = decode(renderer.render_abc(TUNE, instrument="fiddle", sheet=False).mp3)
    alone = decode(renderer.render_abc(TUNE, instrument="fiddle", sheet=False, accompaniment=False).mp3)
    assert low_share(with_band) > 0.05 and low_share(alone) < 0.01
    assert low_share(with_band) > 10 * low_share(alone)


def test_the_melody_stays_louder_than_the_band(renderer):
    prepared = abc2midi.prepare_abc(TUNE, program=40)
    midi = mido.MidiFile(file=io.BytesIO(abc2midi.abc_to_midi(prepared.playable).midi))

    def only(melody: bool) -> bytes:
        out = mido.MidiFile(ticks_per_beat=midi.ticks_per_beat, type=midi.type)
        for track in midi.tracks:
            kept, carry = mido.MidiTrack(), 0
            for msg in track:
                if msg.type in ("note_on", "note_off") and (msg.channel == 0) != melody:
                    carry += msg.time
                    continue
                kept.append(msg.copy(time=msg.time + carry))
                carry = 0
            out.tracks.append(kept)
        data = io.BytesIO()
        out.save(file=data)
        return data.getvalue()

    def rms_db(samples: np.ndarray) -> float:
        return 20 * np.log10(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))

    melody = renderer._synth.render(only(True)).samples
    band = renderer._synth.render(only(False)).samples
    assert rms_db(band) < rms_db(melody) - 2
