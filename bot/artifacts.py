"""What a finished job hands back: the files to post, the text to store and the typed facts of the tune.

    Artifacts(files, text, text_format, facts: TuneFacts)

The worker builds the facts once (bot/worker.py), from what the model and the renderer returned; the
service stores them (bot/tunes.py -> bot/store), the front end shows them (bot/discord/embeds.py), the
Celery codec carries them as a plain dict (`to_dict` / `from_dict`).
"""

from __future__ import annotations

import dataclasses
import html
import re
from dataclasses import dataclass, field

from model.abc.notation import read_header

_XML_TITLE = re.compile(r"<(movement-title|work-title)>([^<]{1,400})</\1>")


@dataclass(frozen=True)
class TuneFacts:
    """What a finished tune is. Every field has a default: a re-render knows less than a composition."""

    style: str = ""
    key: str | None = None  # canonical name, e.g. "Dmaj"
    meter: str | None = None
    tempo: int | None = None  # bpm
    bars: int | None = None  # as played
    seed: int | None = None
    instrument: str | None = None
    model: str = ""  # "abc" | "notes"
    model_version: str = ""
    duration_s: float | None = None  # of the audio
    warnings: tuple[str, ...] = ()  # the renderer's notes: audio cut, sheet cut short ...
    form: str = ""  # the plan's facts, e.g. "AABB" ("" when there was no plan)
    part_bars: int = 0  # bars per part when all parts are as long, else 0
    parts: str = ""  # the distinct parts' lengths, e.g. "4+8"
    bars_written: int = 0
    note: str = ""  # e.g. why the length was adjusted to fit the form
    title: str = ""  # the tune's own title (see tune_title)

    @property
    def heading(self) -> str:
        """The title to show: the tune's own, else "<Style> in <key>"."""
        return self.title or default_title(self.style, self.key)

    @property
    def form_text(self) -> str:
        """ "AABB, 8-bar parts", "AAB, parts of 4 and 8 bars"; "" without a form."""
        if not self.form:
            return ""
        if self.part_bars:
            return f"{self.form}, {self.part_bars}-bar parts"
        *most, last = (self.parts or "?").split("+")
        return f"{self.form}, parts of {', '.join(most)} and {last} bars" if most else f"{self.form}, {last}-bar parts"

    def to_dict(self) -> dict:
        return dict(dataclasses.asdict(self), warnings=list(self.warnings))

    @classmethod
    def from_dict(cls, data: dict) -> TuneFacts:
        """From `to_dict` (fields this version does not know are ignored: a newer worker may send more)."""
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in (data or {}).items() if k in names}
        return cls(**dict(known, warnings=tuple(str(w) for w in known.get("warnings") or ())))


@dataclass
class Artifacts:
    """A composed and rendered tune: the files to post, the text to store, and what it is."""

    files: dict[str, bytes]  # "tune.mp3", "tune.abc" | "tune.musicxml", "tune.mid", "tune.png" [, "tune-2.png" ...]
    text: str  # ABC or MusicXML
    text_format: str  # "abc" | "musicxml"
    facts: TuneFacts = field(default_factory=TuneFacts)


def default_title(style: str | None, key: str | None) -> str:
    return f"{str(style or 'tune').title()} in {key or '?'}"


def tune_title(text: str, text_format: str, style: str | None = None, key: str | None = None) -> str:
    """The tune's own title, as its sheet music shows it: the T: line of an ABC tune (without the model's
    "(seed N)": the seed is shown on its own), the movement or work title of a MusicXML score (a chorale's
    hymn line); else "<Style> in <key>"."""
    title = ""
    if text_format == "abc":
        title = re.sub(r"\s*\(seed \d+\)\s*$", "", read_header(text).title or "").strip()
    elif text_format == "musicxml":
        found = _XML_TITLE.search(text[:20_000])
        title = html.unescape(found.group(2)).strip() if found else ""
    if title:
        return title[:200]
    return default_title(style, key)
