"""Note events for the note model: a four-voice time grid, its tokens, and the ways in and out
(music21 streams, MIDI bytes via mido, MusicXML text via music21).

The grid (BachBot-style): time is cut into eighth-note steps; at every step each of the four
voices (soprano, alto, tenor, bass) holds one value: a MIDI pitch where a note starts, HOLD where
the previous note goes on sounding, or REST. Notes shorter than an eighth are dropped (about 3% of
the chorale notes are sixteenth passing notes).

Tokens, one piece:
    <bos> meter:4/4 mode:minor  @6:3 n73 n69 n57 n45  @7:3 n71 _ _ _  @0:3 ...  <eos>
Each step is a position token (`@<step in bar>`, with `:2` or `:1` added in the last two bars so
the model knows when to cadence) and then one token per voice, soprano first. Pieces are
transposed so their tonic is C before encoding (see `normalise`); the sampler transposes back to
the requested key, so the model spends nothing on learning twelve keys.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field, replace

from model.keys import SCALES, parse_key

STEPS_PER_QUARTER = 2  # eighth-note grid
VOICES = ("soprano", "alto", "tenor", "bass")
HOLD = -1
REST = -2
METERS = {"4/4": 8, "3/4": 6}  # meter -> grid steps per bar
MODES = ("major", "minor")
# Comfortable SATB ranges (MIDI). The sampler keeps each voice inside its range.
RANGES = {"soprano": (60, 81), "alto": (53, 74), "tenor": (47, 69), "bass": (36, 62)}
PITCH_LOW, PITCH_HIGH = 24, 96  # pitch tokens that exist

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR_SCALE = frozenset(SCALES["maj"])
MINOR_SCALE = frozenset(SCALES["min"]) | {9, 11}  # natural + raised 6th and 7th (melodic/harmonic)


class NotesError(ValueError):
    """A piece, key or prompt the note model cannot handle; the message says what and why."""


@dataclass
class NoteGrid:
    """Four voices on an eighth-note grid. voices[v][t] is a MIDI pitch (onset), HOLD or REST."""

    meter: str
    tonic: int  # pitch class of the key's tonic, 0 = C
    mode: str  # "major" | "minor"
    voices: list[list[int]] = field(default_factory=lambda: [[] for _ in VOICES])
    start: int = 0  # grid steps into the first bar where the piece starts (an upbeat)

    @property
    def steps(self) -> int:
        return len(self.voices[0])

    @property
    def steps_per_bar(self) -> int:
        return METERS[self.meter]

    @property
    def bars(self) -> int:
        """Bars touched, counting an upbeat bar and a shortened last bar as one bar together."""
        return max(1, math.ceil((self.start + self.steps) / self.steps_per_bar) - (1 if self.start else 0))


# ---------------------------------------------------------------- keys


def scale_of(tonic: int, mode: str) -> frozenset[int]:
    """Pitch classes that count as in the key (minor allows the raised 6th and 7th)."""
    base = MAJOR_SCALE if mode == "major" else MINOR_SCALE
    return frozenset((tonic + pc) % 12 for pc in base)


def key_of(text: str) -> tuple[int, str]:
    """'Dmaj', 'F#min', 'Bb', 'Am', 'C minor' -> (tonic pitch class, "major" | "minor"): the keys the note
    model can write (model/keys.py reads them)."""
    try:
        key = parse_key(text or "")
    except ValueError:
        key = None
    if key is None or key.mode not in ("maj", "min"):
        raise NotesError(
            f"key '{text}' is not one the note model can use; "
            "give a major or minor key such as 'Dmaj', 'Gmin' or 'F#min'"
        )
    return key.pitch_class, "major" if key.mode == "maj" else "minor"


def tonic_spelling(text: str) -> str:
    """The tonic as written in a key key_of accepts: 'dbmaj' -> 'Db', 'F♯ minor' -> 'F#'."""
    return parse_key(text).tonic


def transpose(grid: NoteGrid, semitones: int) -> NoteGrid:
    voices = [[p + semitones if p >= 0 else p for p in voice] for voice in grid.voices]
    return replace(grid, voices=voices, tonic=(grid.tonic + semitones) % 12)


def normalise(grid: NoteGrid) -> tuple[NoteGrid, int]:
    """Transpose the piece to tonic C by the smaller interval (-5..+6). Returns (grid, shift)."""
    shift = -grid.tonic if grid.tonic <= 6 else 12 - grid.tonic
    return transpose(grid, shift), shift


# ---------------------------------------------------------------- tokens


BOS, EOS, HOLD_TOKEN, REST_TOKEN = "<bos>", "<eos>", "_", "r"


def position_token(step_in_bar: int, bars_left: int) -> str:
    return f"@{step_in_bar}" + (f":{bars_left}" if bars_left <= 2 else "")


def _build_vocab() -> list[str]:
    vocab = [BOS, EOS, HOLD_TOKEN, REST_TOKEN]
    vocab += [f"meter:{m}" for m in METERS] + [f"mode:{m}" for m in MODES]
    vocab += [position_token(i, left) for i in range(max(METERS.values())) for left in (3, 2, 1)]
    vocab += [f"n{p}" for p in range(PITCH_LOW, PITCH_HIGH + 1)]
    return vocab


VOCAB: list[str] = _build_vocab()  # fixed, so token ids never depend on the data
TOKEN_ID: dict[str, int] = {tok: i for i, tok in enumerate(VOCAB)}


def value_token(value: int) -> str:
    if value == HOLD:
        return HOLD_TOKEN
    if value == REST:
        return REST_TOKEN
    if not PITCH_LOW <= value <= PITCH_HIGH:
        raise NotesError(f"pitch {value} is outside the note model's range {PITCH_LOW}-{PITCH_HIGH}")
    return f"n{value}"


def token_value(token: str) -> int:
    if token == HOLD_TOKEN:
        return HOLD
    if token == REST_TOKEN:
        return REST
    if token.startswith("n") and token[1:].isdigit():
        return int(token[1:])
    raise NotesError(f"'{token}' is not a voice token")


def header_tokens(meter: str, mode: str) -> list[str]:
    return [BOS, f"meter:{meter}", f"mode:{mode}"]


def step_position(grid_start: int, step: int, steps_per_bar: int, total_bars_touched: int) -> str:
    """The position token of grid step `step` in a piece touching `total_bars_touched` bars."""
    bar, in_bar = divmod(grid_start + step, steps_per_bar)
    return position_token(in_bar, total_bars_touched - bar)


def encode(grid: NoteGrid) -> list[str]:
    """Grid -> tokens. The tonic is not in the tokens: normalise() the grid first for training."""
    spb = grid.steps_per_bar
    touched = math.ceil((grid.start + grid.steps) / spb)
    tokens = header_tokens(grid.meter, grid.mode)
    for t in range(grid.steps):
        tokens.append(step_position(grid.start, t, spb, touched))
        tokens.extend(value_token(voice[t]) for voice in grid.voices)
    tokens.append(EOS)
    return tokens


def decode(tokens: list[str], tonic: int = 0) -> NoteGrid:
    """Tokens -> grid (tonic as given: tokens are relative). Stops at <eos> or a cut-off step."""
    if len(tokens) < 3 or tokens[0] != BOS or not tokens[1].startswith("meter:") or not tokens[2].startswith("mode:"):
        raise NotesError("tokens must start with <bos> meter:M mode:M")
    meter, mode = tokens[1][6:], tokens[2][5:]
    if meter not in METERS or mode not in MODES:
        raise NotesError(f"unknown meter or mode in tokens: {meter!r}, {mode!r}")
    grid = NoteGrid(meter=meter, tonic=tonic, mode=mode)
    body = tokens[3:]
    width = 1 + len(VOICES)
    for i in range(0, len(body), width):
        frame = body[i : i + width]
        if frame[0] == EOS or len(frame) < width:
            break
        if not frame[0].startswith("@"):
            raise NotesError(f"expected a position token, got '{frame[0]}'")
        if i == 0:
            grid.start = int(frame[0][1:].split(":")[0])
        for v, token in enumerate(frame[1:]):
            grid.voices[v].append(token_value(token))
    return grid


# ---------------------------------------------------------------- music21 streams


def grid_from_score(score, *, key=None) -> NoteGrid:
    """A four-part music21 Score -> NoteGrid (key: a music21 Key, or None to analyse)."""
    from music21 import meter as m21meter

    parts = list(score.parts)
    if len(parts) != len(VOICES):
        raise NotesError(
            f"the note model needs exactly four voices (soprano, alto, tenor, bass); this piece has {len(parts)}"
        )
    signatures = list(score.recurse().getElementsByClass(m21meter.TimeSignature))
    if not signatures:
        raise NotesError("the piece has no time signature")
    meter = signatures[0].ratioString
    if meter not in METERS or any(ts.ratioString != meter for ts in signatures):
        raise NotesError(f"meter {meter} is not supported (only {', '.join(METERS)} throughout)")
    spb = METERS[meter]
    if key is None:
        key = score.analyze("key")
    tonic, mode = key.tonic.pitchClass, ("minor" if key.mode == "minor" else "major")

    first_measures = parts[0].getElementsByClass("Measure")
    start = 0
    if first_measures:
        first = first_measures[0]
        start = round(float(first.paddingLeft) * STEPS_PER_QUARTER) % spb

    voices: list[list[int]] = []
    for part in parts:
        cells: dict[int, int] = {}
        for element in part.flatten().notesAndRests:
            begin = float(element.offset) * STEPS_PER_QUARTER
            end = begin + float(element.quarterLength) * STEPS_PER_QUARTER
            first_step, stop = math.ceil(begin - 1e-9), math.ceil(end - 1e-9)
            if element.isRest:
                values = [REST] * (stop - first_step)
            else:
                pitch = max(p.midi for p in element.pitches)
                tied_on = element.tie is not None and element.tie.type in ("stop", "continue")
                values = [HOLD if tied_on else pitch] + [HOLD] * (stop - first_step - 1)
            for i, value in enumerate(values):
                cells[first_step + i] = value
        length = max(cells) + 1 if cells else 0
        voices.append([cells.get(t, REST) for t in range(length)])
    length = max(len(v) for v in voices)
    voices = [v + [REST] * (length - len(v)) for v in voices]
    for v in voices:  # a HOLD after a rest (a tie that lost its note to quantising) is a rest
        for t in range(length):
            if v[t] == HOLD and (t == 0 or v[t - 1] == REST):
                v[t] = REST
    return NoteGrid(meter=meter, tonic=tonic, mode=mode, voices=voices, start=start)


def voice_notes(voice: list[int]) -> list[tuple[int, int, int | None]]:
    """(start step, length in steps, MIDI pitch or None for a rest) for one voice."""
    events: list[list] = []
    for t, value in enumerate(voice):
        if value == HOLD and events and events[-1][2] is not None:
            events[-1][1] += 1
        elif value == REST or value == HOLD:
            if events and events[-1][2] is None:
                events[-1][1] += 1
            else:
                events.append([t, 1, None])
        else:
            events.append([t, 1, value])
    return [tuple(e) for e in events]


def _spellings(tonic_name: str, mode: str) -> dict[int, str]:
    """Pitch class -> note name (music21 spelling, '-' is flat) for a key: the scale's own
    letters (in minor the raised 6th and 7th too), other notes with sharps in sharp keys and
    flats in flat keys."""
    from music21 import key, pitch

    k = key.Key(tonic_name, mode)
    names = {p.pitchClass: p.name for p in k.pitches[:7]}
    if mode == "minor":
        for degree in (6, 7):
            raised = k.pitchFromDegree(degree).transpose("A1")
            names.setdefault(raised.pitchClass, raised.name)
    for pc in range(12):
        if pc not in names:
            p = pitch.Pitch(pc)
            wrong = "-" if k.sharps >= 0 else "#"
            names[pc] = p.getEnharmonic().name if wrong in p.name else p.name
    return names


def _note(midi: int, names: dict[int, str]):
    from music21 import note

    n = note.Note(names[midi % 12] + "4")
    n.pitch.octave += (midi - n.pitch.midi) // 12
    return n


_CLEFS = {"soprano": "TrebleClef", "alto": "TrebleClef", "tenor": "Treble8vbClef", "bass": "BassClef"}


def grid_to_score(grid: NoteGrid, *, title: str = "", instrument_name: str = "", tonic_name: str | None = None):
    """NoteGrid -> music21 Score with four parts, measures, ties, key and time signature.
    tonic_name spells the key ('Db' rather than 'C#'); by default NOTE_NAMES."""
    from music21 import clef, key, metadata, meter, note, stream

    score = stream.Score()
    if title:
        score.metadata = metadata.Metadata(title=title)
    names = _spellings(tonic_name or NOTE_NAMES[grid.tonic], grid.mode)
    quarter = 1 / STEPS_PER_QUARTER
    shift = grid.start * quarter  # an upbeat: lay out in whole bars first, then pull back (below)
    for v, name in enumerate(VOICES):
        part = stream.Part(id=name)
        part.partName = name.capitalize() + (f" ({instrument_name})" if instrument_name and v == 0 else "")
        part.insert(0, getattr(clef, _CLEFS[name])())
        part.insert(0, meter.TimeSignature(grid.meter))
        part.insert(0, key.Key(tonic_name or NOTE_NAMES[grid.tonic], grid.mode))
        for begin, length, pitch in voice_notes(grid.voices[v]):
            element = note.Rest() if pitch is None else _note(pitch, names)
            element.quarterLength = length * quarter
            part.insert(begin * quarter + shift, element)
        score.insert(0, part)
    for part in score.parts:
        part.makeMeasures(inPlace=True)
        part.makeTies(inPlace=True)
        if grid.start:  # pull everything back so the first bar is a short pickup bar
            measures = list(part.getElementsByClass("Measure"))
            for element in list(measures[0].notesAndRests):
                measures[0].setElementOffset(element, element.offset - shift)
            measures[0].paddingLeft = shift
            for number, measure in enumerate(measures):
                measure.number = number  # a pickup bar is bar 0
                if number:
                    part.setElementOffset(measure, measure.offset - shift)
    return score


def score_to_musicxml(score) -> str:
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    return GeneralObjectExporter(score).parse().decode("utf-8")


# ---------------------------------------------------------------- MIDI


def grid_to_midi(
    grid: NoteGrid, *, tempo: int, program: int, ticks_per_beat: int = 480, tonic_name: str | None = None
) -> bytes:
    """NoteGrid -> standard MIDI file bytes: one track per voice, all on GM `program`, `tempo`
    quarter notes per minute. Written with mido directly (fast, and exact about what is in it)."""
    import mido

    if not 1 <= int(tempo) <= 400:
        raise NotesError(f"tempo {tempo} is out of range (1-400 beats per minute)")
    if not 0 <= int(program) <= 127:
        raise NotesError(f"MIDI program {program} is out of range (0-127)")
    step_ticks = ticks_per_beat // STEPS_PER_QUARTER
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    numerator, denominator = (int(x) for x in grid.meter.split("/"))
    conductor = mido.MidiTrack(
        [
            mido.MetaMessage("track_name", name="Tunesmith", time=0),
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0),
            mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0),
            mido.MetaMessage(
                "key_signature",
                key=(tonic_name or NOTE_NAMES[grid.tonic]) + ("m" if grid.mode == "minor" else ""),
                time=0,
            ),
        ]
    )
    offset_ticks = 0  # an upbeat starts at time 0 in the file
    conductor.append(mido.MetaMessage("end_of_track", time=grid.steps * step_ticks + offset_ticks))
    midi.tracks.append(conductor)
    velocities = (84, 72, 72, 78)
    for v, name in enumerate(VOICES):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name.capitalize(), time=0)])
        track.append(mido.Message("program_change", channel=v, program=int(program), time=0))
        now = 0
        for begin, length, pitch in voice_notes(grid.voices[v]):
            if pitch is None:
                continue
            on, off = begin * step_ticks, (begin + length) * step_ticks
            track.append(mido.Message("note_on", channel=v, note=pitch, velocity=velocities[v], time=on - now))
            track.append(mido.Message("note_off", channel=v, note=pitch, velocity=0, time=off - on))
            now = off
        track.append(mido.MetaMessage("end_of_track", time=max(0, grid.steps * step_ticks - now)))
        midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()
