"""Titles for generated fiddle tunes, in the manner of the collections' own titles.

A small grammar learned from the corpus `T:` fields (music21's ryansMammoth, oneills1850, airdsAirs,
miscFolk): each title is matched against a handful of title shapes ("The Humours of {place}",
"{hon} {name}'s {thing}", "The {adj} {noun}", "The Road to {place}", ...). A shape's weight is how
many corpus titles have it, and the words filling its slots are the words those titles used, so a
generated title recombines the collections' own words ("The Humours of Glanmire", "Miss Dooley's
Fancy"). `build_grammar()` writes model/weights/titles.json (the learned grammar plus the comparison
keys of every corpus title, so that an exact corpus title is never given out); `fiddle_title()` reads it.

Rules: the same (seed, style) always gives the same title; a style word in a title is always the
tune's own style (a polka is a polka); no exact corpus title; no word of a short blocklist.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

from model.title_grammar import GRAMMAR_PATH, load_grammar

GRAMMAR_VERSION = "titles-1"

# What a style is called in a title; a title carries no other style's word.
STYLE_WORDS = {
    "jig": "Jig",
    "slip jig": "Slip Jig",
    "reel": "Reel",
    "hornpipe": "Hornpipe",
    "strathspey": "Strathspey",
    "polka": "Polka",
    "waltz": "Waltz",
    "march": "March",
}
# Words that name a kind of tune: never a slot word (a reel's title must not say "Jig").
_KIND_WORDS = {
    "reel",
    "reels",
    "jig",
    "jigs",
    "hornpipe",
    "hornpipes",
    "strathspey",
    "strathspeys",
    "strathsy",
    "quick",
    "polka",
    "polkas",
    "waltz",
    "march",
    "marches",
    "quickstep",
    "step",
    "clog",
    "air",
    "dance",
    "set",
    "slip",
    "slipjig",
    "hop",
    "lilt",
    "schottische",
    "mazurka",
    "quadrille",
    "galop",
    "fling",
    "song",
    "tune",
    "planxty",
    "rant",
    "double",
    "single",
}
# Slurs and coarse words (19th-century collections hold a few): a title with one is never given out.
BLOCKLIST = frozenset(
    {
        "coon",
        "coons",
        "darkey",
        "darkeys",
        "darky",
        "darkie",
        "nigger",
        "niggers",
        "negro",
        "wench",
        "squaw",
        "injun",
        "savage",
        "chink",
        "jap",
        "gypsy",
        "gyp",
        "tinker",
        "fuck",
        "shit",
        "cunt",
        "bitch",
        "whore",
        "slut",
        "bastard",
        "fag",
        "faggot",
        "queer",
        "kill",
        "killed",
        "murder",
        "hanged",
        "rape",
        "drunken",
        "drunk",
        "devil",
        "devil's",
        "hell",
        "damn",
        "dead",
        "corpse",
    }
)

_HON = r"Lady|Miss|Mrs|Mr|Sir|Lord|Captain|Major|Colonel|Dr|Father|Master|General|Duke|Duchess|Earl|Widow"
_WORD = r"(?:O'|Mc|Mac)?[A-Z][a-z]+"
_PLACE = rf"{_WORD}(?: {_WORD})?"
# Title shapes: (name, pattern over a normalised title, how to write it). A slot name before ":"
# in the pattern's group names the word pool it draws from.
SHAPES = [
    ("humours", rf"The Humou?rs of (?P<place>{_PLACE})", "The Humours of {place}"),
    (
        "journey",
        (
            rf"(?P<journey>(?:The )?(?:[A-Z][a-z]+ )?(?:Road|Farewell|Trip|Welcome|Way|Return|Journey|"
            rf"Ramble|Jaunt|Visit|Walk|Going|Home)) to (?P<place>{_PLACE})"
        ),
        "{journey} to {place}",
    ),
    (
        "possessive",
        rf"(?:(?P<hon>{_HON})\.? )?(?P<name>{_WORD})'s(?: (?P<thing>[A-Z][a-z]+))?",
        "{hon}{name}'s {thing}",
    ),
    ("planxty", rf"Planxty (?P<name>{_WORD})", "Planxty {name}"),
    ("of", rf"The (?P<head>(?:[A-Z][a-z]+ )?[A-Z][a-z]+) of (?P<of>(?:the )?{_PLACE})", "The {head} of {of}"),
    ("adj_noun", r"The (?P<adj>[A-Z][a-z]+) (?P<noun>[A-Z][a-z]+)", "The {adj} {noun}"),
    ("and", r"The (?P<noun>[A-Z][a-z]+) and (?:the|The) (?P<noun2>[A-Z][a-z]+)", "The {noun} and the {noun2}"),
]
_SHAPE_STYLES = {"planxty": {"jig", "waltz", "slip jig"}}  # a planxty is a harper's tune in 6/8 or 3/4
_POOL = {"noun2": "noun"}  # slots that share another slot's words
_OPTIONAL = {"hon", "thing"}  # may be empty; "thing" empty -> the style word


def normalise(title: str) -> str:
    """A corpus T: value -> the title proper: 'DIAMOND -- REEL.' -> 'Diamond', 'Night Cap, The' ->
    'The Night Cap', "Lord Gordon's Reel" -> "Lord Gordon's"."""
    t = re.split(r"\s+--\s*|\s*\(", title.strip())[0].strip(" .,;:!?\"'")
    if t.isupper():
        t = re.sub(r"'S\b", "'s", t.title())
    m = re.fullmatch(r"(.*?),\s*(The|A)", t)
    if m:
        t = f"{m.group(2)} {m.group(1)}"
    words = t.split()
    while len(words) > 1 and words[-1].lower().strip(".") in _KIND_WORDS:
        words.pop()
    return " ".join(words).strip(" .,;:")


def title_key(title: str) -> str:
    """What two titles are compared by: letters only, lower case, no leading 'the', no kind words."""
    words = re.findall(r"[a-z]+", normalise(title).lower())
    if words and words[0] == "the":
        words = words[1:]
    return "".join(w for w in words if w not in _KIND_WORDS)


def _clean_word(word: str) -> bool:
    low = word.lower()
    return bool(word) and not any(w in BLOCKLIST or w in _KIND_WORDS for w in re.split(r"[ ']", low) if w)


def learn(titles: list[str]) -> dict:
    """Corpus titles -> the grammar: shape weights, slot word counts, keys of every corpus title."""
    shapes: Counter = Counter()
    pools: dict[str, Counter] = {}
    for raw in titles:
        t = normalise(raw)
        for name, pattern, _ in SHAPES:
            m = re.fullmatch(pattern, t)
            if not m:
                continue
            slots = {k: v or "" for k, v in m.groupdict().items()}
            if not all(_clean_word(v) for k, v in slots.items() if v or k not in _OPTIONAL):
                break
            shapes[name] += 1
            for k, v in slots.items():
                pools.setdefault(_POOL.get(k, k), Counter())[v] += 1
            break
    keys = sorted({title_key(t) for t in titles} - {""})
    return {
        "version": GRAMMAR_VERSION,
        "shapes": dict(shapes.most_common()),
        "pools": {k: dict(c.most_common()) for k, c in sorted(pools.items())},
        "corpus_keys": keys,
    }


def corpus_titles() -> list[str]:
    """Every T: value of the fiddle collections (the first T: of each tune)."""
    from model.abc.data import raw_tunes

    out = []
    for _source, text in raw_tunes():
        m = re.search(r"(?m)^T:(.*)$", text)
        if m and m.group(1).strip():
            out.append(m.group(1).strip())
    return out


def build_grammar(path: Path = GRAMMAR_PATH) -> dict:
    """Learn the grammar from the corpus and write it (with its model card) to `path`."""
    titles = corpus_titles()
    grammar = learn(titles)
    from model.notes.titles import learn_chorale_grammar

    grammar["chorale"] = learn_chorale_grammar()
    grammar["card"] = {
        "name": "tunesmith title grammar",
        "version": GRAMMAR_VERSION,
        "data": {
            "fiddle": "music21 corpus T: fields: ryansMammoth, oneills1850, airdsAirs, miscFolk",
            "fiddle_titles": len(titles),
            "titles_matching_a_shape": sum(grammar["shapes"].values()),
            "chorale": "phrases of the lyrics of music21's Bach chorales (bach/bwv*.mxl)",
            "chorale_phrases": len(grammar["chorale"]["lines"]),
        },
        "method": "title shapes (regular expressions) weighted by corpus counts; slot words from the "
        "titles of each shape; chorale titles from a word-bigram chain over the chorales' lyric phrases",
        "rules": "no exact corpus title (compared by title_key); blocklisted words never used; "
        "style word always the tune's own style",
        "build": "python -m model.abc.titles --build",
    }
    path.write_text(json.dumps(grammar, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return grammar


def _draw(rng: random.Random, counts: dict[str, int]) -> str:
    """A word, weighted by the square root of its corpus count (rare words get a fair chance); an
    optional slot stays empty as often as it was empty in the corpus."""
    if "" in counts and rng.random() < counts[""] / sum(counts.values()):
        return ""
    words = [w for w in counts if w]
    return rng.choices(words, weights=[counts[w] ** 0.5 for w in words])[0]


def is_allowed(title: str, corpus_keys: frozenset) -> bool:
    """Not a corpus title, no blocklisted word."""
    words = re.findall(r"[a-z']+", title.lower())
    return title_key(title) not in corpus_keys and not any(
        w in BLOCKLIST or w.removesuffix("'s") in BLOCKLIST for w in words
    )


def fiddle_title(style: str, seed: int, grammar: dict | None = None) -> str:
    """A title for a tune of `style` (a key of STYLE_WORDS or anything else: no style word)."""
    g = grammar or load_grammar()
    rng = random.Random(f"tunesmith-title:{style}:{seed}")
    style_word = STYLE_WORDS.get(style, "")
    shapes = {n: w for n, w in g["shapes"].items() if style in _SHAPE_STYLES.get(n, {style})}
    formats = {name: fmt for name, _, fmt in SHAPES}
    title = ""
    for _attempt in range(50):
        shape = rng.choices(list(shapes), weights=list(shapes.values()))[0]
        slots = {k: _draw(rng, g["pools"][_POOL.get(k, k)]) for k in re.findall(r"\{(\w+)\}", formats[shape])}
        if slots.get("hon"):
            slots["hon"] += " "
        if shape == "possessive" and not slots["thing"]:
            slots["thing"] = style_word or "Fancy"
        if "noun2" in slots and slots["noun2"] == slots["noun"]:
            continue
        title = " ".join(formats[shape].format(**slots).split())
        if is_allowed(title, g["corpus_keys"]):
            return title
    return title if is_allowed(title, g["corpus_keys"]) else f"The Tunesmith's {style_word or 'Tune'}"


def measure(n: int = 1000) -> dict:
    """n generated titles (styles in turn, seeds 0..n-1): exact corpus titles, distinct share."""
    g = load_grammar()
    styles = sorted(STYLE_WORDS)
    made = [fiddle_title(styles[i % len(styles)], i, g) for i in range(n)]
    from model.notes.titles import chorale_title

    chorales = [chorale_title(i, g["chorale"]) for i in range(n)]
    phrases = {re.sub(r"\W", "", line.lower()) for line in g["chorale"]["lines"]}
    return {
        "titles": n,
        "exact_corpus_titles": sum(title_key(t) in g["corpus_keys"] for t in made),
        "distinct": len(set(made)) / n,
        "sample": made[:20],
        "chorale_exact_corpus_phrases": sum(re.sub(r"\W", "", t.lower()) in phrases for t in chorales),
        "chorale_distinct": len(set(chorales)) / n,
        "chorale_sample": chorales[:5],
    }


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--build"]:
        built = build_grammar()
        print(f"wrote {GRAMMAR_PATH}: {built['card']['data']}")
    else:
        print(json.dumps(measure(), indent=1, ensure_ascii=False))
