"""model/abc/notation.py: parsing, canonical text, keys, transposition, errors that say where."""

from fractions import Fraction

import pytest

from model.abc.data import load_corpus
from model.abc.notation import (
    LENGTHS,
    UNIT,
    AbcError,
    Key,
    abc_key,
    emit,
    length_text,
    parse_body,
    parse_key,
    parse_length,
    parse_tune,
    shift_between,
    to_canonical,
    transpose_elements,
)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def body(text: str) -> str:
    return text.split("K:", 1)[1].split("\n", 1)[1]


def test_corpus_size_and_split(corpus):
    s = corpus.stats
    assert s["kept"] >= 3000, s["dropped"]
    assert s["valid_tunes"] >= 0.04 * s["kept"]
    assert not set(corpus.train) & set(corpus.valid)
    assert {"jig", "reel", "hornpipe", "slip jig", "waltz", "march"} <= set(s["rhythms"])


def test_tokeniser_round_trip_on_every_corpus_tune(corpus):
    for text in corpus.tunes:
        b = body(text)
        assert emit(parse_body(b, UNIT, strict=True)) + "\n" == b


def test_canonical_header_and_c_tonic(corpus):
    for text in corpus.tunes[:200]:
        lines = text.split("\n")
        assert lines[0].startswith("R:") and lines[1].startswith("M:") and lines[2] == "L:1/8"
        assert lines[3] in ("K:Cmaj", "K:Cmin", "K:Cdor", "K:Cmix")


@pytest.mark.parametrize(
    "text,length",
    [
        ("", 1),
        ("2", 2),
        ("/", Fraction(1, 2)),
        ("//", Fraction(1, 4)),
        ("3/2", Fraction(3, 2)),
        ("3/", Fraction(3, 2)),
        ("/4", Fraction(1, 4)),
    ],
)
def test_lengths(text, length):
    assert parse_length(text) == length
    assert LENGTHS[length_text(length)] == length


@pytest.mark.parametrize(
    "text,name,fifths",
    [
        ("G", "Gmaj", 1),
        ("Gm", "Gmin", -2),
        ("A Dorian", "Ador", 1),
        ("D mix", "Dmix", 1),
        ("F#min", "F#min", 3),
        ("Bb", "Bbmaj", -2),
        ("G#maj", "Abmaj", -4),
        ("Ebmix", "Ebmix", -4),
    ],
)
def test_keys(text, name, fifths):
    key = parse_key(text)
    assert key.name == name and key.fifths == fifths


def test_unsupported_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="lydian|mode"):
        abc_key("F lydian")


def test_transposition_respells_accidentals():
    # G major -> C major: F natural (the flat seventh) must become B flat, F# (in the key) stays plain.
    els = parse_body("=F F G2|", UNIT)
    steps, semis = shift_between(Key("G", "maj"), Key("C", "maj"))
    assert (steps, semis) == (3, 5)
    assert emit(transpose_elements(els, steps, semis)) == "_B B c2|"
    # and back again
    back = transpose_elements(transpose_elements(els, steps, semis), *shift_between(Key("C", "maj"), Key("G", "maj")))
    assert emit(back) == "=F F G2|"


def test_transpose_to_every_key_and_back(corpus):
    text = next(t for t in corpus.tunes if "^" in t and "K:Cmaj" in t)
    els = parse_body(body(text), UNIT)
    for tonic in ["C", "C#", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]:
        key = Key(tonic, "maj").respelled()
        there = transpose_elements(els, *shift_between(Key("C", "maj"), key))
        again = transpose_elements(there, *shift_between(key, Key("C", "maj")))
        assert emit(again) == emit(els)


def test_normalising_rescales_unit_and_drops_decorations():
    tune = parse_tune('X:1\nT:t\nM:2/4\nL:1/16\nK:D\n"D"d2 (ef) !trill!g4|~a4 .b2{c}d2|]\n')
    assert to_canonical(tune) == "R:march\nM:2/4\nL:1/8\nK:Cmaj\nc d/e/ f2|~g2 a{B}c|]\n"


def test_repeats_and_endings_are_canonical():
    tune = parse_tune("X:1\nM:6/8\nL:1/8\nR:jig\nK:G\n|:GAB cde|[1 dBG A3:|[2 dBG G3|]\n")
    assert body(to_canonical(tune)) == "|:cde fga|1 gec d3:|2 gec c3|]\n"


@pytest.mark.parametrize(
    "text,where",
    [
        ("X:1\nM:6/8\nK:D\nABc [DF\n", "line 4, column 5"),
        ("X:1\nM:6/8\nK:D\nABc\nde^ |\n", "line 5, column 3"),
        ('X:1\nM:6/8\nK:D\nA"Am B|\n', "line 4, column 2"),
        ("X:1\nM:6/8\nK:D\nABc @d|\n", "line 4, column 5"),
    ],
)
def test_user_abc_errors_say_where(text, where):
    with pytest.raises(AbcError, match=where):
        parse_tune(text, strict=True)


def test_user_abc_without_key_line():
    with pytest.raises(AbcError, match="K:"):
        parse_tune("X:1\nM:6/8\nABc|", strict=True)
