"""The training corpus: fiddle tunes from the music21 package, normalised to canonical ABC in C.

Sources (all shipped inside music21, so anyone can retrain): ryansMammoth, oneills1850 (records
de-duplicated by tune number, the collection's files overlap), airdsAirs, miscFolk. Every tune is
parsed, transposed to a C tonic, re-written canonically and checked by the bar tracker; tunes that
cannot be parsed or whose bars do not add up are left out and counted. Exact duplicates (same
canonical text) are dropped. The split is by tune, deterministic (a hash of the text), 5% held out.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from model.abc.notation import END, AbcError, body_of, parse_tune, split_tunes, to_canonical

COLLECTIONS = ("ryansMammoth", "oneills1850", "airdsAirs", "miscFolk")
VALID_PERCENT = 5


@dataclass
class Corpus:
    train: list[str]
    valid: list[str]
    stats: dict = field(default_factory=dict)
    original_keys: dict = field(default_factory=dict)  # canonical text -> the key it was written in

    @property
    def tunes(self) -> list[str]:
        return self.train + self.valid


def corpus_dir() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def raw_tunes() -> list[tuple[str, str]]:
    """(source label, raw ABC text) for every tune record, oneills1850 de-duplicated by number."""
    root = corpus_dir()
    out = []
    seen_oneills = set()
    for coll in COLLECTIONS:
        for path in sorted((root / coll).glob("*.abc")):
            text = path.read_text(encoding="latin-1")
            for tune in split_tunes(text):
                if coll == "oneills1850":
                    m = re.match(r"X:\s*(\d+)", tune)
                    num = int(m.group(1)) if m else None
                    if num in seen_oneills:
                        continue
                    seen_oneills.add(num)
                out.append((f"{coll}/{path.name}", tune))
    return out


def is_valid_tune(text: str) -> str | None:
    """None if the tracker accepts a canonical tune text, else the reason."""
    from model.abc.tracker import BarTracker, TrackerError

    header = text.partition("K:")[0]
    meter = re.search(r"M:(\S+)", header).group(1)
    tracker = BarTracker(meter)
    try:
        tracker.feed_text(body_of(text))
        tracker.finish()
    except TrackerError as e:
        return str(e)
    return None


@functools.lru_cache(maxsize=2)
def load_corpus(valid_percent: int = VALID_PERCENT) -> Corpus:
    """Normalised tunes (canonical text ending in a newline, without END), split train/valid.
    Cached per process (treat the result as read-only)."""
    reasons: Counter = Counter()
    seen: set[str] = set()
    tunes: list[str] = []
    keys: Counter = Counter()
    original: dict[str, str] = {}
    records = raw_tunes()
    for _source, raw in records:
        try:
            tune = parse_tune(raw)
            text = to_canonical(tune)
        except (AbcError, ValueError) as e:
            reasons[
                "unparsed: "
                + re.sub(r" at line.*| \(.*|'.*|\s*[{\[(\"!+].*", "", re.sub(r"^line \d+: ", "", str(e))).strip()[:60]
            ] += 1
            continue
        bad = is_valid_tune(text)
        if bad:
            reasons["bars: " + re.sub(r" at .*|\d+", "", bad)[:60]] += 1
            continue
        body = body_of(text)
        if body in seen:
            reasons["duplicate"] += 1
            continue
        seen.add(body)
        tunes.append(text)
        keys[tune.key.name] += 1
        original[text] = tune.key.name
    train, valid = [], []
    for t in tunes:
        h = int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)
        (valid if h % 100 < valid_percent else train).append(t)
    rhythms = Counter(re.match(r"R:(.*)", t).group(1) for t in tunes)
    modes = Counter(re.search(r"K:C(\w+)", t).group(1) for t in tunes)
    stats = {
        "records": len(records),
        "kept": len(tunes),
        "dropped": dict(reasons.most_common()),
        "rhythms": dict(rhythms.most_common()),
        "modes": dict(modes.most_common()),
        "keys": dict(keys.most_common()),
        "train_tunes": len(train),
        "valid_tunes": len(valid),
        "train_chars": sum(len(t) + 1 for t in train),
        "valid_chars": sum(len(t) + 1 for t in valid),
    }
    return Corpus(train, valid, stats, original)


def stream(tunes: list[str]) -> str:
    """Tunes joined into one training text: each tune followed by the END symbol."""
    return "".join(t + END for t in tunes)
