"""Instrument names people can ask for -> General MIDI programs (0-based)."""

from __future__ import annotations

INSTRUMENTS: dict[str, int] = {
    "fiddle": 40,  # Violin
    "flute": 73,
    "tin whistle": 78,  # Whistle
    "accordion": 21,
    "concertina": 21,
    "piano": 0,
    "harp": 46,  # Orchestral Harp
    "guitar": 24,  # Nylon guitar
    "banjo": 105,
    "bagpipes": 109,
    "harpsichord": 6,
    "organ": 19,  # Church organ
    "strings": 48,  # String ensemble
    "choir": 52,  # Choir aahs
    "clarinet": 71,
    "oboe": 68,
}

ALIASES = {"violin": "fiddle", "whistle": "tin whistle", "pipes": "bagpipes"}


def resolve_instrument(name: str) -> str:
    """Canonical instrument name, or ValueError naming the choices."""
    key = " ".join(name.lower().replace("_", " ").replace("-", " ").split())
    key = ALIASES.get(key, key)
    if key not in INSTRUMENTS:
        shown = "".join(ch if ch.isprintable() else "?" for ch in name[:40]) + ("…" if len(name) > 40 else "")
        raise ValueError(f"instrument '{shown}' is not known; try {', '.join(INSTRUMENTS)}")
    return key


def default_instrument_setting(value: object) -> str | None:
    """A server's default instrument, checked before it is stored: None or "" (each style's own) ->
    None, else the canonical name; ValueError naming the choices for anything else (Discord offers
    a list, but a forged request can send any text)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"the default instrument must be a name; try {', '.join(INSTRUMENTS)}")
    return resolve_instrument(value)


def known_instrument(value: object) -> str | None:
    """The canonical name of a stored instrument, or None when it is not one we know (a value stored
    by an older version or a forged request is ignored: each style's own instrument plays)."""
    try:
        return default_instrument_setting(value)
    except ValueError:
        return None
