"""The training corpus: fiddle tunes from the music21 package, normalised to canonical ABC in C.

Sources (all shipped inside music21, so anyone can retrain): ryansMammoth, oneills1850 (records
de-duplicated by tune number, the collection's files overlap), airdsAirs, miscFolk and
nottingham-dataset (the 2 tunes music21 ships of it). Not essenFolksong: its licence allows
non-commercial use only. Every tune is parsed, transposed to a C tonic, re-written canonically and
checked by the bar tracker; tunes that cannot be parsed or whose bars do not add up are left out and
counted. Exact duplicates (same canonical body) are dropped.

The split is by group of near-duplicates, so that another transcription of a held-out tune is never
trained on: tunes are joined (union-find) when they share a normalised title (`title_key`) or an
incipit (`incipit_keys`: the pitch classes of the first three bars, or of bars 2-4 so that a pickup
bar in one version only still matches, rhythm, octave, ornaments and chords' lower notes ignored).
A group is held out when a hash of its first canonical text (sorted) falls below VALID_PERCENT.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from model.abc.notation import END, AbcError, body_of, parse_tune, split_tunes, to_canonical

COLLECTIONS = ("ryansMammoth", "oneills1850", "airdsAirs", "miscFolk", "nottingham-dataset")
EXCLUDED = {"essenFolksong": "licence: non-commercial use only"}
VALID_PERCENT = 10
SPLIT_RULE = (
    "groups of near-duplicates (union-find over tunes sharing a normalised title, or the pitch classes of "
    "bars 1-3 or 2-4 of the canonical C text, rhythm/octave/ornaments ignored, at least 8 notes); a group is "
    "held out when int(sha1(its sorted first text)[:8], 16) % 100 < valid_percent"
)


@dataclass
class Corpus:
    train: list[str]
    valid: list[str]
    stats: dict = field(default_factory=dict)
    original_keys: dict = field(default_factory=dict)  # canonical text -> the key it was written in
    titles: dict = field(default_factory=dict)  # canonical text -> its title as written (T:)
    collections: dict = field(default_factory=dict)  # canonical text -> the collection it comes from

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


_TITLE_DROP = {
    "the", "a", "an", "of", "reel", "reels", "jig", "jigs", "hornpipe", "hornpipes", "strathspey", "strathspeys",
    "strathsy", "strathspy", "slipjig", "slip", "march", "air", "waltz", "polka", "clog", "set", "dance", "quickstep",
    "quick", "step", "song", "tune", "no", "untitled", "or", "and", "irish", "scotch", "scots", "scottish",
    "english", "welsh", "highland", "american", "german", "french", "dutch", "russian", "spanish", "italian",
    "prussian", "hessian", "danish", "swedish", "polish", "favorite", "favourite", "new", "old", "regt", "regiment",
}  # fmt: skip


def title_key(title: str) -> str | None:
    """A title reduced for matching variants: lower case, letters and digits, style words, nationalities and
    articles dropped ('X, The' and 'THE X -- REEL.' alike); None when too little is left to mean anything."""
    t = title.split("--")[0].lower().replace("'", "")
    t = re.sub(r"\(.*?\)", " ", t)
    words = [w for w in re.findall(r"[a-z0-9]+", t) if w not in _TITLE_DROP]
    key = " ".join(words)
    return key if len(re.sub(r"[^a-z]", "", key)) >= 5 else None


_PITCH_RE = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])")


def _pitches(bar: str) -> str:
    bar = re.sub(r"\{[^}]*\}", "", bar)  # grace notes
    bar = re.sub(r"\[([^\]]*)\]", lambda m: (_PITCH_RE.findall(m.group(1)) or [("", "")])[-1][1], bar)  # chord: a note
    return "".join(acc + letter.lower() for acc, letter in _PITCH_RE.findall(bar))


def incipit_keys(text: str, bars: int = 3, min_notes: int = 8) -> list[str]:
    """Pitch classes (accidental + letter, lower case) of bars 1..3 and 2..4 of a canonical tune."""
    from model.abc.notation import bars_of

    pitched = [p for p in (_pitches(b) for b in bars_of(text)) if p]
    keys = []
    for start in (0, 1):
        chunk = pitched[start : start + bars]
        key = "|".join(chunk)
        if len(chunk) == bars and len(re.findall(r"[a-g]", key)) >= min_notes:
            keys.append(key)
    return keys


def group_tunes(tunes: list[str], titles: list[str]) -> list[int]:
    """The group (index of its root tune) of every tune: union-find over shared title and incipit keys."""
    parent = list(range(len(tunes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, (text, title) in enumerate(zip(tunes, titles, strict=True)):
        tk = title_key(title)
        for key in ([f"T:{tk}"] if tk else []) + [f"I:{k}" for k in incipit_keys(text)]:
            j = first.setdefault(key, i)
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return [find(i) for i in range(len(tunes))]


def split_groups(tunes: list[str], groups: list[int], valid_percent: int) -> list[bool]:
    """True for the tunes held out: whole groups, chosen by a hash of the group's smallest text."""
    members: dict[int, list[str]] = {}
    for t, g in zip(tunes, groups, strict=True):
        members.setdefault(g, []).append(t)
    held = {
        g: int(hashlib.sha1(min(ts).encode()).hexdigest()[:8], 16) % 100 < valid_percent for g, ts in members.items()
    }
    return [held[g] for g in groups]


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
    collection: dict[str, str] = {}
    titles: list[str] = []
    sources: Counter = Counter()
    records = raw_tunes()
    for source, raw in records:
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
        titles.append(tune.title)
        sources[source.split("/")[0]] += 1
        keys[tune.key.name] += 1
        original[text] = tune.key.name
        collection[text] = source.split("/")[0]
    groups = group_tunes(tunes, titles)
    held = split_groups(tunes, groups, valid_percent)
    train = [t for t, h in zip(tunes, held, strict=True) if not h]
    valid = [t for t, h in zip(tunes, held, strict=True) if h]
    sizes = Counter(Counter(groups).values())
    rhythms = Counter(re.match(r"R:(.*)", t).group(1) for t in tunes)
    modes = Counter(re.search(r"K:C(\w+)", t).group(1) for t in tunes)
    stats = {
        "records": len(records),
        "kept": len(tunes),
        "sources": dict(sources.most_common()),
        "dropped": dict(reasons.most_common()),
        "rhythms": dict(rhythms.most_common()),
        "modes": dict(modes.most_common()),
        "keys": dict(keys.most_common()),
        "train_tunes": len(train),
        "valid_tunes": len(valid),
        "train_chars": sum(len(t) + 1 for t in train),
        "valid_chars": sum(len(t) + 1 for t in valid),
        "split": {
            "rule": SPLIT_RULE,
            "valid_percent": valid_percent,
            "groups": len(set(groups)),
            "groups_of_one": sizes[1],
            "largest_group": max(Counter(groups).values(), default=0),
            "train_groups": len({g for g, h in zip(groups, held, strict=True) if not h}),
            "valid_groups": len({g for g, h in zip(groups, held, strict=True) if h}),
            "valid_rhythms": dict(Counter(re.match(r"R:(.*)", t).group(1) for t in valid).most_common()),
        },
    }
    return Corpus(train, valid, stats, original, dict(zip(tunes, titles, strict=True)), collection)


def stream(tunes: list[str]) -> str:
    """Tunes joined into one training text: each tune followed by the END symbol."""
    return "".join(t + END for t in tunes)
