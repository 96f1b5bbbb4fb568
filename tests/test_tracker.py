"""model/abc/tracker.py: the bar/duration tracker behind constrained decoding."""

from collections import Counter

import pytest

from model.abc.data import is_valid_tune, load_corpus, raw_tunes
from model.abc.notation import AbcError, parse_tune, to_canonical
from model.abc.tracker import BarTracker, TrackerError


def feed(meter: str, text: str, target=None) -> BarTracker:
    t = BarTracker(meter, target)
    t.feed_text(text)
    return t


def refuses(meter: str, text: str, target=None) -> str:
    with pytest.raises(TrackerError) as e:
        feed(meter, text, target)
    return str(e.value)


def test_every_corpus_tune_passes_or_is_explained():
    """Each record of the four collections is kept, or dropped for a reason we can name."""
    explained = ("unparsed:", "bars:", "duplicate")
    kept = len(load_corpus().tunes)
    reasons = load_corpus().stats["dropped"]
    assert all(r.startswith(explained) for r in reasons)
    assert kept + sum(reasons.values()) == load_corpus().stats["records"]
    assert kept / load_corpus().stats["records"] > 0.8
    # the bar reasons are the source transcriptions' own irregular bars, not tracker gaps:
    bar_reasons = Counter(r for r in reasons if r.startswith("bars:"))
    assert sum(reasons[r] for r in bar_reasons) < 0.15 * load_corpus().stats["records"]
    # and every kept tune really passes the tracker
    assert all(is_valid_tune(t) is None for t in load_corpus().tunes[::7])


def test_a_dropped_corpus_tune_has_a_real_irregular_bar():
    # find one dropped for its bars and check by hand that a bar is neither full nor a pickup
    for _, raw in raw_tunes()[:400]:
        try:
            text = to_canonical(parse_tune(raw))
        except AbcError:
            continue
        if is_valid_tune(text):
            body = text.split("K:", 1)[1].split("\n", 1)[1]
            assert is_valid_tune(text).split(" at ")[0] in {
                "a short bar must end a part",
                "the bar is full",
                "the tune ends inside a bar",
                "this part's pickup does not complete the short bar before it",
                "a note must follow",
                "an empty bar",
                "the bar is overfull",
                "the note would overfill the bar",
                "notes of a triplet or broken pair must have the same length",
                "a broken rhythm cannot follow this note",
                "no room for a triplet",
                "the broken rhythm would overfill the bar",
                "'<' cannot start an element",
                "'>' cannot start an element",
                "grace notes cannot come here",
            }, body[:80]
            return
    pytest.fail("no dropped tune in the first 400 records")


def test_full_bars_pickups_and_count():
    t = feed("6/8", "A|BAG F2E|D3 D2:|\n", target=2)
    assert t.ended is False and t.bars == 2 and t.pickup == 4


def test_refuses_overfull_and_early_bar_lines():
    assert "overfill" in refuses("6/8", "ABc def2") or "full" in refuses("6/8", "ABc def2")
    assert "short" in refuses("6/8", "ABc def|ABc d|", target=8)  # closes a bar early (not a part end)
    assert refuses("6/8", "ABc dfe g")  # a seventh quaver


def test_triplets_and_broken_rhythm():
    feed("2/4", "(3ABc d2|A>B c<d|", target=8)
    assert "same length" in refuses("2/4", "(3AB2")
    assert "same length" in refuses("2/4", "A>B2 ")


def test_the_tune_ends_exactly_at_the_target_with_a_final_bar_line():
    t = feed("2/4", "ABcd|dcBA|]\n", target=2)
    t.feed("$")
    assert t.ended
    assert refuses("2/4", "ABcd|dcBA|]\n$", target=3)  # |] only ends the tune
    assert "needs 3 bars" in refuses("2/4", "ABcd|dcBA|\n$", target=3)
    assert "|]" in refuses("2/4", "ABcd|dcBA||", target=2)


def test_chords_graces_rolls_ties_and_endings():
    t = feed("4/4", "|:{g}~A2 [DA]2 B-B c2|A8|B8|1 d8:|2 d4 e4|]\n", target=5)
    t.feed("$")
    assert t.bars == 5
    assert "at least 4 bars" in refuses("4/4", "|:A8|1 d8:|\n", target=5)  # composing: parts of 4+ bars


def test_copy_is_independent():
    t = feed("6/8", "ABc ")
    u = t.copy()
    u.feed("d")
    assert t.elapsed == 12 and u.mode == "open" and t.mode == "free"


def test_when_composing_a_tie_joins_the_same_pitch():
    feed("6/8", "A3-A2B|", target=4)
    feed("6/8", "d3 e2f-|f3 d3|", target=4)  # across the bar line
    assert "same pitch" in refuses("6/8", "A3-B2B|", target=4)
    assert "same pitch" in refuses("6/8", "a3-a'2B|", target=4)
    assert "cannot be tied" in refuses("6/8", "A6-", target=1)
    # a tune with a pickup may end a pickup short of a full bar: no tie there either (abc2midi refuses it)
    assert "cannot be tied" in refuses("6/8", "A|B3 c2d|e3 f2-", target=2)


def test_when_composing_the_last_part_has_at_least_four_bars():
    a_part = "ABcd|dcBA|ABcd|dcBA"
    assert "last part" in refuses("2/4", a_part + "||", target=7)  # a new part of 3 bars would end the tune
    assert "last part" in refuses("2/4", a_part + ":|", target=6)
    feed("2/4", a_part + "||", target=8)  # room for a 4-bar part
    feed("2/4", a_part + "||")  # a corpus tune may do as it likes
    assert "last part" in refuses("2/4", "z|ABcd|dcBA|ABcd|dcBA|ABc||", target=7)  # a short bar ends a part too
