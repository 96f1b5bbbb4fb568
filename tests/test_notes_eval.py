"""The note model's measuring tools: the n-gram baseline and the musical checks."""

from __future__ import annotations

import math

import pytest

from model.notes import grid as notes
from model.notes.evaluate import VOICE_TOKENS, WittenBell, piece_checks, summarise

H, R = notes.HOLD, notes.REST


def grid(voices, tonic=0, mode="major"):
    return notes.NoteGrid(meter="4/4", tonic=tonic, mode=mode, voices=voices)


def test_witten_bell_is_a_proper_distribution_and_learns_what_follows():
    pieces = [notes.encode(grid([[60, 62, 64, 65] * 4, [55] * 16, [52] * 16, [48] * 16]))] * 3
    model = WittenBell(6).fit(pieces)
    context = tuple(pieces[0][:10])[-5:]
    assert sum(model.prob(context, t) for t in VOICE_TOKENS) == pytest.approx(1.0)
    # in this two-bar corpus the soprano after the bass's C and position 1 is always D (n62)
    assert model.prob(("n48", "@1:2"), "n62") > 0.5 > model.prob(("n48", "@1:2"), "n70")
    assert WittenBell(1).fit(pieces).nats(pieces) > model.nats(pieces)  # context helps
    assert model.nats(pieces) < math.log(len(VOICE_TOKENS))


def test_piece_checks_count_what_they_say():
    checks = piece_checks(
        grid(
            [
                [64, H, 66, 67] + [67] * 9 + [64, H, H],  # F# is out of C major; nine G's in a row
                [60, H, H, H] * 4,
                [55, R, R, R] * 4,  # the tenor sings on beat one only
                [33, H, H, H] * 3 + [48, H, H, H],  # A1 (33) is below the bass range
            ]
        )
    )
    assert checks["notes"] == 13 + 4 + 4 + 4
    assert checks["in_key"] == checks["notes"] - 1
    assert checks["in_range"] == checks["notes"] - 3
    assert checks["longest_run"] == 10  # 67 at step 3, then nine more
    assert checks["two_voice_steps"] == 16 and checks["ends_on_tonic"]


def test_ending_checks_need_the_root_in_the_bass_and_allow_a_picardy_third():
    minor_with_major_third = grid([[69], [64], [57], [45]], tonic=9, mode="minor")  # A major chord ending A minor
    assert piece_checks(minor_with_major_third)["ends_on_tonic"]
    first_inversion = grid([[72], [67], [60], [52]])  # C major with E in the bass
    assert not piece_checks(first_inversion)["ends_on_tonic"]
    authentic = grid([[71, 72], [67, 67], [62, 64], [43, 48]])  # G7-ish -> C, bass G -> C
    assert piece_checks(authentic)["bass_5_to_1"] and not piece_checks(first_inversion)["bass_5_to_1"]


def test_summary_percentages():
    a = piece_checks(grid([[60, 61], [55, 55], [52, 52], [48, 48]]))
    summary = summarise([a, a])
    assert summary["pieces"] == 2 and summary["in_key_pct"] == pytest.approx(87.5)
    assert summary["pieces_with_run_over_8"] == 0 and summary["two_voices_pct_of_time"] == 100.0


def test_parallel_fifths_and_octaves_are_counted_only_when_both_voices_move():
    checks = piece_checks(
        grid(
            [
                [67, 69, 69, 72],
                [60, 62, 60, 65],
                [55, 55, 52, 53],
                [48, 50, 45, 41],
            ]
        )
    )
    # step 0->1: S, A, B move (T holds): pairs S-A (5th->5th: yes), S-B (19 -> 19: yes), A-B (12 -> 12: yes)
    # step 1->2: S holds; A-T, A-B, T-B move: A 62->60, T 55->52, B 50->45: A-T 7->8 no, A-B 12->15 no, T-B 5->7 no
    # step 2->3: all move: S-A 9->7 no, S-T 17->19 no, S-B 24->31 no, A-T 8->12 no, A-B 15->24 no, T-B 7->12 no
    assert checks["moving_pairs"] == 3 + 3 + 6 and checks["parallels"] == 3
