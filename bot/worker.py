"""What runs inside a worker process: ComposeRequest -> model -> Renderer -> Artifacts.

Each process keeps one Renderer (FluidSynth + soundfont) and each loaded model in module globals,
so only its first job pays for loading them; `warm_up()` pays up front. Models are imported only
when a style needs them: a missing or broken note model never stops the ABC styles. Torch gets one
thread (two workers on two cores already fill the machine; more threads only fight).

The same functions run in-process for `tunesmith compose` (bot/compose_cli.py).
"""

from __future__ import annotations

import io
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.config import Settings, load_settings
from bot.instruments import INSTRUMENTS
from bot.requests import ComposeRequest, RerenderRequest
from bot.styles import STYLES, Style
from model.abc.notation import read_header

_settings: Settings | None = None
_renderer = None
_models: dict[str, object] = {}


class ComposeError(ValueError):
    """The model could not make this tune (e.g. every candidate copied a known tune); safe to show."""


@dataclass
class Artifacts:
    """A composed and rendered tune: the files to post, the text to store, and what it is."""

    files: dict[str, bytes]  # "tune.mp3", "tune.abc" | "tune.musicxml", "tune.mid", "tune.png" [, "tune-2.png" ...]
    text: str  # ABC or MusicXML
    text_format: str  # "abc" | "musicxml"
    meta: dict = field(default_factory=dict)  # style, key, meter, tempo, bars, seed, instrument,
    # model, model_version, duration_s, warnings (the renderer's notes: audio cut, sheet cut short ...)


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
    """The loaded model of one kind ("abc" or "notes"), loaded on first use in this process."""
    if kind not in _models:
        if kind == "abc":
            from model.abc.sample import load_abc_model

            _models[kind] = load_abc_model(settings().abc_weights or None)
        elif kind == "notes":
            from model.notes.sample import load_notes_model

            _models[kind] = load_notes_model(settings().notes_weights or None)
        else:
            raise ValueError(f"no model of kind {kind!r}")
    return _models[kind]


def _abc_model(request: ComposeRequest):
    """The ABC model for this request: the A/B test's weights when the service chose them (bot/ab.py),
    loaded once per process; the configured model otherwise, or when those weights cannot be loaded."""
    if not request.abc_weights:
        return model("abc")
    from model.abc.sample import load_abc_model

    try:
        return load_abc_model(request.abc_weights)
    except Exception as exc:  # noqa: BLE001 - a removed or broken B model must not fail the request
        print(
            f"tunesmith worker: A/B weights {request.abc_weights} do not load ({exc}); using the base model",
            file=sys.stderr,
        )
        return model("abc")


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
    ValueError whose text is safe to show; the seed used is in meta["seed"]."""
    progress = progress or _noop
    if isinstance(request, RerenderRequest):
        progress("rendering")
        return rerender(request.text, request.text_format, request.request, request.meta)
    style = STYLES[request.style]
    seed = pick_seed() if request.seed is None else request.seed
    progress("composing")
    if style.model == "abc":
        return _compose_abc(request, style, seed, progress)
    if style.model == "notes":
        return _compose_notes(request, style, seed, progress)
    raise ValueError(f"style {style.name!r} names an unknown model {style.model!r}")


def _compose_abc(request: ComposeRequest, style: Style, seed: int, progress) -> Artifacts:
    from model.abc.sample import AbcPrompt, GenerationError, compose_abc

    meter = request.meter or style.meter
    prompt = AbcPrompt(
        rhythm=style.rhythm,
        meter=meter,
        unit=style.unit,
        key=request.key,
        bars=request.length,
        temperature=request.temperature,
        seed=seed,
        prime_abc=request.continue_abc,
        style=style.name,
        form=request.form,
    )
    try:
        generated = compose_abc(_abc_model(request), prompt)
    except GenerationError as exc:
        raise ComposeError(f"the model could not finish this tune: {exc}") from None
    progress("rendering")
    artifacts = _render_abc(
        generated.abc, request, style, seed=generated.seed, model_version=generated.model_version, bars=generated.bars
    )
    if generated.form:  # the plan's facts; note: why the length was adjusted to fit the form
        artifacts.meta.update(
            form=generated.form, part_bars=generated.part_bars, bars_written=generated.bars_written, note=generated.note
        )
    return artifacts


def _render_abc(
    abc: str, request: ComposeRequest, style: Style, *, seed: int | None, model_version: str, bars: int | None = None
) -> Artifacts:
    s = settings()
    instrument = request.instrument or style.instrument
    header = read_header(abc)
    meter = header.meter or request.meter or style.meter
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
    meta = dict(
        style=style.name,
        key=header.key.name if header.key else header.fields.get("K"),
        meter=meter,
        tempo=result.tempo,
        bars=bars or request.length,
        seed=seed,
        instrument=instrument,
        model="abc",
        model_version=model_version,
        duration_s=round(result.duration_s, 2),
        warnings=list(result.warnings),
    )
    return Artifacts(files, abc, "abc", meta)


def _compose_notes(request: ComposeRequest, style: Style, seed: int, progress) -> Artifacts:
    from model.notes.sample import NotesPrompt, compose_notes

    instrument = request.instrument or style.instrument
    tempo = request.tempo or style.tempo
    prompt = NotesPrompt(
        style=style.name,
        key=request.key,
        bars=request.length,
        temperature=request.temperature,
        seed=seed,
        tempo=tempo,
        program=INSTRUMENTS[instrument],
        meter=request.meter,
    )
    generated = compose_notes(model("notes"), prompt)
    progress("rendering")
    meta = dict(
        style=style.name,
        key=generated.key,
        meter=generated.meter,
        tempo=tempo,
        bars=generated.bars,
        seed=generated.seed,
        instrument=instrument,
        model="notes",
        model_version=generated.model_version,
    )
    return _render_notes(generated.midi, generated.musicxml, meta)


def sheet_files(result) -> dict[str, bytes]:
    """The sheet music as files: "tune.png", and "tune-2.png", "tune-3.png" ... for a tune of several pages
    (a post shows the first page as its picture and attaches the others; one tall picture would be
    shrunk to unreadable). No files when it could not be drawn: a tune without a picture is still a tune."""
    pages = result.pages or ((result.png,) if result.png else ())
    return {"tune.png" if n == 1 else f"tune-{n}.png": page for n, page in enumerate(pages, 1)}


def _render_notes(midi: bytes, musicxml: str, meta: dict) -> Artifacts:
    s = settings()
    result = renderer().render_midi(midi, bitrate=s.mp3_bitrate, max_seconds=s.max_audio_seconds, musicxml=musicxml)
    files = {"tune.musicxml": musicxml.encode(), "tune.mid": result.midi, "tune.mp3": result.mp3, **sheet_files(result)}
    meta = dict(meta, duration_s=round(result.duration_s, 2), warnings=list(result.warnings))
    return Artifacts(files, musicxml, "musicxml", meta)


def rerender(text: str, text_format: str, request: ComposeRequest, meta: dict | None = None) -> Artifacts:
    """Render a stored tune again (for `/tune id:` re-posts): audio is not stored, only its text."""
    style = STYLES[request.style]
    meta = dict(meta or {})
    if text_format == "abc":
        return _render_abc(
            text,
            request,
            style,
            seed=meta.get("seed"),
            model_version=str(meta.get("model_version", "")),
            bars=meta.get("bars"),
        )
    if text_format == "musicxml":
        instrument = request.instrument or style.instrument
        midi = musicxml_to_midi(text, INSTRUMENTS[instrument], request.tempo or style.tempo)
        base = dict(
            style=style.name,
            key=meta.get("key") or request.key,
            meter=meta.get("meter") or style.meter,
            tempo=request.tempo or style.tempo,
            bars=meta.get("bars") or request.length,
            seed=meta.get("seed"),
            instrument=instrument,
            model="notes",
            model_version=str(meta.get("model_version", "")),
        )
        return _render_notes(midi, text, base)
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
