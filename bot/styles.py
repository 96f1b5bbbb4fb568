"""The one style table: it feeds the models, the CLI choices and the Discord choices."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    name: str
    model: str  # "abc" (char-RNN over ABC) or "notes" (note-LSTM)
    meter: str  # ABC M: value, e.g. "6/8"
    unit: str  # ABC L: value, e.g. "1/8"
    rhythm: str  # the R: label the ABC model was trained with
    beat: str  # what one tempo beat is, as an ABC length ("3/8" = dotted quarter)
    tempo: int  # default beats per minute
    instrument: str  # default instrument (bot/instruments.py)
    description: str


STYLES: dict[str, Style] = {
    s.name: s
    for s in [
        Style("jig", "abc", "6/8", "1/8", "jig", "3/8", 116, "fiddle", "Lively 6/8 dance, two beats of three quavers"),
        Style("reel", "abc", "4/4", "1/8", "reel", "1/2", 100, "fiddle", "Fast 4/4 dance in running quavers"),
        Style(
            "hornpipe", "abc", "4/4", "1/8", "hornpipe", "1/4", 160, "fiddle", "4/4 dance with dotted, swung quavers"
        ),
        Style("strathspey", "abc", "4/4", "1/8", "strathspey", "1/4", 120, "fiddle", "Scottish 4/4 dance with snaps"),
        Style("slip jig", "abc", "9/8", "1/8", "slip jig", "3/8", 116, "flute", "Graceful 9/8 dance"),
        Style(
            "polka",
            "abc",
            "2/4",
            "1/8",
            "march",
            "1/4",
            130,
            "accordion",
            "Bouncy 2/4 dance (the corpus has no polka labels: 2/4 tunes, played faster)",
        ),
        Style("waltz", "abc", "3/4", "1/8", "waltz", "1/4", 140, "accordion", "3/4 dance tune"),
        Style("march", "abc", "2/4", "1/8", "march", "1/4", 110, "tin whistle", "Steady 2/4 march"),
        Style(
            "chorale",
            "notes",
            "4/4",
            "1/4",
            "chorale",
            "1/4",
            80,
            "organ",
            "Four-part hymn in the manner of Bach's chorales",
        ),
    ]
}

DEFAULT_STYLE = "jig"


def style_names(model: str | None = None) -> list[str]:
    """Style names in table order, optionally only those of one model."""
    return [s.name for s in STYLES.values() if model is None or s.model == model]
