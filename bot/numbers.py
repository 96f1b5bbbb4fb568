"""Numbers as people type them (command options, chat options, settings): ASCII digits only.

Python's int() and float() also read "٣٢" (Arabic-Indic digits), "３２" (full width), "1_000" and
"1e3"; nobody means those as an option value, and a log or a reply showing "٣٢" where 32 was stored
misleads. One rule for every front end, with a message that says what to write.
"""

from __future__ import annotations

import argparse
import re

_PATTERNS = {int: re.compile(r"[+-]?[0-9]+\Z"), float: re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)\Z")}


def is_plain_number(text: str, kind: type = int) -> bool:
    """True when `text` (spaces around it allowed) is a whole number (kind int) or a decimal
    number (kind float) written with the ASCII digits 0-9."""
    return bool(_PATTERNS[kind].match(text.strip()))


def problem(text: str, kind: type = int) -> str:
    """Why `text` is not a plain number, in words: 'not a whole number' (+ 'written with the digits
    0-9' when it uses other digits)."""
    what = "a whole number" if kind is int else "a number"
    if any(ch.isdigit() and not ch.isascii() for ch in text):
        what += " written with the digits 0-9"
    return f"not {what}"


def parse(text: str, kind: type = int) -> int | float:
    """`text` as an int or float; ValueError (saying what is wrong) unless it is a plain number."""
    if not is_plain_number(text, kind):
        raise ValueError(f"'{text}' is {problem(text, kind)}")
    return kind(text.strip())


def cli_int(text: str) -> int:
    """argparse `type=` for a whole number in ASCII digits."""
    try:
        return parse(text, int)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cli_float(text: str) -> float:
    """argparse `type=` for a number in ASCII digits."""
    try:
        return parse(text, float)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
