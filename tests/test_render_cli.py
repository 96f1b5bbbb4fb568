"""`tunesmith render`: files written, one JSON object with --json, exit 1 and a clear message on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import pytest

from bot import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "bot" / "examples"


def test_render_writes_midi_mp3_and_png_and_reports_json(tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(
        [
            "render",
            str(EXAMPLES / "smiths_jig.abc"),
            "--out",
            str(out),
            "--instrument",
            "flute",
            "--tempo",
            "100",
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["instrument"] == "flute" and report["tempo"] == 100 and report["beat"] == "3/8"
    assert report["bars"] == 32 and report["duration_s"] == pytest.approx(
        38.4 + 1.55, abs=1.55
    )  # 32 bars x 2 beats at 100, + tail
    assert {Path(report[k]).name for k in ("midi", "mp3", "png")} == {"tune.mid", "tune.mp3", "tune.png"}
    assert mido.MidiFile(report["midi"]).length == pytest.approx(38.4, abs=0.1)
    assert Path(report["png"]).read_bytes()[:4] == b"\x89PNG"
    assert Path(report["mp3"]).stat().st_size > 100_000


def test_no_accompaniment_and_no_sheet(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "tune.png").write_bytes(b"an older tune's picture")
    code = cli.main(
        [
            "render",
            str(EXAMPLES / "forge_waltz.abc"),
            "--out",
            str(out),
            "--no-accompaniment",
            "--no-sheet",
            "--max-seconds",
            "4",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["tune.mid", "tune.mp3"]
    channels = {m.channel for t in mido.MidiFile(out / "tune.mid").tracks for m in t if m.type == "note_on"}
    assert len(channels) == 1
    assert "tunesmith render" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "args,message",
    [
        (["--tempo", "0"], "tempo 0 is out of range"),
        (["--tempo", "fast"], "argument --tempo: 'fast' is not a whole number"),
        (["--instrument", "kazoo"], "instrument 'kazoo' is not known"),
        (["--bitrate", "100"], "argument --bitrate: invalid choice: 100"),
        (["--beat", "slow"], "beat 'slow' is not a note length"),
        (["--soundfont", "/nonexistent/x.sf2"], "soundfont /nonexistent/x.sf2"),
    ],
)
def test_bad_options_exit_1_with_a_message_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert cli.main(["render", str(EXAMPLES / "anvil_reel.abc"), "--out", str(out), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tunesmith render: ") and message in err
    assert not out.exists()


def test_bad_files_exit_1_with_a_message(tmp_path, capsys):
    big = tmp_path / "big.abc"
    big.write_bytes(b"X:1\nK:C\n" + b"C" * 10_000_000)
    empty = tmp_path / "empty.abc"
    empty.write_text("")
    for name, message in (
        (tmp_path / "missing.abc", "no such file"),
        (big, "one tune must be under"),
        (empty, "the ABC text is empty"),
    ):
        assert cli.main(["render", str(name), "--out", str(tmp_path / "out")]) == 1
        assert message in capsys.readouterr().err
    assert cli.main(["render", str(EXAMPLES / "anvil_reel.abc")]) == 1  # --out is required
    assert "--out" in capsys.readouterr().err


def test_ogg_on_request_is_the_same_audio(tmp_path, capsys):
    from pydub import AudioSegment

    out = tmp_path / "out"
    assert cli.main(["render", str(EXAMPLES / "forge_waltz.abc"), "--out", str(out), "--no-sheet", "--json"]) == 0
    assert "ogg" not in json.loads(capsys.readouterr().out) and not (out / "tune.ogg").exists()
    assert (
        cli.main(["render", str(EXAMPLES / "forge_waltz.abc"), "--out", str(out), "--no-sheet", "--ogg", "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    ogg = AudioSegment.from_file(report["ogg"], format="ogg")
    mp3 = AudioSegment.from_file(report["mp3"], format="mp3")
    assert Path(report["ogg"]).read_bytes()[:4] == b"OggS"
    assert ogg.duration_seconds == pytest.approx(mp3.duration_seconds, abs=0.1)
    assert ogg.dBFS == pytest.approx(mp3.dBFS, abs=1.0) and ogg.dBFS > -30  # same loudness, not silent
