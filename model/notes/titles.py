"""Titles for generated chorales, in the chorales' own manner: a hymn's first line.

A Bach chorale is known by the first line of its hymn ("Nun lob, mein Seel, den Herren"). We learn
from the phrases of all verses in music21's Bach chorales (lyrics read straight from the .mxl
files, no music21 parsing: ~1 s for all) a word-bigram chain; a title is a walk of 3 to 7 words from
a phrase's first word to a word that ended a phrase. The lines and the chain are stored in
model/weights/titles.json (under "chorale", built by `python -m model.abc.titles`). No title is an
exact corpus phrase, nor the start of one; the same seed always gives the same title.
"""

from __future__ import annotations

import itertools
import random
import re
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

_LINE_END = re.compile(r"[,;:.!?]$")
MIN_WORDS, MAX_WORDS = 3, 7
# Words a title does not end on (a phrase in the corpus may, when the verse runs on).
_NO_END = {
    "ein",
    "eine",
    "einen",
    "zu",
    "und",
    "der",
    "die",
    "das",
    "den",
    "dem",
    "des",
    "in",
    "mit",
    "auf",
    "an",
    "von",
    "aus",
    "für",
    "so",
    "wie",
    "mein",
    "dein",
    "sein",
    "kein",
    "im",
    "am",
    "vor",
    "als",
    "wer",
    "was",
    "wo",
    "da",
    "dass",
    "daß",
    "uns",
    "mir",
    "ich",
    "er",
    "es",
    "wir",
    "ihr",
}


def first_lines() -> tuple[list[str], list[str]]:
    """(the opening phrase of each chorale, every phrase): phrases are split at commas and stops, at
    most MAX_WORDS words, from every verse of each chorale whose soprano part carries lyrics."""
    import music21

    root = Path(music21.__file__).parent / "corpus" / "bach"
    lines, openings = set(), set()
    for path in sorted(root.glob("bwv*.mxl")):
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.startswith("META")]
            xml = z.read(names[0]).decode("utf-8", "replace")
        phrases = [" ".join(p) for p in _phrases(xml.split("</part>")[0]) if len(p) >= MIN_WORDS]
        lines.update(phrases)
        openings.update(phrases[:1])
    return sorted(openings), sorted(lines)


def _phrases(part: str) -> list[list[str]]:
    """Phrases of every verse (lyric number) of one part, the first verse's first."""
    phrases: dict[str, list[list[str]]] = defaultdict(list)
    words: dict[str, list[str]] = defaultdict(list)
    current: dict[str, str] = defaultdict(str)
    for m in re.finditer(r"<lyric([^>]*)>(.*?)</lyric>", part, re.DOTALL):
        number = re.search(r'number="(\d+)"', m.group(1))
        verse = number.group(1) if number else "1"
        text = re.search(r"<text>(.*?)</text>", m.group(2))
        syllabic = re.search(r"<syllabic>(\w+)</syllabic>", m.group(2))
        if not text:
            continue
        current[verse] += text.group(1).strip()
        if not syllabic or syllabic.group(1) in ("single", "end"):
            word = re.sub(r"^\d+\.", "", current.pop(verse)).strip()
            if word:
                words[verse].append(word)
            if _LINE_END.search(word) or len(words[verse]) >= MAX_WORDS:
                phrases[verse].append(words.pop(verse))
    return [p for verse in sorted(phrases, key=int) for p in phrases[verse]]


def learn_chorale_grammar() -> dict:
    """Phrases -> {"lines", "starts", "next", "ends"}: a word-bigram chain over every phrase, starting
    with the first word of an opening phrase."""
    openings, lines = first_lines()
    starts: Counter = Counter()
    nxt: dict[str, Counter] = defaultdict(Counter)
    ends: Counter = Counter()
    for line in lines:
        words = line.split()
        starts[words[0]] += line in openings and words[0][:1].isupper()
        if _LINE_END.search(words[-1]) and words[-1].rstrip(",;:.!?").lower() not in _NO_END:
            ends[words[-1].rstrip(",;:.!?")] += 1
        for a, b in itertools.pairwise(words):
            nxt[a.rstrip(",;:.!?")][b.rstrip(",;:.!?")] += 1
    return {
        "lines": lines,
        "starts": {w: n for w, n in starts.items() if n},
        "ends": dict(ends),
        "next": {w: dict(c) for w, c in sorted(nxt.items())},
    }


def _key(text: str) -> str:
    return "".join(re.findall(r"\w+", text.lower()))


def chorale_title(seed: int, grammar: dict | None = None) -> str:
    """A first line for a chorale: same seed, same title; never a corpus first line."""
    if grammar is None:
        from model.title_grammar import load_grammar

        grammar = load_grammar()["chorale"]
    known = [_key(line) for line in grammar["lines"]]
    rng = random.Random(f"tunesmith-chorale-title:{seed}")
    for _attempt in range(200):
        words = [rng.choices(list(grammar["starts"]), weights=list(grammar["starts"].values()))[0]]
        words[0] = words[0].rstrip(",;:.!?")
        while len(words) < MAX_WORDS:
            options = grammar["next"].get(words[-1])
            if not options:
                break
            if len(words) >= MIN_WORDS and words[-1] in grammar["ends"] and rng.random() < 0.35:
                break
            words.append(rng.choices(list(options), weights=list(options.values()))[0])
        key = _key(" ".join(words))
        if len(words) >= MIN_WORDS and words[-1] in grammar["ends"] and not any(k.startswith(key) for k in known):
            return words[0][:1].upper() + " ".join(words)[1:]
    return "Choral"


def credit_score(score, *, seed: int, model_version: str) -> None:
    """Put where a chorale came from in its MusicXML (not in its title): composer "Tunesmith" and a
    miscellaneous field with the model version and seed."""
    score.metadata.composer = "Tunesmith"
    score.metadata.addCustom("tunesmith", f"{model_version}, seed {seed}")
