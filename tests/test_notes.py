"""The note model's token design and its ways in and out (no network weights needed here)."""

from __future__ import annotations

import io

import mido
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from music21 import converter, corpus, key, meter, note, stream

from model.notes import grid as notes


def note_list(score) -> list[list[tuple[float, float, int | None]]]:
    """(offset, length, MIDI pitch or None) of every note and rest per part, ties merged."""
    out = []
    for part in score.parts:
        events = []
        for element in part.flatten().stripTies().notesAndRests:
            pitch = None if element.isRest else element.pitch.midi
            events.append((float(element.offset), float(element.quarterLength), pitch))
        out.append(events)
    return out


def test_chorale_round_trip_keeps_pitches_and_durations():
    score = corpus.parse("bach/bwv66.6")  # F# minor, a quarter-note upbeat, no sixteenths
    grid = notes.grid_from_score(score)
    assert (grid.meter, grid.mode, grid.tonic, grid.start) == ("4/4", "minor", 6, 6)
    normalised, shift = notes.normalise(grid)
    tokens = notes.encode(normalised)
    assert tokens[:3] == ["<bos>", "meter:4/4", "mode:minor"] and tokens[-1] == "<eos>"
    assert all(t in notes.TOKEN_ID for t in tokens)
    back = notes.transpose(notes.decode(tokens), -shift)
    assert back.voices == grid.voices and back.start == grid.start
    rebuilt = notes.grid_to_score(back)
    assert note_list(rebuilt) == note_list(score)
    # and through MusicXML text, as posted
    reread = converter.parse(notes.score_to_musicxml(rebuilt), format="musicxml")
    again = notes.grid_from_score(reread, key=score.analyze("key"))
    assert again.start == grid.start and without_trailing_rests(again.voices) == without_trailing_rests(grid.voices)


def test_hand_written_stream_with_ties_rests_and_three_four():
    parts = []
    for pitches in ([67, 69, 71], [64, 65, 67], [60, 60, 62], [48, 53, 55]):
        part = stream.Part()
        part.append(meter.TimeSignature("3/4"))
        part.append(key.Key("C"))
        a, b, c = (note.Note(p) for p in pitches)
        a.quarterLength, b.quarterLength, c.quarterLength = 1.5, 0.5, 2.5  # c is tied over the bar line
        part.append([a, b, c, note.Rest(quarterLength=1.5)])
        parts.append(part)
    score = stream.Score(parts)
    grid = notes.grid_from_score(score, key=key.Key("C"))
    assert (
        grid.voices[0]
        == [67, notes.HOLD, notes.HOLD, 69, 71, notes.HOLD, notes.HOLD, notes.HOLD, notes.HOLD] + [notes.REST] * 3
    )
    rebuilt = notes.grid_to_score(notes.decode(notes.encode(grid)))
    assert note_list(rebuilt) == note_list(score.makeNotation())


def canonical_grids():
    """Random valid grids: a HOLD only ever follows a sounding note."""
    value = st.one_of(st.integers(36, 81), st.just(notes.HOLD), st.just(notes.REST))

    @st.composite
    def build(draw):
        meter_name = draw(st.sampled_from(sorted(notes.METERS)))
        spb = notes.METERS[meter_name]
        start = draw(st.integers(0, spb - 1))
        steps = draw(st.integers(1, 3 * spb))
        voices = []
        for _ in notes.VOICES:
            voice = draw(st.lists(value, min_size=steps, max_size=steps))
            for t, v in enumerate(voice):
                if v == notes.HOLD and (t == 0 or voice[t - 1] == notes.REST):
                    voice[t] = notes.REST
            voices.append(voice)
        return notes.NoteGrid(
            meter=meter_name,
            tonic=draw(st.integers(0, 11)),
            mode=draw(st.sampled_from(notes.MODES)),
            voices=voices,
            start=start,
        )

    return build()


def without_trailing_rests(voices: list[list[int]]) -> list[list[int]]:
    """A score may drop or pad silence at the very end; what comes before must match."""
    out = []
    for voice in voices:
        voice = list(voice)
        while voice and voice[-1] == notes.REST:
            voice.pop()
        out.append(voice)
    return out


@settings(max_examples=25, deadline=None)
@given(canonical_grids())
def test_tokens_and_streams_round_trip_any_grid(grid):
    decoded = notes.decode(notes.encode(grid), tonic=grid.tonic)
    assert decoded == grid
    m21_key = key.Key(notes.NOTE_NAMES[grid.tonic], grid.mode)
    again = notes.grid_from_score(notes.grid_to_score(grid), key=m21_key)
    assert again.start == grid.start
    assert without_trailing_rests(again.voices) == without_trailing_rests(grid.voices)


def test_position_tokens_mark_the_last_two_bars():
    grid = notes.NoteGrid(meter="3/4", tonic=0, mode="major", voices=[[60] * 18 for _ in notes.VOICES])
    positions = [t for t in notes.encode(grid) if t.startswith("@")]
    assert positions[:6] == ["@0", "@1", "@2", "@3", "@4", "@5"]
    assert positions[6:12] == [f"@{i}:2" for i in range(6)] and positions[12:] == [f"@{i}:1" for i in range(6)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Dmaj", (2, "major")),
        ("F#min", (6, "minor")),
        ("Bb", (10, "major")),
        ("am", (9, "minor")),
        ("Eb minor", (3, "minor")),
    ],
)
def test_key_of(text, expected):
    assert notes.key_of(text) == expected


@pytest.mark.parametrize("text", ["Ador", "H", "", "C##maj", "Gmix"])
def test_key_of_rejects_what_it_cannot_use(text):
    with pytest.raises(notes.NotesError, match="major or minor"):
        notes.key_of(text)


def test_normalise_moves_the_tonic_to_c_by_the_smaller_step():
    grid = notes.NoteGrid(meter="4/4", tonic=9, mode="minor", voices=[[69], [64], [57], [45]])
    normalised, shift = notes.normalise(grid)
    assert shift == 3 and normalised.tonic == 0 and normalised.voices[0] == [72]


def test_scores_that_do_not_fit_are_refused_clearly():
    parts = [stream.Part([meter.TimeSignature("4/4"), note.Note(60, quarterLength=4)]) for _ in range(3)]
    with pytest.raises(notes.NotesError, match="exactly four voices"):
        notes.grid_from_score(stream.Score(parts), key=key.Key("C"))
    parts = [stream.Part([meter.TimeSignature("6/8"), note.Note(60, quarterLength=3)]) for _ in range(4)]
    with pytest.raises(notes.NotesError, match="6/8 is not supported"):
        notes.grid_from_score(stream.Score(parts), key=key.Key("C"))
    with pytest.raises(notes.NotesError, match="outside"):
        notes.encode(notes.NoteGrid(meter="4/4", tonic=0, mode="major", voices=[[127], [60], [60], [60]]))


def test_midi_has_tempo_program_length_and_four_voices():
    grid = notes.NoteGrid(
        meter="4/4",
        tonic=2,
        mode="major",
        voices=[[74, notes.HOLD] * 8, [69] * 16, [66, notes.REST] * 8, [50] + [notes.HOLD] * 15],
    )
    data = notes.grid_to_midi(grid, tempo=90, program=52)
    midi = mido.MidiFile(file=io.BytesIO(data))
    assert midi.length == pytest.approx(8 * 60 / 90)  # two bars of 4/4 = 8 beats
    messages = [m for track in midi.tracks for m in track]
    assert {m.program for m in messages if m.type == "program_change"} == {52}
    assert [m.tempo for m in messages if m.type == "set_tempo"] == [mido.bpm2tempo(90)]
    assert sum(m.type == "note_on" for m in messages) == 8 + 16 + 8 + 1
    parsed = converter.parse(data, format="midi")
    assert len(parsed.parts) == 4 and parsed.highestTime == 8


def test_midi_refuses_bad_tempo_and_program():
    grid = notes.NoteGrid(meter="4/4", tonic=0, mode="major", voices=[[60]] * 4)
    with pytest.raises(notes.NotesError, match="tempo 0"):
        notes.grid_to_midi(grid, tempo=0, program=0)
    with pytest.raises(notes.NotesError, match="program 128"):
        notes.grid_to_midi(grid, tempo=80, program=128)


def test_musicxml_opens_in_music21():
    grid = notes.NoteGrid(
        meter="4/4", tonic=7, mode="major", voices=[[79, notes.HOLD, 78, 76] * 4, [74] * 16, [71] * 16, [55] * 16]
    )
    text = notes.score_to_musicxml(notes.grid_to_score(grid, title="Test"))
    parsed = converter.parse(text, format="musicxml")
    assert len(parsed.parts) == 4 and len(parsed.parts[0].getElementsByClass("Measure")) == 2
    assert note_list(parsed)[0][:3] == [(0.0, 1.0, 79), (1.0, 0.5, 78), (1.5, 0.5, 76)]
