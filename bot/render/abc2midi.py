"""ABC text -> MIDI bytes with abc2midi.

abc2midi (Debian `abcmidi`) expands repeats and 1st/2nd endings correctly (music21 does not: it sends
every `:|` without a `|:` back to the start) and adds bass and chords from chord symbols. Here we
check the input, take the first tune, keep only what the whitelist allows (bot/render/sanitize.py: no
`%` directive or comment, no field the project does not use), set the tempo (Q:) and the instrument (`%%MIDI program`),
then run abc2midi in a temporary directory with a timeout. abc2midi always exits 0, so success is
"the .mid exists" (and, checked when it is played, "it has notes"); its error lines explain failures.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from bot.render.child_env import child_env
from bot.render.errors import RenderError
from bot.render.sanitize import AbcFieldError, clean_abc
from bot.styles import STYLES
from model.abc.notation import Header, read_header

MAX_ABC_CHARS = 100_000  # a long tune is ~2,000 characters; a whole collection is not one tune
MIN_TEMPO, MAX_TEMPO = 20, 400  # beats per minute
DEFAULT_TEMPO = 120
ABC2MIDI_TIMEOUT = 10.0  # seconds; abc2midi takes a few milliseconds on a normal tune
BASS_PROGRAM = 32  # General MIDI acoustic bass
CHORD_PROGRAM = 24  # General MIDI nylon guitar

_FIELD = re.compile(r"^([A-Za-z]):(.*)$")
_FRACTION = re.compile(r"^\s*(\d{1,3})\s*/\s*(\d{1,3})\s*$")


@dataclass(frozen=True)
class PreparedAbc:
    """One tune, ready for abc2midi (`playable`) and for drawing (`tune`)."""

    tune: str  # the first tune of the input, cleaned; what the sheet music is drawn from
    playable: str  # `tune` with Q: and %%MIDI lines added; what abc2midi reads
    meter: str  # M: value ("6/8"; "4/4" when absent)
    beat: str  # what one tempo beat is ("3/8")
    tempo: int  # beats per minute
    title: str = ""


@dataclass
class MidiOutput:
    midi: bytes
    warnings: list[str] = field(default_factory=list)  # what to show: the first few of abc2midi's messages
    errors: list[str] = field(default_factory=list)  # abc2midi's "Error ..." lines (it carries on past them)


def read_abc_text(abc: str | bytes) -> str:
    """The input as text with Unix newlines; RenderError when empty, too big or not text."""
    if isinstance(abc, (bytes, bytearray)):
        if len(abc) > MAX_ABC_CHARS * 4:
            raise RenderError(_too_big(len(abc)))
        try:
            abc = bytes(abc).decode("utf-8-sig")
        except UnicodeDecodeError:
            abc = bytes(abc).decode("latin-1")  # old collections are often Latin-1
    if not isinstance(abc, str):
        raise RenderError(f"the tune must be ABC text, not {type(abc).__name__}")
    if len(abc) > MAX_ABC_CHARS:
        raise RenderError(_too_big(len(abc)))
    text = abc.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if "\x00" in text:
        raise RenderError("the ABC text contains NUL bytes; is it a binary file?")
    if not text.strip():
        raise RenderError("the ABC text is empty")
    return text


def _too_big(size: int) -> str:
    return f"the ABC text is {size:,} characters; one tune must be under {MAX_ABC_CHARS:,} (render one tune at a time)"


def first_tune(text: str) -> str:
    """The first tune (from the first X: line to the next one); X:1 is added when there is none."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("X:")]
    if not starts:
        return "X:1\n" + text.strip() + "\n"
    end = starts[1] if len(starts) > 1 else len(lines)
    return "\n".join(lines[starts[0] : end]).strip() + "\n"


_PROGRAM_DIRECTIVE = re.compile(
    r"(?:%%|\bI:)\s*MIDI\s+(?:program|bassprog|chordprog)\s+(?:\d+\s+)?(\d+)"
    r"|\bprogram\s*=\s*(\d+)",
    re.IGNORECASE,
)


def check_programs(text: str) -> None:
    """RenderError naming a MIDI program outside 0-127 that the tune asks for (`%%MIDI program 999`,
    `V:1 program=999`). Such directives are dropped before abc2midi (the asked instrument plays), but a
    number no synth has is a mistake worth telling the writer about, rather than a puzzle later."""
    for match in _PROGRAM_DIRECTIVE.finditer(text):
        number = int(match.group(1) or match.group(2))
        if number > 127:
            raise RenderError(
                f"the tune asks for MIDI program {number} ({match.group(0).strip()}); "
                "General MIDI programs are 0 to 127"
            )


def split_header(tune: str) -> tuple[list[str], str, list[str]]:
    """(header lines before K:, the K: line, body lines); RenderError when K: or notes are missing."""
    lines = tune.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("K:"):
            body = lines[i + 1 :]
            if not any(_has_notes(b) for b in body):
                raise RenderError("the tune has no notes after its K: (key) line")
            return lines[:i], line, body
    raise RenderError(
        "the tune has no K: (key) line; an ABC tune needs X:, T:, M:, L: and K: header lines before the notes"
    )


def _has_notes(line: str) -> bool:
    if _FIELD.match(line) or line.startswith("%"):
        return False
    line = re.sub(r'"[^"]*"', "", line)  # chord symbols and annotations are not notes
    return re.search(r"[A-Ga-g]", line) is not None


MAX_REST_BARS = 10_000  # a multi-bar rest longer than this is longer than any audio we make
_MULTI_BAR_REST = re.compile(r"[ZX](\d+)")
_NOT_MUSIC = re.compile(r'"[^"]*"|![^!\n]*!|\[[A-Za-z]:[^\]]*\]')  # chord symbols, decorations, inline fields


def check_rests(body: list[str]) -> None:
    """RenderError for a multi-bar rest (`Z99999999`) that abc2midi would spend minutes counting out."""
    for line in body:
        if _FIELD.match(line) or line.startswith("%"):
            continue
        for match in _MULTI_BAR_REST.finditer(_NOT_MUSIC.sub("", line)):
            digits = match.group(1)
            if len(digits) > 6 or int(digits) > MAX_REST_BARS:
                shown = match.group(0) if len(digits) <= 12 else match.group(0)[:13] + "…"
                raise RenderError(
                    f"a rest of {shown[1:]} bars ({shown}) is far too long; the limit is {MAX_REST_BARS:,} bars"
                )


def read_fields(header: list[str]) -> Header:
    """The header lines before K: read by the one header reader (model/abc/notation.py); lines that are
    not fields (free text, comments) are skipped, as abc2midi skips them."""
    return read_header("\n".join(line for line in header if _FIELD.match(line)))


def parse_fraction(text: str, what: str) -> Fraction:
    match = _FRACTION.match(text or "")
    if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        raise RenderError(f"{what} '{text}' is not a note length like 1/4 or 3/8")
    return Fraction(int(match.group(1)), int(match.group(2)))


def meter_of(header: Header) -> str:
    """The M: value as a fraction text; C -> 4/4, C| -> 2/2, missing/none -> 4/4; RenderError for a
    meter with a zero in it (M:0/4, M:4/0), which no bar can fill."""
    value = header.meter or ""
    match = _FRACTION.match(value)
    if match and 0 in (int(match.group(1)), int(match.group(2))):
        raise RenderError(f"the tune's meter M:{value} has a zero in it; write a meter like 6/8 or 4/4")
    if match:
        return f"{int(match.group(1))}/{int(match.group(2))}"
    return "4/4"


def beat_for_meter(meter: str) -> str:
    """The usual tempo beat of a meter: 6/8, 9/8, 12/8 -> 3/8; 2/2 -> 1/2; otherwise 1/denominator."""
    top, bottom = (int(x) for x in meter.split("/"))
    if top % 3 == 0 and top > 3 and bottom >= 8:
        return f"3/{bottom}"
    if meter == "2/2":
        return "1/2"
    return f"1/{bottom}"


def _tempo_from_q(value: str | None) -> tuple[str, int] | None:
    """(beat, bpm) from a Q: value like '3/8=116', '"Allegro" 1/4=120' or '120'; None if unreadable."""
    if not value:
        return None
    value = re.sub(r'"[^"]*"', "", value).strip()
    match = re.match(r"^(\d{1,3})/(\d{1,3})\s*=\s*(\d{1,4})$", value)
    if match:
        top, bottom = int(match.group(1)), int(match.group(2))
        return (f"{top}/{bottom}", int(match.group(3))) if top and bottom else None  # Q:1/0=120: unreadable
    if re.match(r"^\d{1,4}$", value):
        return "1/4", int(value)
    return None


def _default_tempo(header: Header, meter: str) -> tuple[str, int]:
    """The tempo of the tune's Q:, else of its style (by R:), else 120 of the meter's beat."""
    from_q = _tempo_from_q(header.fields.get("Q"))
    if from_q and MIN_TEMPO <= from_q[1] <= MAX_TEMPO:
        return from_q
    rhythm = header.fields.get("R", "").lower()
    for style in STYLES.values():
        if style.rhythm == rhythm and style.meter == meter:
            return style.beat, style.tempo
    return beat_for_meter(meter), DEFAULT_TEMPO


def prepare_abc(
    abc: str | bytes, *, program: int, tempo: int | None = None, beat: str | None = None, accompaniment: bool = True
) -> PreparedAbc:
    """Check the input and build the text abc2midi reads; RenderError names what is wrong."""
    if tempo is not None:
        if isinstance(tempo, bool) or not isinstance(tempo, int):
            raise RenderError(f"tempo {tempo!r} is not a whole number of beats per minute")
        if not MIN_TEMPO <= tempo <= MAX_TEMPO:
            raise RenderError(f"tempo {tempo} is out of range; use {MIN_TEMPO} to {MAX_TEMPO} beats per minute")
    if beat is not None:
        parse_fraction(beat, "beat")
    if not 0 <= program <= 127:
        raise RenderError(f"MIDI program {program} is out of range; use 0 to 127")
    tune = first_tune(read_abc_text(abc))
    check_programs(tune)
    try:
        tune = clean_abc(tune)  # the whitelist (bot/render/sanitize.py): before any tool reads the text
    except AbcFieldError as exc:
        raise RenderError(str(exc)) from None
    header, key_line, body = split_header(tune)
    check_rests(body)
    fields = read_fields(header)
    meter = meter_of(fields)
    if tempo is None:
        default_beat, tempo = _default_tempo(fields, meter)
        beat = beat or default_beat
    beat = beat or beat_for_meter(meter)

    # R: is dropped from what abc2midi reads: for R:hornpipe it swings every unmarked pair of quavers,
    # which plays a tune differently from how it is written and fails ("Cannot apply broken rhythm")
    # where an unmarked pair meets a written `>`. The tune keeps its R: everywhere else.
    head = [line for line in header if not line.startswith(("Q:", "R:"))]
    directives = [f"%%MIDI program {program}"]
    if accompaniment:  # bass + chords ~5 dB under the fiddle (melody notes play at velocity 80-105)
        directives += [
            f"%%MIDI bassprog {BASS_PROGRAM}",
            f"%%MIDI chordprog {CHORD_PROGRAM}",
            "%%MIDI bassvol 50",
            "%%MIDI chordvol 40",
        ]
    body = [re.sub(r"\[Q:[^\]]*\]", "", line) for line in body if not line.startswith("Q:")]  # one tempo: ours
    playable = "\n".join(head + [f"Q:{beat}={tempo}", key_line] + directives + body)
    return PreparedAbc(
        tune=tune,
        playable=playable.rstrip() + "\n",
        meter=meter,
        beat=beat,
        tempo=tempo,
        title=fields.title,
    )


def abc_to_midi(playable: str, *, accompaniment: bool = True, timeout: float = ABC2MIDI_TIMEOUT) -> MidiOutput:
    """Run abc2midi on one prepared tune; the MIDI bytes and abc2midi's warnings."""
    with tempfile.TemporaryDirectory(prefix="tunesmith-abc2midi-") as tmp:
        src, out = Path(tmp) / "tune.abc", Path(tmp) / "tune.mid"
        src.write_text(playable, encoding="utf-8")
        cmd = ["abc2midi", src.name, "-o", out.name, "-quiet"]
        if not accompaniment:
            cmd.append("-NGUI")  # ignore chord symbols: melody only
        try:
            proc = subprocess.run(
                cmd,
                check=False,
                cwd=tmp,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                env=child_env(),  # no secrets: abc2midi reads user text
            )
        except FileNotFoundError:
            raise RenderError("abc2midi is not installed (Debian/Ubuntu: apt-get install abcmidi)") from None
        except subprocess.TimeoutExpired:
            raise RenderError(f"abc2midi took longer than {timeout:g} s on this tune") from None
        messages = [line.strip() for line in (proc.stdout + "\n" + proc.stderr).split("\n")]
        errors = [m for m in messages if m.startswith("Error")]
        warnings = [m for m in messages if m.startswith("Warning")]
        if any("file runaway" in m for m in messages):  # abc2midi stops writing at 500 KB of MIDI
            raise RenderError("the tune is too long to render: abc2midi stopped at its 500 KB MIDI limit")
        if not out.exists() or out.stat().st_size == 0:
            reason = errors[0] if errors else "it wrote no MIDI file"
            raise RenderError(f"abc2midi could not read the tune: {reason}")
        return MidiOutput(midi=out.read_bytes(), warnings=_summarise(warnings + errors), errors=errors)


def _summarise(messages: list[str], keep: int = 10) -> list[str]:
    """abc2midi can complain once per character of a bad line: keep the first few."""
    if len(messages) <= keep:
        return messages
    return messages[:keep] + [f"... and {len(messages) - keep} more abc2midi messages"]
