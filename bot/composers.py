"""The model registry: one Composer per kind of model (`Style.model` in bot/styles.py names it).

A Composer loads its model once per worker process and turns a typed request into the tune's text
and its facts; the worker renders what comes back by its text format. A new model is one class
here (or in a file of its own) added to COMPOSERS, and its name in the style table.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Protocol

from bot.artifacts import TuneFacts
from bot.config import Settings
from bot.instruments import INSTRUMENTS
from bot.requests import ComposeRequest
from bot.styles import Style
from model.abc.notation import read_header


class ComposeError(ValueError):
    """The model could not make this tune (e.g. every candidate copied a known tune); safe to show."""


@dataclass(frozen=True)
class Composed:
    facts: TuneFacts  # all but what rendering tells (tempo, duration, warnings, title)
    text: str  # the tune as text
    text_format: str  # "abc" or "musicxml": how the worker renders it
    midi: bytes | None = None  # the model's own MIDI, when it writes one (the note model)


class Composer(Protocol):
    kind: str

    def load(self, settings: Settings) -> object:
        """The model, loaded once per process (the worker keeps it)."""

    def compose(self, model: object, request: ComposeRequest, style: Style, seed: int) -> Composed: ...


class AbcComposer:
    """The ABC char-LSTM: fiddle tunes, continuations, the A/B test's weights."""

    kind = "abc"

    def load(self, settings: Settings) -> object:
        from model.abc.sample import load_abc_model

        return load_abc_model(settings.abc_weights or None)

    def compose(self, model: object, request: ComposeRequest, style: Style, seed: int) -> Composed:
        from model.abc.sample import AbcPrompt, GenerationError, compose_abc

        prompt = AbcPrompt(
            rhythm=style.rhythm,
            meter=request.meter or style.meter,
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
            generated = compose_abc(self._weights(model, request), prompt)
        except GenerationError as exc:
            raise ComposeError(f"the model could not finish this tune: {exc}") from None
        facts = TuneFacts(
            style=style.name,
            key=generated.key or None,
            # a continuation keeps the user's M: line as written (the model reads 2/2 and C| as 4/4)
            meter=(read_header(generated.abc).meter if request.continue_abc else generated.meter) or style.meter,
            bars=generated.bars or request.length,
            seed=generated.seed,
            instrument=request.instrument or style.instrument,
            model=self.kind,
            model_version=generated.model_version,
            form=generated.form,  # the plan's facts; note: why the length was adjusted to fit the form
            part_bars=generated.part_bars if generated.form else 0,
            parts=generated.parts if generated.form else "",
            bars_written=generated.bars_written if generated.form else 0,
            note=generated.note if generated.form else "",
        )
        return Composed(facts, generated.abc, "abc")

    @staticmethod
    def _weights(model: object, request: ComposeRequest) -> object:
        """The A/B test's weights when the service chose them (bot/ab.py), loaded once per process; the
        configured model otherwise, or when those weights cannot be loaded."""
        if not request.abc_weights:
            return model
        from model.abc.sample import load_abc_model

        try:
            return load_abc_model(request.abc_weights)
        except Exception as exc:  # noqa: BLE001 - a removed or broken B model must not fail the request
            print(
                f"tunesmith worker: A/B weights {request.abc_weights} do not load ({exc}); using the base model",
                file=sys.stderr,
            )
            return model


class NotesComposer:
    """The four-voice note LSTM: chorales, as MusicXML and MIDI."""

    kind = "notes"

    def load(self, settings: Settings) -> object:
        from model.notes.sample import load_notes_model

        return load_notes_model(settings.notes_weights or None)

    def compose(self, model: object, request: ComposeRequest, style: Style, seed: int) -> Composed:
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
        generated = compose_notes(model, prompt)
        facts = TuneFacts(
            style=style.name,
            key=generated.key,
            meter=generated.meter,
            tempo=tempo,
            bars=generated.bars,
            seed=generated.seed,
            instrument=instrument,
            model=self.kind,
            model_version=generated.model_version,
        )
        return Composed(facts, generated.musicxml, "musicxml", generated.midi)


COMPOSERS: dict[str, Composer] = {c.kind: c for c in (AbcComposer(), NotesComposer())}
