"""The request parser: text form, typed options, keys, and only RequestError for bad input."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.requests import ComposeRequest, RequestError, describe, from_options, guess_style_from_abc, parse_text
from bot.styles import STYLES
from model.keys import parse_key


@pytest.mark.parametrize(
    "typed, canonical",
    [
        ("D", "Dmaj"),
        ("d major", "Dmaj"),
        ("Dmaj", "Dmaj"),
        ("K:D", "Dmaj"),
        ("G Ionian", "Gmaj"),
        ("Em", "Emin"),
        ("e minor", "Emin"),
        ("Eaeolian", "Emin"),
        ("F#m", "F#min"),
        ("f♯ minor", "F#min"),
        ("Ador", "Ador"),
        ("A dorian", "Ador"),
        ("Bbmix", "Bbmix"),
        ("Bb mixolydian", "Bbmix"),
        ("bb", "Bbmaj"),
        ("bm", "Bmin"),
        ("Bbm", "Bbmin"),
        ("E phrygian", "Ephr"),
        ("C#loc", "C#loc"),
        ("F lydian", "Flyd"),
        ("Eb", "Ebmaj"),
        ("B flat minor", "Bbmin"),
    ],
)
def test_keys_are_normalised(typed, canonical):
    assert parse_key(typed).name == canonical


@pytest.mark.parametrize("bad", ["H", "", "Dblues", "#D", "D##", "x" * 100])
def test_bad_keys_say_what_is_allowed(bad):
    with pytest.raises(ValueError, match="key"):
        parse_key(bad)


def test_the_text_form_with_aliases_and_case():
    r = parse_text("compose style:Jig length:64 key:G tempo:110")
    assert r == ComposeRequest(style="jig", length=64, key="Gmaj", tempo=110)
    r = parse_text("!compose STYLE=slip jig Bars:16 key: A dorian inst:whistle temp:1.2 seed:7 chords:no")
    assert (r.style, r.length, r.key, r.instrument, r.temperature, r.seed, r.accompaniment) == (
        "slip jig",
        16,
        "Ador",
        "tin whistle",
        1.2,
        7,
        False,
    )
    assert parse_text("compose reel 48 key:F#m") == ComposeRequest(style="reel", length=48, key="F#min")
    assert parse_text("compose") == ComposeRequest(style="jig", length=32)
    assert parse_text("hornpipe bpm:90 meter:2/4").meter == "2/4"
    assert parse_text("reel meter:C|").meter == "2/2"


def test_typed_options_match_the_text_form_and_round_trip():
    r = from_options(style="polka", length=24, key="Dmix", tempo=120, temperature=0.7, seed=3, instrument="Piano")
    assert r == parse_text(describe(r))
    assert from_options(**r.to_dict()) == r
    assert from_options(style="reel", length=None, key=None) == ComposeRequest(style="reel", length=32)


@pytest.mark.parametrize(
    "text, words",
    [
        ("compose style:jg", ["style 'jg'", "did you mean jig", "reel"]),
        ("compose length:500", ["length 500", "4 to 128"]),
        ("compose length:3", ["length 3", "4 to 128"]),
        ("compose length:ten", ["length 'ten'", "whole number"]),
        ("compose tempo:20", ["tempo 20", "40 to 240"]),
        ("compose temperature:nan", ["temperature 'nan'", "0.1 to 2.0"]),
        ("compose temperature:5", ["temperature 5", "0.1 to 2.0"]),
        ("compose key:H", ["key 'H'"]),
        ("compose colour:blue", ["option 'colour' is not known", "style"]),
        ("compose key:D key:G", ["'key' is given twice"]),
        ("compose key:", ["'key' has no value"]),
        ("compose instrument:kazoo", ["instrument 'kazoo'", "fiddle"]),
        ("compose meter:5/4", ["meter '5/4'", "6/8"]),
        ("compose key:E phrygian", ["key 'E phrygian'", "dorian"]),
        ("compose seed:-1", ["seed -1"]),
        ("compose length:12.5", ["length '12.5'", "whole number"]),
    ],
)
def test_rejections_name_the_option_the_value_and_what_is_allowed(text, words):
    with pytest.raises(RequestError) as err:
        parse_text(text)
    for word in words:
        assert word in str(err.value)


def test_continue_abc_is_checked_and_only_for_abc_styles():
    abc = "X:1\nM:6/8\nL:1/8\nK:D\nDFA dfa|"
    assert from_options(style="jig", continue_abc=abc).continue_abc == abc
    assert from_options(style="jig", continue_abc=abc[:-1] + " |]\n").continue_abc == abc  # a finished tune goes on
    with pytest.raises(RequestError, match="no K:"):
        from_options(style="jig", continue_abc="DFA dfa|")
    with pytest.raises(RequestError, match="limit"):
        from_options(style="jig", continue_abc="K:D\n" + "a" * 9000)
    with pytest.raises(RequestError, match="control characters"):
        from_options(style="jig", continue_abc="K:D\n\x00abc")
    with pytest.raises(RequestError, match="continue_abc"):
        parse_text("compose continue_abc:K:D")  # only typed options may carry a whole tune
    notes_styles = [s.name for s in STYLES.values() if s.model == "notes"]
    for name in notes_styles:
        with pytest.raises(RequestError, match="cannot continue"):
            from_options(style=name, continue_abc=abc)


def test_requests_are_frozen():
    r = parse_text("compose jig")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.length = 5


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_request_or_a_request_error(text):
    try:
        r = parse_text(text)
    except RequestError as exc:
        assert str(exc)
    else:
        assert r.style in STYLES and 4 <= r.length <= 128


_option_names = st.sampled_from(
    [
        "style",
        "length",
        "bars",
        "key",
        "tempo",
        "bpm",
        "temperature",
        "temp",
        "seed",
        "instrument",
        "meter",
        "chords",
        "colour",
        "continue_abc",
    ]
)
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.sampled_from(["jig", "reel", "D", "Ador", "6/8", "fiddle", "1e400"]),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_option_names, _values, max_size=6))
def test_any_typed_options_give_a_request_or_a_request_error(options):
    try:
        r = from_options(**options)
    except RequestError as exc:
        assert str(exc)
    else:
        assert r.style in STYLES and 4 <= r.length <= 128 and 0.1 <= r.temperature <= 2.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_option_names, st.text(max_size=20)), max_size=5))
def test_any_option_text_gives_a_request_or_a_request_error(pairs):
    text = "compose " + " ".join(f"{name}:{value}" for name, value in pairs)
    try:
        parse_text(text)
    except RequestError as exc:
        assert str(exc)


def test_form_is_an_option_everywhere_and_round_trips():
    request = from_options(style="reel", length=32, form="aabb")
    assert request.form == "AABB"
    assert parse_text("compose reel 32 form:ABAC").form == "ABAC"
    assert parse_text(describe(request)) == request
    assert from_options(**request.to_dict()) == request
    assert from_options(style="jig").form is None
    with pytest.raises(RequestError, match="form"):
        from_options(style="jig", form="BA")
    with pytest.raises(RequestError, match="no form option"):
        from_options(style="chorale", form="AABB")


def test_only_honoured_lengths_the_same_rule_for_every_front_end():
    import numpy as np

    from bot.requests import honoured_lengths, length_choices
    from model.abc.form import make_plan

    for name, style in STYLES.items():
        for form in (None, "AABB", "AB", "AABBCC"):
            for n in honoured_lengths(name, form) if style.model == "abc" else ():
                assert make_plan(style.rhythm, form, n, np.random.default_rng(3)).played == n, (name, form, n)
    assert honoured_lengths("chorale") == tuple(range(4, 129))  # the note model composes any length
    moved = parse_text("compose jig 34")  # the chat form, as from_options for Discord and the CLI
    assert moved.length == 32 and "so this one has 32 bars instead of 34" in moved.note
    assert from_options(style="reel", length=128).length == 96 and from_options(style="reel", length=4).length == 8
    assert from_options(style="reel", length=32).note is None and "note" not in moved.to_dict()
    assert from_options(style="reel", length=64, form="AB").length == 32
    assert from_options(style="reel", length=20, continue_abc="X:1\nK:D\nDEF|").length == 20  # kept exactly
    # the lengths of the training tunes (a 12-bar reel: AAB of 4 + 4 bars) and of their usual forms
    assert [n for n, _ in length_choices()] == [8, 12, 16, 20, 24, 28, 32, 40, 48, 64, 80, 96]
    assert dict(length_choices())[12] == "12 bars: jig, reel, chorale only"


def test_abc_pasted_on_one_line_gets_its_header_lines_back():
    r = from_options(style="jig", continue_abc="X:1 T:The Kesh M:6/8 L:1/8 K:G GAG GAB|ABA ABd|")
    assert r.continue_abc == "X:1\nT:The Kesh\nM:6/8\nL:1/8\nK:G\nGAG GAB|ABA ABd|"
    assert guess_style_from_abc("X:1 M:9/8 K:D DFA DFA DFA|") == "slip jig"
    with pytest.raises(RequestError, match="no K:"):
        from_options(style="jig", continue_abc="GAG GAB|ABA ABd|")
