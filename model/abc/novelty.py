"""The novelty check: does a tune share 4 or more consecutive identical bars with a training tune?

Bars are compared in the canonical form (in C, spaces removed), so a copy in another key or with
other beaming is still a copy. The index holds a 32-bit hash of every window of 4 consecutive bars
of every corpus tune; it is shipped as model/weights/abc-novelty.gz (sorted little-endian uint32,
gzip) and rebuilt from the music21 corpus if missing. A false alarm (hash collision) only costs a
resample.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np

from model.abc.notation import bars_of

WINDOW = 4


def _hash(bars: list[str]) -> int:
    return int.from_bytes(hashlib.blake2b("|".join(bars).encode(), digest_size=4).digest(), "little")


def windows(bars: list[str], first: int = 0) -> list[int]:
    """Hashes of every run of WINDOW bars that contains at least one bar at index >= first."""
    return [_hash(bars[i : i + WINDOW]) for i in range(max(0, first - WINDOW + 1), len(bars) - WINDOW + 1)]


class NoveltyIndex:
    def __init__(self, hashes: np.ndarray):
        self.hashes = np.unique(hashes.astype(np.uint32))
        self._set = set(self.hashes.tolist())

    def __len__(self) -> int:
        return len(self.hashes)

    def copies(self, text: str, first_new_bar: int = 0) -> bool:
        """True if the tune shares WINDOW consecutive bars with a corpus tune. Windows made only of
        bars before `first_new_bar` (a user's own bars when continuing) are not checked."""
        return any(h in self._set for h in windows(bars_of(text), first_new_bar))

    @classmethod
    def build(cls, tunes: list[str]) -> NoveltyIndex:
        return cls(np.array([h for t in tunes for h in windows(bars_of(t))], dtype=np.uint32))

    def save(self, path: Path) -> None:
        Path(path).write_bytes(gzip.compress(self.hashes.astype("<u4").tobytes(), mtime=0))

    @classmethod
    def load(cls, path: Path) -> NoveltyIndex:
        return cls(np.frombuffer(gzip.decompress(Path(path).read_bytes()), dtype="<u4"))

    @classmethod
    def load_or_build(cls, path: Path) -> NoveltyIndex:
        if Path(path).exists():
            return cls.load(path)
        from model.abc.data import load_corpus

        return cls.build(load_corpus().tunes)
