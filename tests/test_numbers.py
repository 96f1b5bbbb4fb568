"""Number options take the ASCII digits 0-9 only (Python's int() also reads "٣٢", "３２", "1_000"),
everywhere a person types one: chat text, CLI flags, settings. The message says what to write."""

from __future__ import annotations

import pytest

from bot import cli, numbers
from bot.config import ConfigError, load_settings
from bot.requests import RequestError, from_options, parse_text

ARABIC_32 = "\u0663\u0662"  # ٣٢
FULL_WIDTH_32 = "\uff13\uff12"  # ３２


@pytest.mark.parametrize(
    "text,kind,value",
    [
        ("32", int, 32),
        (" +32 ", int, 32),
        ("-1", int, -1),
        ("0.5", float, 0.5),
        (".5", float, 0.5),
        ("2", float, 2.0),
    ],
)
def test_plain_numbers_are_read(text, kind, value):
    assert numbers.parse(text, kind) == value


@pytest.mark.parametrize(
    "text,kind,says",
    [
        (ARABIC_32, int, "not a whole number written with the digits 0-9"),
        (FULL_WIDTH_32, int, "not a whole number written with the digits 0-9"),
        ("\u0660.\u0665", float, "not a number written with the digits 0-9"),
        ("1_000", int, "not a whole number"),
        ("1e3", float, "not a number"),
        ("", int, "not a whole number"),
        ("32.0", int, "not a whole number"),
        ("inf", float, "not a number"),
    ],
)
def test_anything_else_is_refused_with_a_reason(text, kind, says):
    assert int(ARABIC_32) == 32  # what Python alone would have accepted
    with pytest.raises(ValueError, match=says):
        numbers.parse(text, kind)


@pytest.mark.parametrize(
    "text,message",
    [
        (
            f"compose style:jig length:{ARABIC_32}",
            f"length '{ARABIC_32}' is not a whole number written with the digits 0-9; use 4 to 128",
        ),
        (
            f"compose reel tempo:{FULL_WIDTH_32}0",
            "tempo '３２0' is not a whole number written with the digits 0-9; use 40 to 240",
        ),
        ("compose jig temperature:\u0660.\u0665", "temperature '٠.٥' is not a number written with the digits 0-9"),
        ("compose jig seed:1_000", "seed '1_000' is not a whole number; use 0 to"),
    ],
)
def test_chat_form_refuses_other_digits(text, message):
    with pytest.raises(RequestError) as info:
        parse_text(text)
    assert message in str(info.value)


def test_options_from_discord_and_stored_json_still_take_numbers():
    assert from_options(style="jig", length=32, tempo=100, temperature=0.5, seed=7).length == 32
    assert from_options(style="jig", length="32", temperature="0.5").temperature == 0.5


def test_compose_command_refuses_other_digits(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["compose", "--length", ARABIC_32, "--out", str(out)]) == 1
    assert "length '٣٢' is not a whole number written with the digits 0-9" in capsys.readouterr().err
    assert not out.exists()


def test_render_command_refuses_other_digits(tmp_path, capsys):
    out = tmp_path / "out"
    tune = tmp_path / "t.abc"
    tune.write_text("X:1\nK:D\nABcd|\n")
    assert cli.main(["render", str(tune), "--out", str(out), "--tempo", ARABIC_32]) == 1
    assert capsys.readouterr().err == (
        "tunesmith render: argument --tempo: '٣٢' is not a whole number written with the digits 0-9\n"
    )
    assert not out.exists()


@pytest.mark.parametrize("name,raw", [("TUNESMITH_WORKERS", "\u0662"), ("TUNESMITH_JOB_TIMEOUT", FULL_WIDTH_32)])
def test_settings_refuse_other_digits(name, raw):
    with pytest.raises(
        ConfigError,
        match=f"{name}\\) = '{raw}' is not a whole number written with the digits 0-9"
        if name == "TUNESMITH_WORKERS"
        else "is not a number written with the digits 0-9",
    ):
        load_settings({name: raw, "TUNESMITH_CONFIG": ""})
