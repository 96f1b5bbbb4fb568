"""The whitelist of what user ABC may contain: applied before any tool (abc2midi, verovio, the model) reads it.

Why: abc2midi obeys directives that read files (`%%abc-include PATH`, `%%MIDI ptstress PATH`, the same as
`I:abc-include`, `[I:...]`), and it is lenient about how a directive is spelled (`% %`, `%<tab>%`, ` % %`),
so a blacklist of spellings loses. verovio and abc2midi also read other fields and directives the project
never asked for. So the text is rebuilt from what the project needs, and nothing else is passed on:

- No `%` survives: everything from a `%` to the end of its line is a comment in ABC and is removed
  (whole-line comments, `%%` directives of every spelling, trailing comments). The renderer adds its
  own `%%MIDI` lines AFTER this step.
- Field lines (a letter and a colon at the start of a line, after any whitespace) are kept only for the
  letters in HEADER_FIELDS (up to K:) and BODY_FIELDS (after it); every other field (I:, U:, m:, P:,
  V: parameters other than VOICE_PARAMETERS, w:, W:, F:, s:, +: ...) is dropped.
- Inline fields `[X:...]` in music lines are kept only for INLINE_FIELDS; others (and unclosed ones)
  are removed. L:, M: and Q: values, in the header, on a line or inline, must be sane: a zero or
  absurd value raises AbcFieldError naming the field.
- Music lines keep printable ASCII, with backslashes (line continuation) removed; other characters
  are kept only inside "quoted" chord symbols and annotations. Every kind of line break (CR, CRLF,
  VT, FF, U+0085, U+2028 ...) becomes one newline, other control characters are dropped.

`clean_abc` is the one function: bot/render/abc2midi.prepare_abc (every render: CLI, bot compose,
continue, re-render, uploads) and bot/requests.py (the tune to continue, before the model or the store
sees it) call it, and bot/render/sheet.py calls it again on whatever it is asked to draw.
"""

from __future__ import annotations

import re

from model.meter import METER_ALIASES

HEADER_FIELDS = frozenset("XTCORNZSMLQK")  # number, title, composer, origin, rhythm, notes, transcription,
# source (text only), and the meter, unit, tempo and key the renderer and the model read
BODY_FIELDS = frozenset("TMLQKV")  # a part's title, changes of meter, unit, tempo, key; voices
INLINE_FIELDS = frozenset("MLQKV")
VOICE_PARAMETERS = frozenset({"clef", "name", "nm", "sname", "snm"})
MAX_FRACTION_PART = 64  # L:1/64 and M:64/64 are the extremes a tune may ask for


class AbcFieldError(ValueError):
    """A field of the tune has a zero or absurd value; the message names the field and is safe to show."""


# every line break Python's str.splitlines knows, so no tool can see a line start we did not check
_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_FIELD_LINE = re.compile(r"^([A-Za-z+]):(.*)$")
_LEADING = re.compile(r"^[^!-~]+")  # whatever comes before the first visible ASCII character
_INLINE = re.compile(r"\[\s*([A-Za-z+])\s*:([^\]\n]*)(\]|$)")
_QUOTED = re.compile(r'"[^"\n]*"?')
_FRACTION = re.compile(r"^(\d+)/(\d+)$")
_WHAT = {"L": "unit note length", "M": "meter", "Q": "tempo"}


def clean_abc(text: str) -> str:
    """The tune with only what the whitelist allows (see the module doc); AbcFieldError for a bad L:/M:/Q:."""
    text = _CONTROLS.sub("", _BREAKS.sub("\n", text)).replace("\t", " ")
    out, in_body = [], False
    for raw in text.split("\n"):
        if not raw.strip():
            out.append("")  # a blank line ends a tune in ABC: kept where the writer put one
            continue
        kept = _line(raw.split("%", 1)[0].rstrip(), in_body)
        if kept:  # a comment line goes entirely: a blank line left in its place would end the tune
            out.append(kept)
            in_body = in_body or kept.startswith("K:")
    return "\n".join(out).strip("\n") + "\n"


def _line(line: str, in_body: bool, again: bool = True) -> str | None:
    """One line as passed on; None to drop it. A music line that cleaning turns into something that
    looks like a field (`\\I:`, `[r:x]I:`) is judged as that field."""
    stripped = _LEADING.sub("", line)  # spaces of every kind, invisible characters
    field = _FIELD_LINE.match(stripped)
    if field:
        letter, value = field.group(1), field.group(2).strip().rstrip("\\").strip()
        if letter not in (BODY_FIELDS if in_body else HEADER_FIELDS):
            return None
        value = _check_value(letter, value, inline=False)
        return None if value is None else f"{letter}:{value}"
    if not stripped:
        return None
    music, before = _music_line(line), line
    while music != before:  # `[[r:x]r:y]` leaves `[r:y]`: clean until nothing changes
        music, before = _music_line(music), music
    if again and _FIELD_LINE.match(_LEADING.sub("", music)):
        return _line(music, in_body, again=False)
    return music


def _music_line(line: str) -> str:
    """A line of notes: inline fields whitelisted, non-ASCII kept inside quotes only, no backslashes."""
    line = _INLINE.sub(_inline_field, line)
    pieces, at = [], 0
    for quoted in _QUOTED.finditer(line):
        pieces.append(_ascii(line[at : quoted.start()]))
        text = quoted.group(0).replace("\\", "")
        pieces.append(text if len(text) > 1 and text.endswith('"') else text + '"')  # closed, whatever was cut
        at = quoted.end()
    pieces.append(_ascii(line[at:]))
    return "".join(pieces).rstrip()


def _ascii(text: str) -> str:
    return "".join(ch for ch in text if " " <= ch <= "~" and ch != "\\")


def _inline_field(match: re.Match) -> str:
    letter, value, closed = match.group(1), match.group(2).strip(), match.group(3)
    if letter not in INLINE_FIELDS or not closed:
        return ""
    value = _check_value(letter, value, inline=True)
    return "" if value is None else f"[{letter}:{value}]"


def _check_value(letter: str, value: str, *, inline: bool) -> str | None:
    """The field's value as passed on (None: drop the field); AbcFieldError when it is zero or absurd."""
    compact = value.replace(" ", "") if letter in "LM" else value
    shown = f"the tune's {_WHAT.get(letter, 'field')} " + (f"[{letter}:{compact}]" if inline else f"{letter}:{compact}")
    if letter == "L":
        _check_unit(value, shown)
    elif letter == "M":
        _check_meter(value, shown)
    elif letter == "Q":
        _check_tempo(value, shown)
    elif letter == "V":
        return _voice(value)
    return value


def _check_unit(value: str, shown: str) -> None:
    compact = value.replace(" ", "")
    match = _FRACTION.match(compact if "/" in compact else compact + "/1")
    if not match:
        raise AbcFieldError(f"{shown} is not a length like 1/8 or 1/16")
    top, bottom = int(match.group(1)), int(match.group(2))
    if top == 0 or bottom == 0:
        raise AbcFieldError(f"{shown} has a zero in it; write a length like 1/8 or 1/16")
    if top > bottom or bottom > MAX_FRACTION_PART:
        raise AbcFieldError(f"{shown} is out of range; use 1/1 to 1/{MAX_FRACTION_PART} (usually 1/8)")


def _check_meter(value: str, shown: str) -> None:
    compact = value.replace(" ", "")
    if compact in ("", "none", "None", "NONE", *METER_ALIASES):  # no meter, C, C|
        return
    match = re.match(r"^(\d+(?:\+\d+)*)/(\d+)$", compact)
    if not match:
        raise AbcFieldError(f"{shown} is not a meter like 6/8, 4/4 or C")
    top, bottom = sum(int(n) for n in match.group(1).split("+")), int(match.group(2))
    if top == 0 or bottom == 0:
        raise AbcFieldError(f"{shown} has a zero in it; write a meter like 6/8 or 4/4")
    if top > MAX_FRACTION_PART or bottom > MAX_FRACTION_PART or bottom & (bottom - 1):
        raise AbcFieldError(
            f"{shown} is out of range; the top must be 1 to {MAX_FRACTION_PART} "
            f"and the bottom 1, 2, 4, 8, 16, 32 or {MAX_FRACTION_PART}"
        )


def _check_tempo(value: str, shown: str) -> None:
    numbers = re.sub(r'"[^"]*"?', "", value)
    for top, bottom in re.findall(r"(\d+)\s*/\s*(\d+)", numbers):
        if int(top) == 0 or int(bottom) == 0:
            raise AbcFieldError(f"{shown} has a zero in its beat; write a tempo like 1/4=120")
    bpm = re.search(r"=\s*(\d+)\s*$", numbers) or re.fullmatch(r"\s*(\d+)\s*", numbers)
    if bpm and not 1 <= int(bpm.group(1)) <= 1000:
        raise AbcFieldError(f"{shown} is out of range; write a tempo like 1/4=120")


def _voice(value: str) -> str | None:
    """`V:id` with only the VOICE_PARAMETERS (clef, names); None when there is no id."""
    words = re.findall(r'(\w+)\s*=\s*("[^"]*"|\S+)|(\S+)', value)
    ident = next((plain for _, _, plain in words if plain), None)
    if ident is None or not re.fullmatch(r"[\w.-]+", ident):
        return None
    kept = [
        f"{key}={val}"
        for key, val, _ in words
        if key.lower() in VOICE_PARAMETERS and re.fullmatch(r'"[^"]*"|[\w.+-]+', val)
    ]
    return " ".join([ident, *kept])
