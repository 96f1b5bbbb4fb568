"""What runs inside a worker process: ComposeRequest -> Composer (bot/composers.py) -> Renderer -> Artifacts.

Each process keeps one Renderer (FluidSynth + soundfont) and each loaded model in module globals,
so only its first job pays for loading them; `warm_up()` pays up front. Models are imported only
when a style needs them: a missing or broken note model never stops the ABC styles. Torch gets one
thread (two workers on two cores already fill the machine; more threads only fight).

The same functions run in-process for `tunesmith compose` (bot/cli/compose.py).
"""

from __future__ import annotations

import dataclasses
import io
import secrets
import sys
from collections.abc import Callable

from bot.artifacts import Artifacts, TuneFacts, tune_title
from bot.composers import COMPOSERS, ComposeError  # noqa: F401 - ComposeError: the worker's error for callers
from bot.config import Settings, load_settings
from bot.instruments import INSTRUMENTS
from bot.requests import ComposeRequest, RerenderRequest
from bot.styles import STYLES, Style
from model.abc.notation import read_header

_settings: Settings | None = None
_renderer = None
_models: dict[str, object] = {}


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def renderer():
    global _renderer
    if _renderer is None:
        from bot.render.renderer import Renderer

        _renderer = Renderer(settings().soundfont or None)
    return _renderer


def model(kind: str):
    """The loaded model of one kind (a key of bot/composers.py's COMPOSERS), loaded on first use in this process."""
    if kind not in _models:
        if kind not in COMPOSERS:
            raise ValueError(f"no model of kind {kind!r}")
        _models[kind] = COMPOSERS[kind].load(settings())
    return _models[kind]


def warm_up(kinds: tuple[str, ...] | None = None, settings: Settings | None = None) -> None:
    """A worker's initializer: take the queue's settings (else they are read from the environment),
    then load the renderer and the models (default: every model the style table uses) now, so that
    the first job is as quick as the rest. A model that fails to load is reported by its jobs."""
    global _settings
    if settings is not None:
        _settings = settings
    renderer()
    for kind in kinds or sorted({s.model for s in STYLES.values()}):
        try:
            model(kind)
        except Exception as exc:  # e.g. weights not there: only that model's styles will fail
            print(f"tunesmith worker: could not load the {kind} model: {exc}", file=sys.stderr)


def pick_seed() -> int:
    return secrets.randbelow(2**31)


def _noop(stage: str) -> None:
    pass


def compose(request: ComposeRequest | RerenderRequest, progress: Callable[[str], None] | None = None) -> Artifacts:
    """Compose and render one tune. Bad user input (e.g. unreadable ABC to continue) raises a
    ValueError whose text is safe to show; the seed used is in facts.seed."""
    progress = progress or _noop
    if isinstance(request, RerenderRequest):
        progress("rendering")
        return rerender(request.text, request.text_format, request.request, request.seed, request.model_version)
    style = STYLES[request.style]
    seed = pick_seed() if request.seed is None else request.seed
    if style.model not in COMPOSERS:
        raise ValueError(f"style {style.name!r} names an unknown model {style.model!r}")
    progress("composing")
    composed = COMPOSERS[style.model].compose(model(style.model), request, style, seed)
    progress("rendering")
    if composed.text_format == "abc":
        return _render_abc(composed.text, request, style, composed.facts)
    return _render_notes(composed.midi, composed.text, composed.facts)


def _render_abc(abc: str, request: ComposeRequest, style: Style, facts: TuneFacts) -> Artifacts:
    """Render an ABC tune whose facts (but tempo, duration, warnings and title) are known."""
    s = settings()
    instrument, meter = facts.instrument or style.instrument, facts.meter or style.meter
    beat = style.beat if meter == style.meter else None  # another meter: the renderer's usual beat for it
    result = renderer().render_abc(
        abc,
        instrument=instrument,
        tempo=request.tempo or style.tempo,
        beat=beat,
        accompaniment=request.accompaniment,
        bitrate=s.mp3_bitrate,
        max_seconds=s.max_audio_seconds,
        sheet=True,
    )
    files = {"tune.abc": abc.encode(), "tune.mid": result.midi, "tune.mp3": result.mp3, **sheet_files(result)}
    facts = dataclasses.replace(
        facts,
        tempo=result.tempo,
        duration_s=round(result.duration_s, 2),
        warnings=tuple(str(w) for w in result.warnings),
        title=tune_title(abc, "abc", style.name, facts.key),
    )
    return Artifacts(files, abc, "abc", facts)


def sheet_files(result) -> dict[str, bytes]:
    """The sheet music as files: "tune.png", and "tune-2.png", "tune-3.png" ... for a tune of several pages
    (a post shows the first page as its picture and attaches the others; one tall picture would be
    shrunk to unreadable). No files when it could not be drawn: a tune without a picture is still a tune."""
    pages = result.pages or ((result.png,) if result.png else ())
    return {"tune.png" if n == 1 else f"tune-{n}.png": page for n, page in enumerate(pages, 1)}


def _render_notes(midi: bytes, musicxml: str, facts: TuneFacts) -> Artifacts:
    s = settings()
    result = renderer().render_midi(midi, bitrate=s.mp3_bitrate, max_seconds=s.max_audio_seconds, musicxml=musicxml)
    files = {"tune.musicxml": musicxml.encode(), "tune.mid": result.midi, "tune.mp3": result.mp3, **sheet_files(result)}
    facts = dataclasses.replace(
        facts,
        duration_s=round(result.duration_s, 2),
        warnings=tuple(str(w) for w in result.warnings),
        title=tune_title(musicxml, "musicxml", facts.style, facts.key),
    )
    return Artifacts(files, musicxml, "musicxml", facts)


def rerender(
    text: str, text_format: str, request: ComposeRequest, seed: int | None = None, model_version: str = ""
) -> Artifacts:
    """Render a stored tune again (for `/tune id:` re-posts): audio is not stored, only its text, which is
    read again here (its header says its key and meter)."""
    style = STYLES[request.style]
    instrument = request.instrument or style.instrument
    if text_format == "abc":
        header = read_header(text)
        facts = TuneFacts(
            style=style.name,
            key=header.key.name if header.key else header.fields.get("K"),
            meter=header.meter or request.meter or style.meter,
            bars=request.length,
            seed=seed,
            instrument=instrument,
            model="abc",
            model_version=model_version,
        )
        return _render_abc(text, request, style, facts)
    if text_format == "musicxml":
        midi = musicxml_to_midi(text, INSTRUMENTS[instrument], request.tempo or style.tempo)
        facts = TuneFacts(
            style=style.name,
            key=request.key,
            meter=style.meter,
            tempo=request.tempo or style.tempo,
            bars=request.length,
            seed=seed,
            instrument=instrument,
            model="notes",
            model_version=model_version,
        )
        return _render_notes(midi, text, facts)
    raise ValueError(f"stored tune format {text_format!r} cannot be rendered")


def musicxml_to_midi(musicxml: str, program: int, tempo: int) -> bytes:
    """MusicXML text -> MIDI bytes with every channel on one General MIDI program."""
    import mido
    from music21 import converter
    from music21 import midi as m21midi
    from music21 import tempo as m21tempo

    score = converter.parse(musicxml, format="musicxml")
    if not score.recurse().getElementsByClass(m21tempo.MetronomeMark):
        score.parts[0].insert(0, m21tempo.MetronomeMark(number=tempo)) if score.parts else score.insert(
            0, m21tempo.MetronomeMark(number=tempo)
        )
    data = m21midi.translate.streamToMidiFile(score).writestr()
    mid = mido.MidiFile(file=io.BytesIO(data))
    for track in mid.tracks:
        channels = {m.channel for m in track if hasattr(m, "channel")}
        track[:] = [m for m in track if m.type != "program_change"]
        for channel in sorted(channels):
            track.insert(0, mido.Message("program_change", channel=channel, program=program, time=0))
    out = io.BytesIO()
    mid.save(file=out)
    return out.getvalue()
