"""Rendering: a tune (ABC text, or MIDI from the note model) -> MIDI, MP3 and a sheet music PNG.

    renderer = Renderer()                      # once per process: loads the soundfont
    result = renderer.render_abc(abc, instrument="fiddle", tempo=116, beat="3/8")
    result.mp3, result.midi, result.png, result.duration_s

The steps live in their own files: bot/render/abc2midi.py (ABC -> MIDI), bot/render/audio.py (MIDI -> samples ->
MP3, soundfont lookup), bot/render/sheet.py (verovio in a child process). The sheet child is started first
and runs while the audio renders, so on two cores it costs almost nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from bot.instruments import INSTRUMENTS, resolve_instrument
from bot.render import abc2midi, audio, sheet, tags
from bot.render.audio import check_soundfont, find_soundfont
from bot.render.errors import RenderError
from bot.render.sheet import sheet_png, trim_abc

__all__ = ["RenderError", "RenderResult", "Renderer", "find_soundfont", "check_soundfont", "sheet_png"]


@dataclass(frozen=True)
class RenderResult:
    midi: bytes
    mp3: bytes
    png: bytes | None  # None when not asked for or when drawing failed (see warnings)
    duration_s: float  # length of the MP3, release tail included
    bars: int  # bars heard, repeats expanded (a 16-bar AABB tune played through = 32)
    tempo: int  # beats per minute
    instrument: str  # a key of bot.instruments.INSTRUMENTS (or "program N" for foreign MIDI)
    beat: str = "1/4"  # what one tempo beat is, as an ABC length
    cut: bool = False  # True when the tune was longer than max_seconds and was faded out there
    warnings: tuple[str, ...] = field(default_factory=tuple)  # abc2midi warnings, sheet failures
    pages: tuple[bytes, ...] = ()  # the sheet music one PNG per page (png: all of them stacked)
    audio: Mapping[str, bytes] = field(default_factory=dict)  # the other formats asked for (audio.ENCODERS)

    @property
    def ogg(self) -> bytes | None:
        """Ogg Vorbis of the same audio, when asked for."""
        return self.audio.get("ogg")


def _check_max_seconds(max_seconds: float) -> None:
    if not 1 <= max_seconds <= audio.MAX_SECONDS_LIMIT:
        raise RenderError(f"max_seconds {max_seconds} is out of range; use 1 to {audio.MAX_SECONDS_LIMIT}")


class Renderer:
    """Holds one FluidSynth synth with the soundfont loaded; make one per process and reuse it."""

    def __init__(self, soundfont: str | Path | None = None):
        self.soundfont = find_soundfont(str(soundfont or ""))
        self._synth = audio.Synth(self.soundfont)
        self._drawer = sheet.SheetDrawer()  # its first child starts with the first tune

    def close(self) -> None:
        self._synth.close()
        self._drawer.close()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def render_abc(
        self,
        abc: str | bytes,
        *,
        instrument: str,
        tempo: int | None = None,
        beat: str | None = None,
        accompaniment: bool = True,
        bitrate: int = 128,
        max_seconds: float = 600,
        sheet: bool = True,
        ogg: bool = False,
        formats: tuple[str, ...] = (),
        title: str | None = None,
    ) -> RenderResult:
        """One ABC tune -> MIDI, MP3 and (if `sheet`) a PNG. `tempo` counts `beat`s per minute
        (beat "3/8" = dotted quarter, a jig's beat); beat None: the usual beat of the tune's M:;
        tempo None: the tune's Q:, else its style's tempo (by R:), else 120. The MP3's title tag is
        `title`, else the tune's T:. RenderError on bad input."""
        _check_max_seconds(max_seconds)
        audio.check_bitrate(bitrate)
        _check_formats(formats)
        try:
            instrument = resolve_instrument(instrument)
        except ValueError as exc:
            raise RenderError(str(exc)) from None
        prepared = abc2midi.prepare_abc(
            abc, program=INSTRUMENTS[instrument], tempo=tempo, beat=beat, accompaniment=accompaniment
        )
        made = abc2midi.abc_to_midi(prepared.playable, accompaniment=accompaniment)
        warnings = list(made.warnings)
        job = self._start_sheet(prepared.tune, "abc", warnings) if sheet else None
        if sheet and trim_abc(prepared.tune)[1]:
            warnings.append("the sheet music shows only the beginning of this long tune")
        play = functools.partial(self._play_abc, made, max_seconds)
        sound, mp3, (png, pages) = self._sound_and_sheet(play, bitrate, job, warnings)
        mp3 = tags.id3v2(title=title or prepared.title, genre="Folk") + mp3
        encoded = _encode(sound, formats + (("ogg",) if ogg else ()))
        if sound.cut:
            warnings.append(f"the tune lasts {sound.full_seconds / 60:.0f} min; cut at {max_seconds:g} s")
        bar_beats = Fraction(prepared.meter) / Fraction(prepared.beat)
        bars = round(sound.music_seconds * prepared.tempo / 60 / float(bar_beats))
        return RenderResult(
            midi=made.midi,
            mp3=mp3,
            png=png,
            duration_s=round(sound.seconds, 3),
            bars=bars,
            tempo=prepared.tempo,
            instrument=instrument,
            beat=prepared.beat,
            cut=sound.cut,
            warnings=tuple(warnings),
            audio=encoded,
            pages=pages,
        )

    def render_midi(
        self,
        midi_bytes: bytes,
        *,
        bitrate: int = 128,
        max_seconds: float = 600,
        musicxml: str | None = None,
        ogg: bool = False,
        formats: tuple[str, ...] = (),
        title: str | None = None,
    ) -> RenderResult:
        """MIDI from the note model -> MP3; with `musicxml`, also its sheet music PNG, drawn while the
        audio renders (else png is None; `sheet_png(text, "musicxml")` draws one separately). The MP3's
        title tag is `title`, else the MusicXML's work title."""
        _check_max_seconds(max_seconds)
        audio.check_bitrate(bitrate)
        _check_formats(formats)
        if not isinstance(midi_bytes, (bytes, bytearray)) or not midi_bytes:
            raise RenderError("the MIDI data is empty")
        if len(midi_bytes) > 10_000_000:
            raise RenderError(f"the MIDI data is {len(midi_bytes) / 1e6:.0f} MB; the limit is 10 MB")
        midi_bytes = bytes(midi_bytes)
        warnings: list[str] = []
        job = self._start_sheet(musicxml, "musicxml", warnings) if musicxml is not None else None
        play = functools.partial(self._synth.render, midi_bytes, max_seconds=max_seconds)
        sound, mp3, (png, pages) = self._sound_and_sheet(play, bitrate, job, warnings)
        mp3 = tags.id3v2(title=title or _work_title(musicxml), genre="Choral" if musicxml else "") + mp3
        encoded = _encode(sound, formats + (("ogg",) if ogg else ()))
        if sound.cut:
            warnings.append(f"the music lasts {sound.full_seconds / 60:.0f} min; cut at {max_seconds:g} s")
        tempo, bar_quarters, program = _midi_facts(midi_bytes)
        bars = round(sound.music_seconds * tempo / 60 / bar_quarters)
        names = [name for name, p in INSTRUMENTS.items() if p == program]
        return RenderResult(
            midi=midi_bytes,
            mp3=mp3,
            png=png,
            duration_s=round(sound.seconds, 3),
            bars=bars,
            tempo=round(tempo),
            instrument=names[0] if names else f"program {program}",
            beat="1/4",
            cut=sound.cut,
            warnings=tuple(warnings),
            audio=encoded,
            pages=pages,
        )

    def _sound_and_sheet(self, play, bitrate: int, job: sheet.SheetJob | None, warnings: list[str]):
        """Render the audio (`play()`) and encode it while the sheet child draws; then collect the
        sheet. A failure on the way stops the child."""
        try:
            sound = play()
            mp3 = _to_mp3(sound, bitrate)
        except BaseException:
            if job is not None:
                job.cancel()
            raise
        return sound, mp3, self._finish_sheet(job, warnings)

    def _start_sheet(self, text: str, fmt: str, warnings: list[str]) -> sheet.SheetJob | None:
        try:
            return self._drawer.start(text, fmt)
        except (RenderError, OSError) as exc:
            warnings.append(f"no sheet music: {exc}")
            return None

    def _finish_sheet(self, job: sheet.SheetJob | None, warnings: list[str]) -> tuple[bytes | None, tuple[bytes, ...]]:
        """(all pages in one PNG, the pages one by one); (None, ()) when there is no drawing."""
        if job is None:
            return None, ()
        try:
            return job.result(), job.pages
        except RenderError as exc:
            warnings.append(f"no sheet music: {exc}")
            return None, ()
        finally:
            self._drawer.warm()  # the next tune's drawing process starts now, while we are idle

    def _play_abc(self, made: abc2midi.MidiOutput, max_seconds: float) -> audio.Audio:
        """Synthesise abc2midi's output; when it cannot be played, say what abc2midi complained of."""
        try:
            return self._synth.render(made.midi, max_seconds=max_seconds)
        except audio.NoNotesError as exc:
            if made.errors:
                raise RenderError(f"{exc} (abc2midi: {made.errors[0]})") from None
            raise
        except audio.BadMidiError as exc:
            reason = made.errors[0] if made.errors else str(exc)
            if "data byte must be in range" in str(exc):
                reason = "a note is too high or too low for MIDI"
            raise RenderError(f"abc2midi could not make playable MIDI of this tune ({reason})") from None


def _check_formats(formats: tuple[str, ...]) -> None:
    unknown = [name for name in formats if name not in audio.ENCODERS]
    if unknown:
        raise RenderError(f"audio format {unknown[0]!r} is not one I make; use {', '.join(audio.ENCODERS)}")


def _encode(sound: audio.Audio, formats: tuple[str, ...]) -> dict[str, bytes]:
    """The asked formats of the (by now normalised) samples, each once, by name."""
    return {name: audio.ENCODERS[name](sound.samples) for name in dict.fromkeys(formats)}


def _to_mp3(sound: audio.Audio, bitrate: int) -> bytes:
    audio.normalise(sound.samples)
    return audio.encode_mp3(sound.samples, bitrate=bitrate)


def _work_title(musicxml: str | None) -> str:
    import html
    import re

    found = re.search(r"<work-title>([^<]*)</work-title>", musicxml or "")
    return html.unescape(found.group(1)).strip() if found else ""


def _midi_facts(midi_bytes: bytes) -> tuple[float, float, int]:
    """(quarter notes per minute, quarters per bar, first program) from a MIDI file's first events."""
    import io

    import mido

    midi = mido.MidiFile(file=io.BytesIO(midi_bytes))
    tempo, bar_quarters, program = 120.0, 4.0, 0
    seen_tempo = seen_meter = seen_program = False
    for track in midi.tracks:
        for msg in track:
            if msg.type == "set_tempo" and not seen_tempo:
                tempo, seen_tempo = mido.tempo2bpm(msg.tempo), True
            elif msg.type == "time_signature" and not seen_meter:
                bar_quarters, seen_meter = msg.numerator * 4 / msg.denominator, True
            elif msg.type == "program_change" and not seen_program and msg.channel != 9:
                program, seen_program = msg.program, True
    return tempo, bar_quarters, program
