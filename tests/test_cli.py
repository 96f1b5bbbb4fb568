"""The `tunesmith` dispatcher and the operator commands that need no model."""

import os
import sqlite3
import subprocess
import sys

from bot.cli import COMMANDS, main


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_is_a_clear_error(capsys):
    assert main(["compse"]) == 2
    assert "unknown command 'compse'" in capsys.readouterr().err


def test_doctor_never_prints_the_token(tmp_path):
    proc = run_cli("doctor", env={"DISCORD_TOKEN": "MTIz.very-secret-token", "TUNESMITH_DATA_DIR": str(tmp_path)})
    assert "very-secret-token" not in proc.stdout + proc.stderr
    assert "DISCORD_TOKEN" in proc.stdout and "hidden" in proc.stdout


def test_doctor_reports_bad_settings(tmp_path):
    proc = run_cli("doctor", env={"TUNESMITH_WORKERS": "lots", "TUNESMITH_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 1
    assert "TUNESMITH_WORKERS" in proc.stdout


def test_health_needs_a_fresh_heartbeat(tmp_path):
    from bot.health import touch_heartbeat

    env = {"TUNESMITH_DATA_DIR": str(tmp_path)}
    assert run_cli("doctor", "--health", env=env).returncode == 1
    touch_heartbeat(tmp_path)
    proc = run_cli("doctor", "--health", env=env)
    assert proc.returncode == 0, proc.stdout
    touch_heartbeat(tmp_path, state="stopping")
    assert run_cli("doctor", "--health", env=env).returncode == 1


def test_backup_refuses_missing_db_and_existing_output(tmp_path):
    env = {"TUNESMITH_DATA_DIR": str(tmp_path / "data")}
    proc = run_cli("backup", "--out", str(tmp_path / "b.sqlite3"), env=env)
    assert proc.returncode == 1 and "nothing to back up" in proc.stderr
    (tmp_path / "data").mkdir()
    sqlite3.connect(tmp_path / "data" / "tunesmith.sqlite3").execute("CREATE TABLE t (x)").connection.commit()
    (tmp_path / "b.sqlite3").write_text("keep me")
    proc = run_cli("backup", "--out", str(tmp_path / "b.sqlite3"), env=env)
    assert proc.returncode == 1 and "--force" in proc.stderr
    assert (tmp_path / "b.sqlite3").read_text() == "keep me"
    proc = run_cli("backup", "--out", str(tmp_path / "b.sqlite3"), "--force", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "integrity ok" in proc.stdout


def test_doctor_passes_on_a_complete_installation(tmp_path):
    proc = run_cli("doctor", env={"DISCORD_TOKEN": "x" * 70, "TUNESMITH_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout
    for part in ("abc2midi", "ffmpeg", "libfluidsynth", "soundfont", "verovio", "abc model", "notes model", "data dir"):
        assert any(line.split()[:1] == ["OK"] and part in line for line in proc.stdout.splitlines()), part
    assert "all good" in proc.stdout


def test_doctor_fails_on_broken_weights(tmp_path):
    bad = tmp_path / "abc.pt"
    bad.write_bytes(b"not a checkpoint")
    proc = run_cli("doctor", env={"TUNESMITH_ABC_WEIGHTS": str(bad), "TUNESMITH_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 1
    assert "abc model" in proc.stdout and "does not load" in proc.stdout and "fix:" in proc.stdout


def test_the_cache_setting_reaches_the_trainers():
    from bot.cli.train import with_cache

    assert with_cache("notes", ["--epochs", "1"], "/c") == ["--epochs", "1", "--cache", "/c"]
    assert with_cache("notes", ["--cache", "/x"], "/c") == ["--cache", "/x"]
    assert with_cache("abc", [], "/c") == ["--run-dir", "/c/runs/abc"]
    assert with_cache("abc", ["--epochs", "2"], "") == ["--epochs", "2"]
