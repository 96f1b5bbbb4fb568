"""Composing with the shipped note-model weights: reproducible, the right length, files that open."""

from __future__ import annotations

import io
from dataclasses import replace

import mido
import pytest
import torch
from music21 import converter

from model.notes import grid as notes
from model.notes.evaluate import piece_checks
from model.notes.sample import DEFAULT_KEYS, NotesPrompt, compose_notes, load_notes_model


@pytest.fixture(scope="module")
def model():
    return load_notes_model()


@pytest.fixture(scope="module")
def piece(model):
    return compose_notes(model, NotesPrompt(style="chorale", key="Gmin", bars=8, seed=7, tempo=96, program=52))


def test_the_model_is_cached_and_versioned(model):
    assert load_notes_model() is model
    assert model.version.startswith("notes-")


def test_same_seed_same_piece_other_seed_other_piece(model, piece):
    again = compose_notes(model, NotesPrompt(style="chorale", key="Gmin", bars=8, seed=7, tempo=96, program=52))
    assert again.midi == piece.midi and again.grid.voices == piece.grid.voices
    other = compose_notes(model, NotesPrompt(style="chorale", key="Gmin", bars=8, seed=8, tempo=96, program=52))
    assert other.grid.voices != piece.grid.voices


def test_the_key_keeps_its_spelling(model):
    result = compose_notes(model, NotesPrompt(key="Dbmaj", bars=2, seed=1))
    assert result.key == "Dbmaj" and result.grid.tonic == 1
    assert (
        converter.parse(result.musicxml, format="musicxml")
        .parts[0]
        .recurse()
        .getElementsByClass("KeySignature")[0]
        .sharps
        == -5
    )


def test_result_fields(piece):
    assert (piece.bars, piece.seed, piece.key, piece.meter) == (8, 7, "Gmin", "4/4")
    assert piece.grid.tonic == 7 and piece.grid.mode == "minor" and piece.grid.steps == 8 * 8


def test_midi_opens_in_mido_with_the_requested_length_tempo_and_program(piece):
    midi = mido.MidiFile(file=io.BytesIO(piece.midi))
    assert midi.length == pytest.approx(8 * 4 * 60 / 96)  # 8 bars of 4/4 at 96 quarter notes a minute
    messages = [m for track in midi.tracks for m in track]
    assert {m.program for m in messages if m.type == "program_change"} == {52}
    assert {m.channel for m in messages if m.type == "note_on"} == {0, 1, 2, 3}


def test_midi_and_musicxml_open_in_music21_with_the_requested_length(piece):
    from_midi = converter.parse(piece.midi, format="midi")
    assert len(from_midi.parts) == 4 and from_midi.highestTime == 32
    from_xml = converter.parse(piece.musicxml, format="musicxml")
    assert len(from_xml.parts) == 4
    assert [len(p.getElementsByClass("Measure")) for p in from_xml.parts] == [8] * 4
    assert from_xml.analyze("key").tonic.name == "G"


def test_the_rules_hold_in_the_piece(piece):
    checks = piece_checks(piece.grid)
    assert checks["in_range"] == checks["notes"]
    assert checks["longest_run"] <= 8
    assert checks["ends_on_tonic"] and checks["bass_5_to_1"]  # a V-I cadence at the requested length


def test_three_four_and_a_key_left_to_the_model(model):
    result = compose_notes(model, NotesPrompt(bars=4, seed=3, meter="3/4"))
    assert result.meter == "3/4" and result.grid.steps == 4 * 6
    assert result.key in DEFAULT_KEYS  # the seed picked it
    midi = mido.MidiFile(file=io.BytesIO(result.midi))
    assert midi.length == pytest.approx(4 * 3 * 60 / 80)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"style": "jig"}, "style 'jig' is not a note-model style"),
        ({"key": "Ador"}, "key 'Ador'"),
        ({"key": "Q"}, "key 'Q'"),
        ({"bars": 0}, "length 0 bars"),
        ({"bars": 1000}, "length 1000 bars"),
        ({"temperature": 0.0}, "temperature 0.0"),
        ({"temperature": 9}, "temperature 9"),
        ({"tempo": 5}, "tempo 5"),
        ({"program": 128}, "program 128"),
        ({"meter": "6/8"}, "meter '6/8'"),
        ({"seed": -1}, "seed -1"),
    ],
)
def test_bad_prompts_get_clear_errors(model, change, words):
    with pytest.raises(notes.NotesError) as caught:
        compose_notes(model, replace(NotesPrompt(), **change))
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_missing_weights_say_how_to_make_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="tunesmith train notes"):
        load_notes_model(tmp_path / "nothing.pt")


def test_the_sampling_stepper_computes_what_the_network_computes(model):
    import torch

    from model.notes.net import Stepper

    tokens = torch.randint(0, len(notes.VOCAB), (1, 60), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, _ = model.net(tokens)
    stepper = Stepper(model.net)
    got = torch.stack([stepper.step(int(t)) for t in tokens[0]])
    assert torch.allclose(got, expected[0], atol=1e-4)


def test_the_parallel_rule_bans_exactly_the_parallel_pitches():
    from model.notes.sample import _Rules

    rules = _Rules("major", 0)
    base = rules.bias(1, 60, (60, 1), None)  # the alto sounds C4
    # the soprano moved G4 -> A4 over the alto's C4 (a fifth): the alto may not move to D
    banned = rules.no_parallels(base, [67, 60, None, None], [69, None, None, None], 1)
    newly = {notes.VOCAB[i] for i in range(len(notes.VOCAB)) if banned[i] == float("-inf") and base[i] != float("-inf")}
    assert newly == {"n62"}  # D4: the only D in the alto's range
    # if the soprano holds, or the alto is silent, nothing is banned
    assert torch.equal(rules.no_parallels(base, [67, 60, None, None], [67, None, None, None], 1), base)
    assert torch.equal(rules.no_parallels(base, [67, None, None, None], [69, None, None, None], 1), base)
