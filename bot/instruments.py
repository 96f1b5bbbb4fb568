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
        raise ValueError(f"instrument '{name}' is not known; try {', '.join(INSTRUMENTS)}")
    return key
