"""No tune can make a renderer tool read a file (issue 21), and the tools' environment holds no secret.

tests/fuzz_include.py spells include and file-reading directives every way we know, in the header and
the body, at a canary file and at /proc/self/environ. Each attack goes through the real paths with the
real tools (abc2midi, FluidSynth, verovio, the ABC model): render (Renderer.render_abc, what
`tunesmith render` and every post use), re-render (worker.rerender: a stored tune), continue (the request
parser that the CLI's --continue, Discord's /continue and the Continue button share, then worker.compose),
and the CLI commands. No byte of the canary may reach the MIDI, the audio length, the sheet, an error or
the log. A control shows the check would see a read: without the whitelist abc2midi reads the canary.
"""

from __future__ import annotations

import io
import logging
import os
import re
from pathlib import Path

import mido
import pytest

from bot import cli, worker
from bot.render import abc2midi, child_env
from bot.render.abc2midi import read_abc_text
from bot.render.renderer import Renderer
from bot.render.sanitize import AbcFieldError, clean_abc
from bot.requests import RequestError, from_options
from tests.fuzz_include import (
    CANARY_MARK,
    CANARY_PITCH,
    CANARY_PROGRAM,
    CANARY_TEXT,
    DIRECTIVES,
    ENVIRON,
    LINE_SPELLINGS,
    attacks,
    carrier,
)

SECRET_TOKEN = "tok3n-SECRET-do-not-leak"
SECRET_BROKER = "redis://:pa55-SECRET@10.9.8.7:6379/0"
SECRETS = (SECRET_TOKEN, "pa55-SECRET", CANARY_MARK)
RENDER_SHEET_EVERY = 4  # the sheet (verovio, ~0.2 s a drawing) for every 4th attack through render
REST_EVERY = 5  # re-render and the whole continue job (with its sheet) for every 5th attack


@pytest.fixture(scope="module")
def canary(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("canary") / "canary.abc"
    path.write_text(CANARY_TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module", autouse=True)
def secrets_in_the_environment():
    """The worker's environment holds the bot's secrets, as in production."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DISCORD_TOKEN", SECRET_TOKEN)
        mp.setenv("TUNESMITH_BROKER_URL", SECRET_BROKER)
        yield


@pytest.fixture(scope="module")
def renderer():
    with Renderer() as r:
        yield r


@pytest.fixture(scope="module")
def cases(canary):
    return attacks(canary)


@pytest.fixture(scope="module")
def baseline(renderer):
    """The carrier tune without any attack: its MIDI notes, audio length and sheet."""
    result = renderer.render_abc(carrier(), instrument="fiddle", sheet=True)
    return result, melody_notes(result.midi), png_size(result.png)


def midi_events(midi: bytes) -> list:
    return [m for track in mido.MidiFile(file=io.BytesIO(midi)).tracks for m in track]


def melody_notes(midi: bytes) -> list[int]:
    return [m.note for m in midi_events(midi) if m.type == "note_on" and m.velocity and m.channel == 0]


def png_size(png: bytes | None) -> tuple[int, int] | None:
    if not png:
        return None
    from PIL import Image

    return Image.open(io.BytesIO(png)).size


def canary_in_midi(midi: bytes) -> list[str]:
    """What of the canary the MIDI holds: its pitch, its program, its marker text."""
    found = []
    events = midi_events(midi)
    if any(m.type == "note_on" and m.note == CANARY_PITCH for m in events):
        found.append("the canary's pitch")
    if any(m.type == "program_change" and m.program == CANARY_PROGRAM for m in events):
        found.append("the canary's program")
    found += [f"the text {s!r}" for s in SECRETS if s.encode() in midi]
    return found


def leaked(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def check_render(name: str, result, baseline) -> list[str]:
    """What is wrong with one attack's rendering: anything of the canary, or more music than the carrier
    and the few notes some spellings put before the directive (the canary adds 40 bars)."""
    base = baseline[0]
    problems = canary_in_midi(result.midi)
    if result.duration_s > base.duration_s + 4.5 or result.bars > base.bars + 2:
        problems.append(f"{result.duration_s} s / {result.bars} bars; the carrier {base.duration_s} s / {base.bars}")
    if result.png is not None and len(result.pages) != len(base.pages):
        problems.append(f"the sheet has {len(result.pages)} pages, not {len(base.pages)}")
    problems += [f"warning leaks {leaked(w)}" for w in result.warnings if leaked(w)]
    return [f"{name}: {p}" for p in problems]


def tool_input(text: str) -> tuple[str, ...]:
    """What abc2midi and verovio are given for a tune (or the error that stops them being run)."""
    try:
        prepared = abc2midi.prepare_abc(text, program=40)
    except ValueError as exc:
        return ("error", str(exc))
    return prepared.playable, prepared.tune


# ---- the corpus and the whitelist itself -------------------------------------------------------------


def test_the_corpus_spells_include_in_at_least_60_ways(cases):
    spellings = {(s, d) for s in LINE_SPELLINGS for d in DIRECTIVES}
    assert len(spellings) >= 60 and len(cases) >= 2 * len(spellings)
    texts = [c.text for c in cases]
    assert any("\r\n" in t for t in texts) and any("\u2028" in t for t in texts) and any("[I:" in t for t in texts)
    assert sum(c.target == ENVIRON for c in cases) >= 10


def test_without_the_whitelist_abc2midi_reads_the_canary(cases):
    """The control: the check sees a read. Fed to abc2midi as written, `% %abc-include` (the issue's
    spelling) puts the canary's notes and program into the MIDI."""
    attack = next(c for c in cases if c.name.startswith("body/1:") and "abc-include" in c.name)
    assert "% %abc-include" in attack.text
    made = abc2midi.abc_to_midi(attack.text)  # no prepare_abc: no whitelist
    assert {"the canary's pitch", "the canary's program"} <= set(canary_in_midi(made.midi))


def test_the_whitelisted_text_names_no_file_and_is_stable(cases):
    for case in cases:
        try:
            clean = clean_abc(read_abc_text(case.text))
        except AbcFieldError as exc:
            assert not leaked(str(exc)), case.name
            continue
        lowered = clean.lower()
        assert "%" not in clean and case.target not in clean, case.name
        assert "include" not in lowered and "ptstress" not in lowered, case.name
        assert clean_abc(clean) == clean, case.name  # a second pass changes nothing


def test_the_tools_read_the_same_text_as_without_the_directive(cases):
    """The strongest form of "nothing of the directive reaches a tool": with its words (the path)
    left out, abc2midi and verovio are given the very same text, so they cannot act on it."""
    different = [c.name for c in cases if tool_input(c.text) != tool_input(c.plain)]
    assert not different, different[:10]


def test_what_the_whitelist_keeps_plays_as_before():
    tune = (
        'X:3\nT:Kept\nC:Someone\nR:jig\nM:6/8\nL:1/8\nQ:3/8=116\nK:G\n"G"GAB [L:1/16]d2e2f2 [L:1/8]|'
        '[M:3/4]g2 f2 e2|\nV:1 clef=treble name="Fiddle" program=3 octave=2\n"D"dcB A3 |]\n'
    )
    clean = clean_abc(tune)
    assert clean == tune.replace(" program=3 octave=2", "")
    for bad, shown in [
        ("[L:1/0]", "unit note length [L:1/0] has a zero in it"),
        ("[M:0/4]", "meter [M:0/4] has a zero in it"),
        ("[Q:1/0=120]", "tempo [Q:1/0=120] has a zero in its beat"),
        ("[L:1/1000000]", "unit note length [L:1/1000000] is out of range"),
        ("[M:999/1]", "meter [M:999/1] is out of range"),
        ("[Q:1/4=99999]", "tempo [Q:1/4=99999] is out of range"),
    ]:
        with pytest.raises(AbcFieldError, match=re.escape(f"the tune's {shown}")):
            clean_abc(f"X:1\nK:D\nAB{bad}cd|\n")


# ---- through every path, with the real tools ---------------------------------------------------------


def test_render_reads_no_canary(renderer, cases, baseline, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    problems, rendered = [], 0
    for i, case in enumerate(cases):
        try:
            result = renderer.render_abc(case.text, instrument="fiddle", sheet=i % RENDER_SHEET_EVERY == 0)
        except ValueError as exc:  # a stray music line in the header, say: refused, and nothing leaks
            problems += [f"{case.name}: the error leaks {leaked(str(exc))}"] if leaked(str(exc)) else []
            continue
        rendered += 1
        problems += check_render(case.name, result, baseline)
    out, err = capfd.readouterr()
    assert not leaked(caplog.text + out + err)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:10])
    assert rendered >= 0.8 * len(cases)


def test_rerender_of_a_stored_tune_reads_no_canary(cases, baseline, caplog, capfd):
    """A tune stored before the whitelist existed (a continuation kept the user's lines) re-rendered."""
    caplog.set_level(logging.DEBUG)
    request = from_options(style="reel", length=4, tempo=120, instrument="fiddle", accompaniment=False)
    problems = []
    for case in cases[::REST_EVERY]:
        try:
            artifacts = worker.rerender(case.text, "abc", request, {"seed": 1})
        except ValueError as exc:
            problems += [f"{case.name}: the error leaks {leaked(str(exc))}"] if leaked(str(exc)) else []
            continue
        problems += [f"{case.name}: {p}" for p in canary_in_midi(artifacts.files["tune.mid"])]
        problems += [f"{case.name}: warning leaks" for w in artifacts.facts.warnings if leaked(w)]
        if "tune.png" not in artifacts.files or "tune-2.png" in artifacts.files:  # the canary is 40 bars
            problems.append(f"{case.name}: the sheet is not the carrier's one page {artifacts.facts.warnings}")
    out, err = capfd.readouterr()
    assert not leaked(caplog.text + out + err)
    assert not problems, "\n".join(problems[:10])


def test_continue_reads_no_canary(cases, caplog, capfd):
    """The request parser all three front ends share cleans the tune; the model continues the clean
    text; the continued tune (stored and posted) names no file; its render holds nothing of the canary."""
    caplog.set_level(logging.DEBUG)
    problems, composed = [], 0
    for i, case in enumerate(cases):
        try:
            request = from_options(style="reel", length=8, seed=3, continue_abc=case.text)
        except RequestError as exc:
            problems += [f"{case.name}: the error leaks {leaked(str(exc))}"] if leaked(str(exc)) else []
            continue
        text = request.continue_abc
        if "%" in text or case.target in text or "include" in text.lower():
            problems.append(f"{case.name}: the request keeps {text!r}")
        if i % REST_EVERY:
            continue
        try:
            artifacts = worker.compose(request)
        except ValueError as exc:
            problems += [f"{case.name}: the error leaks {leaked(str(exc))}"] if leaked(str(exc)) else []
            continue
        composed += 1
        if "%" in artifacts.text or case.target in artifacts.text:
            problems.append(f"{case.name}: the continued tune keeps a directive")
        problems += [f"{case.name}: {p}" for p in canary_in_midi(artifacts.files["tune.mid"])]
        if artifacts.facts.duration_s > 30:  # 8 bars of a reel: ~16 s; the canary adds 40 slow bars
            problems.append(f"{case.name}: {artifacts.facts.duration_s} s of audio")
    out, err = capfd.readouterr()
    assert not leaked(caplog.text + out + err)
    assert not problems, "\n".join(problems[:10])
    assert composed >= len(cases[::REST_EVERY]) // 3  # others: Unicode spaces refused, a stray line of notes


@pytest.mark.parametrize("n", [1, 3, 4, 15])
def test_the_commands_read_no_canary(tmp_path, capsys, cases, n):
    """`tunesmith render FILE` and `tunesmith compose --continue FILE` with the issue's spellings."""
    case = next(c for c in cases if c.name.startswith(f"body/{n}:"))
    tune = tmp_path / "attack.abc"
    tune.write_bytes(case.text.encode())
    assert cli.main(["render", str(tune), "--out", str(tmp_path / "r"), "--json"]) == 0
    assert not canary_in_midi((tmp_path / "r" / "tune.mid").read_bytes())
    code = cli.main(
        ["compose", "--style", "reel", "--length", "8", "--seed", "1", "--continue", str(tune)]
        + ["--out", str(tmp_path / "c")]
    )
    assert code == 0
    assert not canary_in_midi((tmp_path / "c" / "tune.mid").read_bytes())
    abc = (tmp_path / "c" / "tune.abc").read_text()
    assert "%" not in abc and case.target not in abc
    out, err = capsys.readouterr()
    assert not leaked(out + err)


def test_a_zero_unit_length_in_a_tune_to_continue_is_named(tmp_path, capsys):
    tune = tmp_path / "zero.abc"
    tune.write_text("X:1\nM:4/4\nL:1/8\nK:D\nABcd|[L:1/0] efga|\n")
    assert (
        cli.main(["compose", "--style", "reel", "--length", "8", "--continue", str(tune), "--out", str(tmp_path)]) == 1
    )
    err = capsys.readouterr().err
    assert err == (
        "tunesmith compose: the tune's unit note length [L:1/0] has a zero in it; write a length like 1/8 or 1/16\n"
    )


# ---- the tools' environment --------------------------------------------------------------------------


def test_the_renderer_children_get_no_secret(renderer, monkeypatch):
    """abc2midi (its env as passed, watched on the real call) and the sheet child (its /proc environ)."""
    seen = []
    real_run = abc2midi.subprocess.run

    def watched(*args, **kwargs):
        seen.append(kwargs.get("env"))
        return real_run(*args, **kwargs)

    monkeypatch.setattr(abc2midi.subprocess, "run", watched)
    renderer.render_abc(carrier(), instrument="fiddle", sheet=False)
    assert seen and seen[0] is not None and not leaked(repr(seen[0]))
    assert "DISCORD_TOKEN" not in seen[0] and "TUNESMITH_BROKER_URL" not in seen[0]

    renderer._drawer.warm()
    child = renderer._drawer._spare
    environ = Path(f"/proc/{child.proc.pid}/environ").read_bytes().decode(errors="replace")
    assert "DISCORD_TOKEN" not in environ and "TUNESMITH_" not in environ and not leaked(environ)
    assert os.environ["DISCORD_TOKEN"] == SECRET_TOKEN  # the worker itself still has it
    names = {pair.split("=", 1)[0] for pair in environ.split("\0") if pair}
    assert names <= set(child_env.KEEP) | {"PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}
