"""Inputs found by fuzzing that used to crash or mislead the renderer: each now gets a RenderError
(a ValueError) naming the problem, or plays as the other tunes do."""

from __future__ import annotations

import io

import mido
import pytest

from bot import cli
from bot.render import abc2midi
from bot.render.renderer import Renderer, RenderError


@pytest.fixture(scope="module")
def renderer():
    with Renderer() as r:
        yield r


def tune(header: str = "M:4/4", body: str = "ABcd|efga|") -> str:
    return f"X:1\n{header}\nL:1/8\nK:D\n{body}\n"


@pytest.mark.parametrize("meter", ["0/4", "4/0", "0/0", " 0 / 8"])
def test_a_meter_with_a_zero_is_named(renderer, meter):
    with pytest.raises(RenderError, match=f"meter M:{meter.replace(' ', '')} has a zero in it"):
        renderer.render_abc(tune(f"M:{meter}"), instrument="fiddle", sheet=False)


@pytest.mark.parametrize("meter", ["0/4", "4/0", "0/0"])
def test_render_command_says_so_and_exits_1(tmp_path, capsys, meter):
    path = tmp_path / "zero.abc"
    path.write_text(tune(f"M:{meter}"))
    assert cli.main(["render", str(path), "--out", str(tmp_path / "out"), "--no-sheet"]) == 1
    err = capsys.readouterr().err
    assert err == f"tunesmith render: the tune's meter M:{meter} has a zero in it; write a meter like 6/8 or 4/4\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("q", ["Q:1/0=120", "Q:0/4=120", "Q:0/0=90"])
def test_a_tempo_with_a_zero_is_named(renderer, q):
    with pytest.raises(RenderError, match=f"the tune's tempo {q} has a zero in its beat"):
        renderer.render_abc(tune(f"M:4/4\n{q}"), instrument="fiddle", sheet=False)


@pytest.mark.parametrize("q", ['Q:"Allegro"', "Q:x", "Q:1/4="])
def test_an_unreadable_tempo_is_ignored(renderer, q):
    result = renderer.render_abc(tune(f"M:4/4\n{q}"), instrument="fiddle", sheet=False)
    assert (result.beat, result.tempo, result.bars) == ("1/4", 120, 1)


@pytest.mark.parametrize(
    "line,shown",
    [
        ("V:1 program=999", "program=999"),
        ("%%MIDI program 999", "%%MIDI program 999"),
        ("V:1 clef=treble %%MIDI program 999", "%%MIDI program 999"),
        ("ABcd %%MIDI program 1 300", "%%MIDI program 1 300"),
        ("[I:MIDI program 200] AB", "I:MIDI program 200"),
        ("%%MIDI bassprog 128", "%%MIDI bassprog 128"),
    ],
)
def test_a_program_number_out_of_midis_range_is_named(renderer, line, shown):
    with pytest.raises(RenderError) as info:
        renderer.render_abc(tune(body=f"{line}\nABcd|efga|"), instrument="fiddle", sheet=False)
    number = shown.split()[-1].split("=")[-1]
    assert str(info.value) == (f"the tune asks for MIDI program {number} ({shown}); General MIDI programs are 0 to 127")


def test_directives_after_other_text_on_a_line_never_reach_abc2midi(renderer):
    """abc2midi obeys `%%MIDI` after a V: field and even after notes; the asked instrument wins."""
    abc = tune(body="V:1 clef=treble %%MIDI program 73\nA4 %%MIDI program 19\nA4|")
    assert "%%MIDI program 73" not in abc2midi.prepare_abc(abc, program=40).playable
    midi = mido.MidiFile(file=io.BytesIO(renderer.render_abc(abc, instrument="fiddle", sheet=False).midi))
    programs = {m.program for t in midi.tracks for m in t if m.type == "program_change"}
    assert programs == {40}


@pytest.mark.parametrize("rest", ["Z99999999", "X99999999", "Z10001", "Z" + "9" * 5000])
def test_a_multi_bar_rest_abc2midi_would_count_for_minutes_is_refused(renderer, rest):
    with pytest.raises(RenderError, match=r"bars \([ZX]\d+…?\) is far too long; the limit is 10,000 bars"):
        renderer.render_abc(tune(body=f"{rest}|ABcd|"), instrument="fiddle", sheet=False)


def test_a_short_multi_bar_rest_and_rest_like_text_still_play(renderer):
    result = renderer.render_abc(tune(body='"Z99999999"Z2|!Z99999999!ABcd|'), instrument="fiddle", sheet=False)
    assert result.bars == 3


@pytest.mark.parametrize("meter", ["0/4", "4/0", "0/0"])
def test_continuing_a_tune_with_a_zero_meter_is_an_abc_error(meter):
    from model.abc.notation import AbcError, parse_tune

    with pytest.raises(AbcError, match=f"M: field: unsupported meter '{meter}'"):
        parse_tune(f"X:1\nM:{meter}\nK:D\nABcd|efga|\n", strict=True)  # no L: (its default depends on M:)
