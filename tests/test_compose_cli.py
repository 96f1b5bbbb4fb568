"""`tunesmith compose` as a user runs it: a real subprocess, the real model and renderer."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def compose(*args, cwd=None):
    # CI=true: pyfluidsynth then prints to stdout on import; --json output must stay clean anyway
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "compose", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "CI": "true"},
    )


def test_compose_writes_the_files_and_json(tmp_path):
    out = tmp_path / "out"
    done = compose(
        "--style",
        "reel",
        "--length",
        "8",
        "--key",
        "Em",
        "--seed",
        "5",
        "--tempo",
        "90",
        "--instrument",
        "flute",
        "--out",
        str(out),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert sorted(result["files"]) == ["tune.abc", "tune.mid", "tune.mp3", "tune.png"]
    for path in result["files"].values():
        assert (out / path.rsplit("/", 1)[1]).stat().st_size > 100
    assert result["seed"] == 5 and result["model_version"]
    assert result["request"]["key"] == "Emin" and result["request"]["instrument"] == "flute"
    abc = (out / "tune.abc").read_text()
    assert "K:Em" in abc and "M:4/4" in abc

    # --continue that tune: the first bars are kept, and the tune gets longer
    longer = compose(
        "--style",
        "reel",
        "--length",
        "12",
        "--seed",
        "6",
        "--continue",
        str(out / "tune.abc"),
        "--out",
        str(tmp_path / "more"),
        "--json",
    )
    assert longer.returncode == 0, longer.stderr
    body = abc.split("K:", 1)[1].split("\n", 1)[1].strip()
    first_line = next(line for line in body.splitlines() if not line.startswith("%"))  # the whitelist drops
    first_bars = first_line.rsplit("|", 1)[0]  # (a closing |] becomes || when the tune goes on)
    assert first_bars in (tmp_path / "more" / "tune.abc").read_text()  # comments (the old seed's line) only


def test_form_and_a_length_that_does_not_fit_are_said_in_the_json(tmp_path):
    done = compose(
        "--style", "jig", "--form", "AABB", "--length", "44", "--seed", "3", "--out", str(tmp_path), "--json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    meta = result["meta"]  # moved to the nearest length a jig in AABB is composed at, and said so
    assert result["request"]["form"] == meta["form"] == "AABB" and meta["bars"] in (40, 48)
    assert "44" in result["note"] and str(meta["bars"]) in result["note"] and meta["bars_written"] * 2 == meta["bars"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--length", "500"], "length 500 is out of range; use 4 to 128"),
        (["--key", "H"], "key 'H'"),
        (["--style", "jg"], "did you mean jig"),
        (["--temperature", "hot"], "temperature 'hot' is not a number"),
        (["--continue", "/nonexistent/tune.abc"], "--continue /nonexistent/tune.abc: no such file"),
        (["--form", "AXB"], "form must be part letters"),
        (["--style", "chorale", "--form", "AABB"], "no form option"),
    ],
)
def test_bad_options_exit_1_with_a_clear_message_and_write_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    done = compose(*args, "--out", str(out))
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()
