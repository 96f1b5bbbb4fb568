"""Generated titles: learned grammar, novelty, style words, determinism, chorale titles."""

from __future__ import annotations

import re

import pytest

from model.abc import titles
from model.abc.titles import (
    STYLE_WORDS,
    fiddle_title,
    load_grammar,
    normalise,
    title_key,
)
from model.notes.titles import chorale_title


@pytest.fixture(scope="module")
def grammar():
    return load_grammar()


def test_normalise_corpus_titles():
    assert normalise("DIAMOND -- REEL.") == "Diamond"
    assert normalise("Night Cap, The") == "The Night Cap"
    assert normalise("Lord Alexr. Gordon's Reel.") == "Lord Alexr. Gordon's"
    assert normalise("LANIGAN'S BALL -- JIG") == "Lanigan's Ball"
    assert title_key("The Night Cap") == title_key("NIGHT CAP, THE -- JIG") == "nightcap"


def test_learn_builds_shapes_and_pools_from_titles():
    g = titles.learn(
        ["The Humours of Glynn", "Miss Dooley's Fancy", "Dooley's -- Reel", "The Rambling Rake", "Paddy Whack"]
    )
    assert g["shapes"] == {"humours": 1, "possessive": 2, "adj_noun": 1}
    assert g["pools"]["place"] == {"Glynn": 1}
    assert g["pools"]["name"] == {"Dooley": 2}
    assert g["pools"]["thing"] == {"Fancy": 1, "": 1}
    assert "paddywhack" in g["corpus_keys"]


def test_blocklisted_words_never_enter_the_pools():
    g = titles.learn(["Old Zip Coon's", "The Darkey Dance", "The Rambling Rake"])
    words = {w.lower() for pool in g["pools"].values() for w in pool}
    assert not words & titles.BLOCKLIST
    assert not titles.is_allowed("The Coon Hunt", frozenset())


def test_same_seed_same_title_and_different_seeds_differ():
    assert fiddle_title("jig", 42) == fiddle_title("jig", 42)
    assert len({fiddle_title("jig", s) for s in range(50)}) >= 48


@pytest.mark.parametrize("style", sorted(STYLE_WORDS))
def test_style_word_is_always_the_tunes_own(style, grammar):
    own = STYLE_WORDS[style].lower()
    others = {w.lower() for s, w in STYLE_WORDS.items() if s != style} - set(own.split())
    kinds = titles._KIND_WORDS - set(own.split()) - ({"planxty"} if style in ("jig", "slip jig", "waltz") else set())
    with_word = 0
    for seed in range(200):
        words = set(re.findall(r"[a-z]+", fiddle_title(style, seed, grammar).lower()))
        assert not words & (others | kinds), (style, seed)
        with_word += own.split()[-1] in words
    assert with_word > 10  # some titles do carry the style word


def test_no_corpus_title_in_many_generated(grammar):
    generated = [fiddle_title(style, seed, grammar) for style in ("jig", "reel", "polka") for seed in range(300)]
    assert not [t for t in generated if title_key(t) in grammar["corpus_keys"]]
    assert len(set(generated)) >= 0.95 * len(generated)


def test_chorale_titles_are_hymn_lines_not_copies(grammar):
    chorale = grammar["chorale"]
    made = [chorale_title(seed, chorale) for seed in range(100)]
    assert made[7] == chorale_title(7, chorale)
    known = {re.sub(r"\W", "", line.lower()) for line in chorale["lines"]}
    assert not [t for t in made if re.sub(r"\W", "", t.lower()) in known]
    assert all(3 <= len(t.split()) <= 7 and t[0].isupper() for t in made)
    assert len(set(made)) >= 85
