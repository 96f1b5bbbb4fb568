"""ComposeRequest: the one typed request every front end produces (CLI, Discord options, chat text).

The parser (text form and typed options) is filled in by issue 4; the dataclass is the contract.
"""
from __future__ import annotations

from dataclasses import dataclass


class RequestError(ValueError):
    """Bad user input. The message names the option, the value and what is allowed; safe to show."""


@dataclass(frozen=True)
class ComposeRequest:
    style: str  # a key of bot.styles.STYLES
    length: int  # bars, as written (a repeated part counts once)
    key: str | None = None  # canonical tonic+mode, e.g. "Dmaj", "Ador", "F#min", "Bbmix"; None: model's choice
    tempo: int | None = None  # beats per minute (the style's beat); None: the style's default
    temperature: float = 0.9
    seed: int | None = None  # None: the worker picks one and records it
    instrument: str | None = None  # a key of bot.instruments.INSTRUMENTS; None: the style's default
    meter: str | None = None  # override the style's meter, e.g. "2/4"
    continue_abc: str | None = None  # user ABC (header + some bars) to continue
    accompaniment: bool = True  # bass + chords from chord symbols when present
