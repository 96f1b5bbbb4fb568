"""model/abc/form.py and model/abc/features.py: plans, length as played, the musical measures."""

import numpy as np
import pytest

from model.abc.features import da_capo, tune_features
from model.abc.form import FormError, check_form, load_stats, make_plan, written_layout
from model.abc.judge import tell_apart


def plan(rhythm="jig", form=None, played=32, seed=0):
    return make_plan(rhythm, form, played, np.random.default_rng(seed))


def test_a_32_bar_jig_is_aabb_of_8_bar_parts_written_as_16():
    p = plan()
    assert (p.form, p.part_bars, p.played, p.written, p.note) == ("AABB", 8, 32, 16, "")
    lines = [b.line for b in p.bars]
    assert lines[7] == "::" and lines[15] == ":|" and set(lines[:7] + lines[8:15]) == {"|"}


@pytest.mark.parametrize(
    "form,played,part,written,lines",
    [
        ("AB", 32, 16, 32, {15: "||", 31: "|]"}),
        ("AABBCC", 48, 8, 24, {7: "::", 15: "::", 23: ":|"}),
        ("ABAC", 32, 8, 32, {7: "||", 15: "||", 23: "||", 31: "|]"}),
        ("AABB", 64, 16, 32, {15: "::", 31: ":|"}),
        ("ABB", 24, 8, 16, {7: "|:", 15: ":|"}),
    ],
)
def test_forms_are_written_without_going_back_over_a_part(form, played, part, written, lines):
    p = plan("reel", form, played)
    assert (p.part_bars, p.written, p.note) == (part, written, "")
    assert {i: p.bars[i].line for i in lines} == lines
    assert not da_capo([b.line for b in p.bars])


def test_a_part_that_comes_back_is_copied_note_for_note():
    p = plan("reel", "ABAC", 32)
    assert all(b.action == "copy" and b.source == b.index for b in p.bars[16:24])


def test_a_length_that_does_not_fit_moves_to_the_nearest_and_says_so():
    p = plan("jig", "AABB", 44)  # no training jig is AABB of 44 bars, nor can 8- or 16-bar parts make it
    assert p.played == 32 and "44" in p.note and "32" in p.note


def test_layouts_are_drawn_from_the_training_tunes_of_that_length():
    """A 16-bar reel is, as in the corpus, AB of 8-bar parts, AAB of 4 + 8 bars or AABB of 4-bar parts."""
    plans = [plan("reel", None, 16, seed) for seed in range(80)]
    drawn = {(p.form, p.parts) for p in plans}
    assert {("AB", "8+8"), ("AAB", "4+8"), ("AABB", "4+4")} <= drawn
    assert all(p.played == 16 and not p.note and p.written == sum(p.part_lengths) for p in plans)
    aab = next(p for p in plans if p.form == "AAB")
    assert (aab.part_bars, aab.part_lengths, [b.line for b in aab.bars][3::8]) == (0, [4, 8], [":|", "|]"])
    assert all(b.source < i for p in plans for i, b in enumerate(p.bars) if b.action != "new")


def test_a_form_the_user_gives_takes_a_corpus_layout_of_that_length():
    p = plan("reel", "AABB", 24)  # training reels: AABB of a 4- and an 8-bar part
    assert (p.form, p.parts, p.played, p.written, p.note) == ("AABB", "4+8", 24, 12, "")
    assert [b.line for b in p.bars] == ["|"] * 3 + ["::"] + ["|"] * 7 + [":|"]


def test_repeat_actions_point_backwards_and_come_from_the_corpus():
    for seed in range(20):
        p = plan("jig", None, 32, seed)
        assert all(b.source < i for i, b in enumerate(p.bars) if b.action != "new")
    stats = load_stats()["styles"]
    assert stats["jig"]["part_bars"] == 8 and len(stats["jig"]["templates"]["8+8"]) > 100
    # copies are common, as in human tunes (about 30% of bars equal an earlier one)
    share = np.mean([b.action == "copy" for s in range(50) for b in plan("reel", None, 32, s).bars])
    assert 0.15 < share < 0.45


@pytest.mark.parametrize("bad", ["", "BA", "AXB", "ACB", "A" * 20, "AB C"])
def test_bad_forms_are_refused(bad):
    with pytest.raises(FormError):
        check_form(bad)


def test_written_layout():
    assert written_layout("AABBCC") == [("A", True), ("B", True), ("C", True)]
    assert written_layout("AAB") == [("A", True), ("B", False)]


TUNE = """M:6/8
K:Cmaj
G|c2e gec|d2f afd|c2e gec|B2d d2G|c2e gec|d2f afd|c2e gfe|d2B c2:|
|:g|e2g c'ge|f2a c'af|e2g c'ge|d2f g2g|e2g c'ge|f2a c'af|e2g gfe|d2B c3:|
"""


def test_measures_of_a_hand_written_tune():
    f = tune_features(TUNE)
    assert f["part_bars"] == [8, 8]
    assert f["echo_5_6"] == 1.0  # bars 5-6 = bars 1-2 in both parts
    assert f["ends_alike"] is True  # both parts end d2B c..
    assert f["bar_repeat"] == pytest.approx(6 / 16)
    assert f["parts_8_16"] and not f["da_capo"] and not f["last_short"]
    assert f["above_b5"] and not f["above_e6"]  # c' (C6) is above B5
    assert not tune_features(TUNE, semis=-2)["above_b5"]  # in B flat its top is B flat 5
    assert f["dotted_per_100"] == 0


def test_dotted_pairs_and_snaps_are_counted():
    f = tune_features("M:4/4\nK:Cmaj\nc>dc>d e<fe<f g2g2 g4|]\n")
    assert f["dotted_per_100"] == pytest.approx(100 * 2 / 11) and f["snaps_per_100"] == pytest.approx(100 * 2 / 11)


def test_da_capo_repeats_are_found():
    assert da_capo(["|", "||", "|", ":|"])  # back over the earlier part
    assert not da_capo(["|", ":|", "|", ":|"])


def test_the_judge_tells_apart_only_what_differs():
    rng = np.random.default_rng(0)
    same = tell_apart(rng.normal(size=(200, 4)).tolist(), rng.normal(size=(200, 4)).tolist())
    apart = tell_apart(rng.normal(size=(200, 4)).tolist(), (rng.normal(size=(200, 4)) + 2).tolist())
    # a difference only trees see: the same mean, another spread (a linear model cannot tell)
    spread = tell_apart(rng.normal(size=(200, 4)).tolist(), (rng.normal(size=(200, 4)) * 3).tolist())
    assert 0.35 < same["accuracy"] < 0.65 and apart["accuracy"] > 0.95
    assert spread["logistic"] < 0.65 < 0.8 < spread["boosted"] == spread["accuracy"]
