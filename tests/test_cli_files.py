"""Paths on the command line (`compose --out/--continue`, `render TUNE --out`) are checked before any
work: a clear message, exit 1, nothing written, no model loaded; inputs are regular files read with a
bound (never /dev/zero until memory runs out, never a FIFO that blocks forever)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import cli
from bot.cli.files import FileArgError, check_out_dir, read_input

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "bot" / "examples"
READ_ONLY = Path("/sys")  # sysfs: even root cannot make a directory there


def run_cli(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The command in a fresh interpreter, which prints whether the models (torch) were loaded."""
    code = (
        "import sys; from bot import cli; rc = cli.main(sys.argv[1:]); "
        "print('torch loaded' if 'torch' in sys.modules else 'no torch'); sys.exit(rc)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # cwd is elsewhere: `--out ''` must not write there
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env=env,
    )


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a directory")
    return path


def bad_outs(tmp_path: Path, a_file: Path) -> list[tuple[str, str]]:
    cases = [
        ("", "--out is empty; name a directory"),
        (str(a_file), f"--out {a_file} is a file, not a directory"),
        (str(a_file / "out"), f"--out {a_file}/out: {a_file} is a file, not a directory"),
        (str(a_file / "x" / "y"), f"--out {a_file}/x/y: {a_file} is a file, not a directory"),
    ]
    if refuses_new_dirs(READ_ONLY):
        cases.append(
            (str(READ_ONLY / "tunesmith-out"), f"--out {READ_ONLY}/tunesmith-out: cannot write in {READ_ONLY}")
        )
    return cases


def refuses_new_dirs(path: Path) -> bool:
    """True when `path` really refuses a new directory on this machine, even to root (the case the
    unwritable-path tests need)."""
    try:
        (path / "tunesmith-probe").mkdir()
    except OSError:
        return True
    os.rmdir(path / "tunesmith-probe")
    return False


def test_compose_checks_out_before_composing(tmp_path, a_file):
    for out, message in bad_outs(tmp_path, a_file):
        done = run_cli("compose", "--style", "reel", "--length", "8", "--out", out, cwd=tmp_path)
        assert done.returncode == 1, (out, done.stderr)
        assert done.stderr.startswith("tunesmith compose: ") and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        assert done.stdout == "no torch\n"  # refused before the model was even loaded
    assert a_file.read_text() == "not a directory" and sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_an_unwritable_out_is_refused_even_for_root(tmp_path):
    if not refuses_new_dirs(READ_ONLY):
        pytest.skip(f"{READ_ONLY} takes new directories on this machine")
    with pytest.raises(FileArgError, match=f"cannot write in {READ_ONLY}"):
        check_out_dir(str(READ_ONLY / "tunesmith-out" / "deeper"))


def test_render_checks_out_before_rendering(tmp_path, a_file, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `--out ''` used to write here
    for out, message in bad_outs(tmp_path, a_file):
        assert cli.main(["render", str(EXAMPLES / "smiths_jig.abc"), "--out", out]) == 1
        err = capsys.readouterr().err
        assert err.startswith("tunesmith render: ") and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_check_out_dir_creates_nothing_and_accepts_new_nested_dirs(tmp_path):
    target = tmp_path / "new" / "deeper"
    assert check_out_dir(str(target)) == target
    assert list(tmp_path.iterdir()) == []  # the probe left nothing behind


@pytest.fixture
def special_inputs(tmp_path) -> list[tuple[str, str]]:
    fifo = tmp_path / "tune.fifo"
    os.mkfifo(fifo)
    return [
        ("", "is empty; name an ABC file"),
        ("/dev/zero", "/dev/zero is a device, not a regular file"),
        (str(fifo), f"{fifo} is a FIFO (named pipe), not a regular file"),
        (str(tmp_path), f"{tmp_path} is a directory, not a regular file"),
        (str(tmp_path / "missing.abc"), "missing.abc: no such file"),
    ]


def test_compose_continue_takes_regular_files_only(tmp_path, special_inputs):
    out = tmp_path / "out"
    for name, message in special_inputs:
        done = run_cli("compose", "--style", "reel", "--continue", name, "--out", str(out))
        assert done.returncode == 1, (name, done.stderr)
        assert done.stderr.startswith("tunesmith compose: --continue ") and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        assert done.stdout == "no torch\n"
    assert not out.exists()


def test_render_takes_regular_files_only(tmp_path, special_inputs, capsys):
    out = tmp_path / "out"
    for name, message in special_inputs:
        assert cli.main(["render", name, "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("tunesmith render: the tune file") and message in err, err
    assert not out.exists()


def test_reads_are_bounded(tmp_path):
    big = tmp_path / "big.abc"
    big.write_bytes(b"X:1\nK:D\n" + b"A" * 40_000)
    with pytest.raises(FileArgError, match="big.abc is over 32,000 bytes; one tune must be under that size"):
        read_input(str(big), "--continue", 32_000)
    assert read_input(str(big), "--continue", 50_000).startswith(b"X:1")
    done = run_cli("compose", "--style", "reel", "--continue", str(big), "--out", str(tmp_path / "out"))
    assert done.returncode == 1 and "over 32,000 bytes" in done.stderr and done.stdout == "no torch\n"


def test_continue_must_be_utf8(tmp_path):
    latin = tmp_path / "latin.abc"
    latin.write_bytes("X:1\nT:Caf\xe9\nM:4/4\nK:D\nABcd|\n".encode("latin-1"))
    done = run_cli("compose", "--style", "reel", "--continue", str(latin), "--out", str(tmp_path / "out"))
    assert done.returncode == 1 and f"--continue {latin} is not UTF-8 text" in done.stderr


@pytest.mark.parametrize("meter", ["0/4", "4/0", "0/0"])
def test_compose_continue_with_a_zero_meter_says_so(tmp_path, capsys, meter):
    tune = tmp_path / "zero.abc"
    tune.write_text(f"X:1\nM:{meter}\nK:D\nABcd|efga|\n")
    out = tmp_path / "out"
    assert cli.main(["compose", "--style", "reel", "--length", "8", "--continue", str(tune), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tunesmith compose: ") and meter in err and "Traceback" not in err, err
    assert not out.exists()
