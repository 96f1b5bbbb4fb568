"""A corpus of tunes that try to make a tool read a file: every spelling of an include or file-reading
directive we could think of (`%%abc-include`, `%%MIDI ptstress`, `I:`, inline `[I:...]`, spaced and
tabbed `% %`, Unicode spaces and invisible characters, line breaks abc2midi or Python count that others
may not: CR, CRLF, VT, FF, U+0085, U+2028), placed in the header and in the body, pointing at a canary
file or at /proc/self/environ. Used by tests/test_security.py and bench/security_fuzz.py.

The canary is a tune of its own that no carrier tune can produce: a low C# (MIDI note 13) on General
MIDI program 113, and the marker text CANARY_MARK. A byte of it reaching the MIDI, the audio length, the
sheet, an error or the log means a tool read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CANARY_MARK = "q7zCANARYq7z"
CANARY_PITCH = 13  # ^C,,,, : far below any note the carrier tunes play
CANARY_PROGRAM = 113
CANARY_BARS = 40
CANARY_TEXT = (
    f"T:{CANARY_MARK}\n%%MIDI program {CANARY_PROGRAM}\nQ:1/4=40\n"
    + f"w:{CANARY_MARK}\n"
    + "".join("^C,,,,8|" + ("\n" if n % 4 == 3 else "") for n in range(CANARY_BARS))
)
ENVIRON = "/proc/self/environ"

CARRIER_HEAD = "X:1\nT:Carrier\nM:4/4\nL:1/8\n"
CARRIER_KEY = "K:D\n"
CARRIER_BODY = ["ABcd efga|fedc BAFA|", "DEFG ABcd|e2d2 c2d2|"]

# How a directive line may be spelled; {d} is the directive ("abc-include PATH", "MIDI ptstress PATH").
LINE_SPELLINGS = [
    "%%{d}",
    "% %{d}",
    "%  %{d}",
    "%\t%{d}",
    " % %{d}",
    "\t%%{d}",
    "%%%{d}",
    "%% {d}",
    "%%\t{d}",
    "\u00a0%%{d}",
    "\u2003%%{d}",
    "\u3000% %{d}",
    "%\u00a0%{d}",
    "\u200b%%{d}",
    "\ufeff%%{d}",
    "I:{d}",
    " I:{d}",
    "I: {d}",
    "\tI:{d}",
    "\u00a0I:{d}",
    "\u200bI:{d}",
    "\\I:{d}",
    "[r:x]I:{d}",
    "[[r:x]r:y]I:{d}",
    "+:{d}",
    "V:1 %%{d}",
    "T:x %%{d}",
    "ABcd %%{d}",
    "ABcd % %{d}",
    "ABcd|[I:{d}]",
    "AB[ I:{d}]cd|",
    "AB[I:{d}",
    '"%%{d}"ABcd|',
    "ABcd|\r%%{d}",
    "ABcd|\r\n%%{d}",
    "ABcd|\x0bI:{d}",
    "ABcd|\x0c%%{d}",
    "ABcd|\x85I:{d}",
    "ABcd|\u2028I:{d}",
    "ABcd|\u2029%%{d}",
    "ABcd|\x1e% %{d}",
]
DIRECTIVES = ["abc-include {p}", "MIDI ptstress {p}"]


@dataclass(frozen=True)
class Attack:
    name: str
    text: str  # the whole tune
    target: str  # the path it names
    plain: str  # the same tune with the directive's words left out: it names no file


def carrier(extra_header: str = "", extra_body: str = "", crlf: bool = False) -> str:
    """The tune an attack hides in: 4 bars of D major in the melody's usual range."""
    text = CARRIER_HEAD + extra_header + CARRIER_KEY + CARRIER_BODY[0] + "\n" + extra_body + CARRIER_BODY[1] + "\n"
    return text.replace("\n", "\r\n") if crlf else text


def attacks(canary: str | Path, environ: bool = True) -> list[Attack]:
    """Every spelling x directive, in the header and in the body, at the canary; the main spellings
    also at /proc/self/environ and with CRLF line ends."""
    out = []
    for n, spelling in enumerate(LINE_SPELLINGS):
        for directive in DIRECTIVES:
            line, plain = spelling.format(d=directive.format(p=canary)), spelling.format(d="")
            for where in ("header", "body"):
                place = "extra_header" if where == "header" else "extra_body"
                name = f"{where}/{n}:{spelling!r}/{directive.split()[0]}"
                out.append(Attack(name, carrier(**{place: line + "\n"}), str(canary), carrier(**{place: plain + "\n"})))
    if environ:
        for n, spelling in enumerate(LINE_SPELLINGS[:12]):
            line, plain = spelling.format(d=f"abc-include {ENVIRON}"), spelling.format(d="")
            out.append(
                Attack(
                    f"environ/{n}:{spelling!r}",
                    carrier(extra_body=line + "\n"),
                    ENVIRON,
                    carrier(extra_body=plain + "\n"),
                )
            )
    for n, spelling in enumerate(LINE_SPELLINGS[:8]):
        line, plain = spelling.format(d=f"abc-include {canary}"), spelling.format(d="")
        crlf, plain_crlf = carrier(extra_header=line + "\n", crlf=True), carrier(extra_header=plain + "\n", crlf=True)
        out.append(Attack(f"crlf/{n}:{spelling!r}", crlf, str(canary), plain_crlf))
    return out


if __name__ == "__main__":
    import sys

    cases = attacks("/tmp/canary.abc")
    if len(sys.argv) > 1:
        print(cases[int(sys.argv[1])].text, end="")
    else:
        print(
            f"{len(cases)} attacks, {len(LINE_SPELLINGS)} spellings x {len(DIRECTIVES)} directives x 2 places + extras"
        )
