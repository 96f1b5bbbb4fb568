"""The harmoniser and finish_tune: chord spelling, placement, fit, cadence, continuations."""

from __future__ import annotations

import re

import mido
import pytest

from model.abc.evaluate import abc2midi_ok
from model.abc.finish import finish_tune
from model.abc.harmony import add_chords, chord_marks, chords_for
from model.abc.harmony_eval import human_reference, measure
from model.abc.notation import parse_key, parse_tune
from model.abc.sample import AbcPrompt, compose_abc, load_abc_model


@pytest.mark.parametrize(
    "key,names",
    [
        ("D", ["D", "Em", "G", "A", "Bm", "A7", "E7"]),
        ("Bb", ["Bb", "Cm", "Eb", "F", "Gm", "F7", "C7"]),
        ("F#m", ["F#m", "A", "Bm", "C#", "D", "E", "C#7", "C#m"]),
        ("Ador", ["Am", "Bm", "C", "D", "Em", "G", "E7"]),
        ("Gmix", ["G", "Am", "C", "Dm", "Em", "F", "D7"]),
    ],
)
def test_chords_are_the_modes_own_and_spelled_in_the_key(key, names):
    assert [c.name for c in chords_for(parse_key(key))] == names


def tune(body: str, key: str = "D", meter: str = "6/8") -> str:
    return f"X:1\nT:t\nM:{meter}\nL:1/8\nK:{key}\n{body}\n"


def test_an_arpeggiated_melody_gets_its_own_chords_and_ends_on_the_tonic():
    body = add_chords("|:DFA dAF|GBd gdB|Ace aec|d3 d3:|", parse_key("D"), "6/8")
    assert body == '|:"D"DFA dAF|"G"GBd gdB|"A7"Ace aec|"D"d3 d3:|'  # V7 -> I closes the part
    parse_tune(tune(body), strict=True)
    m = measure(body, parse_key("D"), "6/8")
    assert m["hits"] == m["total"] == 8 and m["ends_on_tonic"]


def test_half_bar_changes_and_never_inside_a_held_note():
    key = parse_key("G")
    body = add_chords("GBdB cegc|d8|G8|", key, "4/4")
    assert body == '"G"GBdB "C"cegc|"D7"d8|"G"G8|'  # V7 -> I at the end
    # a note held across the half bar: no chord can start there
    assert [at for at, _ in chord_marks("G4 c4|G8|", key, "4/4")] == [0, 3, 6]
    assert [at for at, _ in chord_marks("G3c3 c2|G8|", key, "4/4")] == [0]


def test_v7_to_i_inside_the_last_bar_closes_the_part_where_the_melody_allows_it():
    """4/4 has two slots a bar: a part may close V7 -> I within its last bar, costing no more than V7
    in the bar before; a last bar whose first half outlines IV does not get V forced on it."""
    key = parse_key("D")
    body = add_chords("|:D2FD A2FD|G2BG E2GE|F2AF d2cB|A2G2 F2D2:|", key, "4/4")
    assert body.endswith('|"A7"A2G2 "D"F2D2:|')
    body = add_chords("|:D2FD A2FD|G2BG E2GE|F2AF d2cB|B2G2 F2D2:|", key, "4/4")
    assert '"A' not in body.rsplit("|", 2)[1]  # B2G2: no A or A7 over it


def test_pickups_get_no_chord_and_parts_start_with_one():
    body = add_chords("A|dfa afd|gbg fed|e2A ABc|d3 d2:|\nf|afd dfa|gfe d2A|BdB AFA|d3 d2|]", parse_key("D"), "6/8")
    assert body.startswith('A|"D"dfa')
    assert ':|\nf|"D"afd' in body  # the B part's pickup is bare, its first bar has a chord
    assert re.findall(r'"([^"]+)"', body)[-1] == "D"


def test_ending_brackets_get_a_space_before_a_chord_for_verovio():
    body = add_chords("|:DFA dAF|GBd gdB|1 Ace aec:|2 d3 d3|]", parse_key("D"), "6/8")
    assert '|2 "D"d3' in body or "|2 d3" in body
    body = add_chords("|:DFA dAF|GBd gdB|[1Ace aec:|[2d3 d3|]", parse_key("D"), "6/8")
    assert not re.search(r'\[[12]"', body)
    parse_tune(tune(body), strict=True)


def test_decorations_grace_notes_and_triplets_stay_after_the_chord():
    body = add_chords("~D2F (3ABA d2|{g}G2B !trill!d2B|d3 d3|", parse_key("D"), "6/8")
    assert body.startswith('"D"~D2F') and '"G"{g}G2B' in body
    parse_tune(tune(body), strict=True)


@pytest.fixture(scope="module")
def model():
    return load_abc_model()


@pytest.mark.parametrize(
    "rhythm,meter,key,seed",
    [
        ("jig", "6/8", "Dmaj", 21),
        ("reel", "4/4", "Ador", 22),
        ("waltz", "3/4", "Gmix", 23),
        ("march", "2/4", "Emin", 24),
    ],
)
def test_generated_tunes_carry_fitting_chords(model, rhythm, meter, key, seed):
    g = compose_abc(model, AbcPrompt(rhythm, meter, "1/8", key, bars=16, seed=seed, candidates=2))
    parsed = parse_tune(g.abc, strict=True)
    body = g.abc.split("\nK:", 1)[1].split("\n", 1)[1]
    m = measure(body, parsed.key, meter)
    assert m["total"] >= 10 and m["hits"] / m["total"] >= 0.75  # 16 bars as played: 8 written, some held notes
    assert m["max_changes_per_half_bar"] <= 1 and m["ends_on_tonic"]
    assert abc2midi_ok(g.abc)


def test_finish_sets_title_credit_and_chords_once():
    abc = tune("|:DFA dAF|GBd gdB|Ace aec|d3 d3:|").replace("T:t\n", "T:Jig in D major (seed 9)\nR:jig\n")
    done = finish_tune(abc, style="jig", seed=9, model_version="abc-test")
    lines = done.split("\n")
    assert [line[:2] for line in lines[:6]] == ["X:", "T:", "R:", "M:", "L:", "K:"]
    assert "seed" not in lines[1] and lines[1] != "T:Jig in D major"
    assert lines[6] == "% Tunesmith abc-test, seed 9" and done.endswith(":|\n")
    assert done.count('"D"') == 2
    assert finish_tune(done, style="jig", seed=9, model_version="abc-test") == done


def test_a_continuation_keeps_the_users_text_and_chords():
    user = 'X:1\nT:Mine\nM:6/8\nL:1/8\nK:D\n"Bm"DFA dAF|"Em"GBd gdB|\n'
    abc = user + "Ace aec|d3 d3|]\n"
    done = finish_tune(abc, style="jig", seed=1, user_part_end=len(user))
    assert done.startswith(user)
    assert 'GBd gdB|\n"A7"Ace aec|"D"d3 d3|]' in done


def test_accompaniment_is_in_the_midi_below_the_melody(model):
    """abc2midi turns the chord symbols into bass and chord notes, softer than the melody."""
    import io

    from bot.render import abc2midi

    g = compose_abc(model, AbcPrompt("jig", "6/8", "1/8", "Dmaj", bars=8, seed=5, candidates=2))
    prepared = abc2midi.prepare_abc(g.abc, program=40)
    midi = mido.MidiFile(file=io.BytesIO(abc2midi.abc_to_midi(prepared.playable).midi))
    on = [m for t in midi.tracks for m in t if m.type == "note_on" and m.velocity > 0]
    channels = {m.channel for m in on}
    assert len(channels) >= 3  # melody, bass, chords
    melody = [m for m in on if m.channel == 0]
    others = [m for m in on if m.channel != 0]
    assert min(m.note for m in others) < min(m.note for m in melody)
    assert sum(m.velocity for m in others) / len(others) < sum(m.velocity for m in melody) / len(melody)


def test_human_reference_tunes_fit_their_own_chords():
    ref = human_reference()
    assert ref["tunes"] == 2 and ref["their_chord_tone_rate"] >= 0.9
    assert ref["our_chord_tone_rate_on_their_melodies"] >= 0.8
