"""Bad input to the renderer: each gets a RenderError (a ValueError) whose text names the problem,
and the renderer keeps working afterwards. Plus the ABC preparation rules (tempo, beat, first tune)."""

from __future__ import annotations

import io
from pathlib import Path

import mido
import pytest

from bot.render import abc2midi
from bot.render.renderer import Renderer, RenderError, check_soundfont, find_soundfont

GOOD = "X:1\nT:Short\nM:4/4\nL:1/4\nK:C\nCDEF|G4|]\n"
TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")


@pytest.fixture(scope="module")
def renderer():
    with Renderer() as r:
        yield r


@pytest.mark.parametrize(
    "abc,kwargs,message",
    [
        ("", {}, "the ABC text is empty"),
        ("  \n\t\n", {}, "the ABC text is empty"),
        ("X:1\n" + "abcdefg " * 1_300_000, {}, r"10,400,004 characters; one tune must be under 100,000"),
        ("X:1\nT:No key\nM:4/4\nabc|def|\n", {}, r"no K: \(key\) line"),
        ("X:1\nT:Only rests\nM:4/4\nK:C\nz4|z4|]\n", {}, "no notes after its K:"),
        ("X:1\nT:Decorations only\nM:4/4\nK:C\n!fermata! !trill! |]\n", {}, "the tune has no notes to play"),
        ("X:1\nT:Bad notes\nM:4/4\nK:C\n^^^ !fermata! |\n", {}, r"no notes to play \(abc2midi: Error .*Malformed note"),
        (
            "X:1\nT:Too high\nK:C\nc" + "'" * 8 + "4|\n",
            {},
            r"abc2midi could not make playable MIDI of this tune \(a note is too high or too low",
        ),
        ("X:1\nT:Long rest\nL:1/8\nK:C\nz100000 A|\n", {"max_seconds": 60}, "no notes in its first 60 s"),
        ("X:1\nK:C\nAB\x00CD\n", {}, "NUL bytes"),
        (
            "X:1\nM:4/4\nL:1/8\nK:G\n" + "GABG dGBG|c2ec BdgB|AGAB cBAG|FGAF DEFA|\n" * 2000,
            {},
            "too long to render: abc2midi stopped at its 500 KB MIDI limit",
        ),
        (GOOD, {"tempo": 0}, "tempo 0 is out of range; use 20 to 400"),
        (GOOD, {"tempo": 10000}, "tempo 10000 is out of range"),
        (GOOD, {"tempo": 99.5}, "tempo 99.5 is not a whole number"),
        (GOOD, {"beat": "quick"}, "beat 'quick' is not a note length"),
        (GOOD, {"beat": "1/0"}, "beat '1/0' is not a note length"),
        (GOOD, {"instrument": "kazoo"}, "instrument 'kazoo' is not known; try fiddle"),
        (GOOD, {"bitrate": 100}, "MP3 bitrate 100 kbps is not one LAME offers"),
        (GOOD, {"max_seconds": 0}, "max_seconds 0 is out of range"),
        (12345, {}, "must be ABC text, not int"),
    ],
)
def test_bad_abc_input_names_the_problem(renderer, abc, kwargs, message):
    kwargs = {"instrument": "fiddle", **kwargs}
    with pytest.raises(RenderError, match=message) as info:
        renderer.render_abc(abc, **kwargs)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "the MIDI data is empty"),
        (b"this is not a MIDI file at all", "the MIDI data could not be read"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0", "it ends too early"),  # a header, no tracks
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x04\x00\xff\x2f\x00", "no notes to play"),
    ],
)
def test_bad_midi_input_names_the_problem(renderer, data, message):
    with pytest.raises(RenderError, match=message):
        renderer.render_midi(data)


def test_the_renderer_still_works_after_bad_input(renderer):
    for bad in ("", "X:1\nK:C\n!trill!|\n"):
        with pytest.raises(RenderError):
            renderer.render_abc(bad, instrument="fiddle")
    result = renderer.render_abc(GOOD, instrument="fiddle", sheet=False)
    assert result.mp3[:3] == b"ID3" or result.mp3[0] == 0xFF
    assert result.bars == 2


def test_malformed_notes_give_a_bounded_result_with_abc2midis_complaints(renderer):
    result = renderer.render_abc("X:1\nM:4/4\nL:1/8\nK:C\nA2 ]]]] B2 {{{ |\n", instrument="fiddle", sheet=False)
    audio_seconds = result.duration_s  # how long the MP3 plays
    assert audio_seconds < 5
    assert any("Chord already finished" in w for w in result.warnings)


# --- preparing the ABC --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "meter,beat",
    [
        ("6/8", "3/8"),
        ("9/8", "3/8"),
        ("12/8", "3/8"),
        ("4/4", "1/4"),
        ("2/2", "1/2"),
        ("3/4", "1/4"),
        ("2/4", "1/4"),
        ("3/8", "1/8"),
    ],
)
def test_beat_for_meter(meter, beat):
    assert abc2midi.beat_for_meter(meter) == beat


def test_prepare_sets_tempo_and_instrument_after_the_key_line():
    abc = "X:7\nT:T\nM:C|\nL:1/8\nQ:1/4=80\nK:Ador\n%%MIDI program 1\nABcd efga|\n"
    prepared = abc2midi.prepare_abc(abc, program=40, tempo=90)
    lines = prepared.playable.split("\n")
    assert prepared.meter == "2/2" and prepared.beat == "1/2" and prepared.tempo == 90
    assert "Q:1/4=80" not in lines and lines.index("Q:1/2=90") < lines.index("K:Ador")
    assert lines[lines.index("K:Ador") + 1] == "%%MIDI program 40"
    assert "%%MIDI program 1" not in lines  # the requested instrument wins
    changes = abc2midi.prepare_abc("X:1\nM:4/4\nK:C\nCDEF|\nQ:1/4=200\nGABc|[Q:1/4=40]cBAG|\n", program=0, tempo=90)
    assert changes.playable.count("Q:") == 1  # tempo changes inside the tune would undo the asked tempo


def test_prepare_keeps_the_tunes_own_tempo_when_none_is_asked_for():
    prepared = abc2midi.prepare_abc("X:1\nM:6/8\nQ:3/8=104\nK:G\nGAB cde|\n", program=40)
    assert (prepared.beat, prepared.tempo) == ("3/8", 104)
    styled = abc2midi.prepare_abc("X:1\nR:hornpipe\nM:4/4\nK:G\nGABc dedB|\n", program=40)
    assert (styled.beat, styled.tempo) == ("1/4", 160)  # the hornpipe style's tempo
    plain = abc2midi.prepare_abc("X:1\nM:3/4\nK:G\nGAB|\n", program=40)
    assert (plain.beat, plain.tempo) == ("1/4", 120)


def test_only_the_first_tune_of_a_file_is_used_and_x_is_added_when_missing():
    two = "%abc-2.1\n\nX:1\nT:One\nK:D\nDEF|\n\nX:2\nT:Two\nK:G\nGAB|\n"
    assert "T:Two" not in abc2midi.prepare_abc(two, program=0).tune
    bare = abc2midi.prepare_abc("T:Bare\nK:D\nDEF|\n", program=0)
    assert bare.tune.startswith("X:1\n")


def test_latin1_bytes_are_read():
    prepared = abc2midi.prepare_abc("X:1\nT:Caf\xe9 Reel\nK:D\nDEF|\n".encode("latin-1"), program=0)
    assert prepared.title == "Caf\xe9 Reel"


# --- soundfonts ---------------------------------------------------------------------------------


def test_a_missing_soundfont_setting_is_an_error_not_a_fallback(tmp_path):
    with pytest.raises(RenderError, match="nope.sf2.*does not exist"):
        find_soundfont(str(tmp_path / "nope.sf2"))


def test_the_environment_picks_the_soundfont(tmp_path):
    from bot.config import load_settings

    chosen = tmp_path / "mine.sf2"
    chosen.write_bytes(b"x")
    setting = load_settings({"TUNESMITH_SOUNDFONT": str(chosen), "TUNESMITH_DATA_DIR": str(tmp_path)}).soundfont
    assert find_soundfont(setting) == chosen
    assert find_soundfont(str(TIMGM)) == TIMGM


def test_check_soundfont_plays_a_note_and_rejects_a_fake(tmp_path):
    if not TIMGM.is_file():
        pytest.skip("timgm6mb-soundfont is not installed")
    assert "test note A4 peaks at" in check_soundfont(TIMGM)
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF" + b"\x00" * 100)
    with pytest.raises(RenderError, match="could not load the soundfont"):
        check_soundfont(fake)


def test_the_tunes_own_directives_never_reach_abc2midi(renderer, tmp_path):
    """`%%abc-include PATH` makes abc2midi read any file: user text must not reach a path."""
    secret = tmp_path / "secret.abc"
    secret.write_text("CDEF GABc|\n")
    abc = f"X:1\nM:4/4\nL:1/8\nK:C\n%%abc-include {secret}\nI:MIDI program 73\nA8|[I:MIDI program 19]A8|\n"
    prepared = abc2midi.prepare_abc(abc, program=40)
    assert str(secret) not in prepared.playable and "program 73" not in prepared.playable
    midi = renderer.render_abc(abc, instrument="fiddle", sheet=False).midi
    parsed = mido.MidiFile(file=io.BytesIO(midi))
    notes = [m.note for t in parsed.tracks for m in t if m.type == "note_on" and m.velocity]
    programs = {m.program for t in parsed.tracks for m in t if m.type == "program_change"}
    assert notes == [69, 69] and programs == {40}  # only the tune's own two A notes, on the fiddle


def test_a_hornpipe_plays_as_written():
    """abc2midi swings unmarked quaver pairs under R:hornpipe and fails where one meets a written `>`;
    the rhythm on the page is what we play."""
    abc = "X:1\nR:hornpipe\nM:4/4\nL:1/8\nK:Em\nG>A B>c d2 B>A|GE>F E>D E2 D2|]\n"
    prepared = abc2midi.prepare_abc(abc, program=40, tempo=120)
    assert "R:" not in prepared.playable and "R:hornpipe" in prepared.tune
    made = abc2midi.abc_to_midi(prepared.playable, accompaniment=False)
    assert not made.errors, made.errors
    midi = mido.MidiFile(file=io.BytesIO(made.midi))
    starts, now = [], 0.0
    for msg in midi:  # seconds; at 120 quarters a minute a quaver lasts 0.25 s
        now += msg.time
        if msg.type == "note_on" and msg.velocity:
            starts.append(round(now, 3))
    # bar 2: G (straight quaver), E> (dotted), F (semiquaver): onsets 0, 0.25, 0.625, 0.75 s into the bar
    assert [t - starts[7] for t in starts[7:11]] == pytest.approx([0, 0.25, 0.625, 0.75], abs=0.005), starts
