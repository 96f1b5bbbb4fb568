"""The note model's corpus: Bach's four-part chorales from the music21 corpus, as NoteGrids.

Parsing all chorales takes a minute or two, so the grids are cached as gzipped JSON under
~/.cache/tunesmith/ (the `cache` setting overrides; the CLI passes it in). Corpus-derived data never goes into git.
Splits are by piece (a stable hash of its corpus name), so no chorale is in both.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import asdict
from pathlib import Path

from model.lstm import DEFAULT_CACHE
from model.notes.grid import NoteGrid, NotesError, encode, grid_from_score, normalise

CACHE_VERSION = 1  # bump when the grid or the key choice changes
VALID_PERCENT = 10


def chorale_names() -> list[str]:
    """Corpus names of the distinct chorales (the iterator lists 371, 350 of them distinct)."""
    from music21 import corpus

    names = list(dict.fromkeys(corpus.chorales.Iterator(returnType="filename")))
    return names


def choose_key(score):
    """The key to normalise by. music21's key analysis, unless the final bass note disagrees and
    the key signature offers a key on that note (Bach's chorales end on their tonic; the analysis
    sometimes names the relative key)."""
    from music21 import key as m21key

    analysed = score.analyze("key")
    bass_notes = score.parts[-1].recurse().notes
    if not bass_notes:
        return analysed
    final_pc = bass_notes[-1].pitches[0].pitchClass
    if analysed.tonic.pitchClass == final_pc:
        return analysed
    signatures = list(score.recurse().getElementsByClass(m21key.KeySignature))
    if signatures:
        for mode in (analysed.mode, "minor" if analysed.mode == "major" else "major"):
            candidate = signatures[0].asKey(mode)
            if candidate.tonic.pitchClass == final_pc:
                return candidate
    return analysed


def parse_chorale(name: str) -> NoteGrid:
    from music21 import corpus

    score = corpus.parse(name)
    return grid_from_score(score, key=choose_key(score))


def load_chorales(
    *, refresh: bool = False, progress: bool = True, first: int = 0, cache: Path = DEFAULT_CACHE
) -> dict[str, NoteGrid]:
    """name -> NoteGrid for every chorale the note model can use (four voices, 4/4 or 3/4).
    first=N: only the first N chorales, parsed now and not cached (for quick checks and tests)."""
    path = Path(cache) / f"notes-chorales-v{CACHE_VERSION}.json.gz"
    if path.exists() and not refresh and not first:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return {name: NoteGrid(**fields) for name, fields in json.load(handle).items()}
    names = chorale_names()[: first or None]
    if progress:
        from tqdm import tqdm

        names = tqdm(names, desc="parsing chorales", unit="piece")
    grids: dict[str, NoteGrid] = {}
    seen: set[tuple[str, ...]] = set()
    for name in names:
        try:
            grid = parse_chorale(name)
        except NotesError:
            continue  # five or more parts, a changing meter, ...
        fingerprint = tuple(encode(normalise(grid)[0]))
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        grids[name] = grid
    if first:
        return grids
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as handle:
        json.dump({name: asdict(grid) for name, grid in grids.items()}, handle)
    tmp.replace(path)
    return grids


def is_validation(name: str) -> bool:
    return zlib.crc32(name.encode()) % 100 < VALID_PERCENT


def split(grids: dict[str, NoteGrid]) -> tuple[dict[str, NoteGrid], dict[str, NoteGrid]]:
    """(train, validation), by piece."""
    train = {n: g for n, g in grids.items() if not is_validation(n)}
    valid = {n: g for n, g in grids.items() if is_validation(n)}
    return train, valid
