"""A corpus of malformed ABC, generated (not hand-picked) and deterministic for a seed: mutations of
the bundled examples (bot/examples/*.abc) and random tunes from a small ABC grammar that mixes valid
and invalid pieces. Used by tests/test_fuzz_abc.py; `python -m tests.fuzz_abc N` prints case N."""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "bot" / "examples").glob("*.abc"))
SEED = 20261130
MUTANTS_PER_EXAMPLE = 100
GRAMMAR_CASES = 150

# Pieces the generators draw from: valid ABC, edge values and junk that fuzzing found troublesome.
ABC_CHARS = "|:[]()^_=,'\"!{}<>/0123456789ABCDEFGabcdefgzxZ-.~%+&\\ \n\t#$*;@`"
METERS = [
    "6/8",
    "4/4",
    "3/4",
    "2/2",
    "C",
    "C|",
    "0/4",
    "4/0",
    "0/0",
    "999/1",
    "1/1024",
    "-3/4",
    "abc",
    "",
    "7/3",
    "12/8",
    "3/4 % note",
    "none",
    "2+3/8",
]
UNITS = ["1/8", "1/16", "1/4", "0/8", "1/0", "1/1000000", "3", "", "x/y", "1/3"]
KEYS = [
    "D",
    "G",
    "Ador",
    "F#m",
    "Bbmix",
    "",
    "H",
    "C#mmm",
    "Ador octave=9",
    "none",
    "K",
    "G clef=bass",
    "D exp ^f _b",
    "Zmaj",
    "C transpose=200",
]
TEMPOS = ["1/4=120", "3/8=116", "1/0=120", "0/4=90", "0", "99999", '"Allegro" 1/4=120', "1/4=", "=120", "x"]
FIELD_LINES = [
    "V:1 program=999",
    "%%MIDI program 300",
    "V:1 clef=treble %%MIDI program 999",
    "I:MIDI program 200",
    "%%abc-include /etc/hostname",
    "%%MIDI ptstress /etc/hostname",
    "V:2",
    "V:1 octave=20",
    "W:words",
    "P:ABAB",
    "M:0/4",
    "L:1/0",
    "K:",
    "Q:1/0=60",
    "T:" + "long title " * 50,
    "%comment",
    "%%MIDI drum dddd 999 999 999 999",
    "X:2",
    "w: la la la",
    "V:1 transpose=-300",
    "U:T=!trill!",
]
NOTE_LENGTHS = ["", "2", "3", "/", "//", "/2", "3/2", "4", "8", "0", "99999999", "/0", "1/0", "16", "3/", "0/0"]
ACCIDENTALS = ["", "", "", "^", "_", "=", "^^", "__", "^^^", "_=^"]
OCTAVES = ["", "", "'", ",", "''", ",,", "'''''''''", ",,,,,,,,,,"]
BARS = ["|", "|", "||", "|]", ":|", "|:", "::", ":|2", "|1", "[1", "[2", ":||:", "|]]", "[|", "::::", '|2"Am"']
DECORATIONS = ["!trill!", "!fermata!", "~", ".", "!f!", "!nonsense!", "!", "+plus+", "H", "!" * 3]


@dataclass(frozen=True)
class Case:
    name: str  # how it was made, e.g. "anvil_reel.abc/mutant-17: delete_span+insert_field"
    text: str


def _note(rng: random.Random) -> str:
    return rng.choice(ACCIDENTALS) + rng.choice("ABCDEFGabcdefgzxZ") + rng.choice(OCTAVES) + rng.choice(NOTE_LENGTHS)


def _element(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if roll < 0.55 or depth > 2:
        return _note(rng)
    if roll < 0.62:
        return "[" + "".join(_note(rng) for _ in range(rng.randint(0, 4))) + rng.choice(["]", "]", "", "]]"])
    if roll < 0.68:
        return f"({rng.randint(0, 12)}" + "".join(_note(rng) for _ in range(rng.randint(0, 5)))
    if roll < 0.73:
        return "{" + "".join(_note(rng) for _ in range(rng.randint(0, 3))) + rng.choice(["}", "", "}}"])
    if roll < 0.78:
        return rng.choice(DECORATIONS) + _element(rng, depth + 1)
    if roll < 0.83:
        return '"' + rng.choice(["Am", "G7", "D/F#", "", "^above", "_below", "Xyz", "C" * 30]) + rng.choice(['"', ""])
    if roll < 0.88:
        return _note(rng) + rng.choice([">", "<", ">>", "<<<", ">>>>"]) + _note(rng)
    if roll < 0.92:
        return "(" + _element(rng, depth + 1) + _element(rng, depth + 1) + rng.choice([")", "", "))"])
    if roll < 0.96:
        field = rng.choice(
            [
                "M:" + rng.choice(METERS),
                "L:" + rng.choice(UNITS),
                "K:" + rng.choice(KEYS),
                "Q:" + rng.choice(TEMPOS),
                "I:MIDI program 999",
                "V:1",
                "P:A",
            ]
        )
        return "[" + field + rng.choice(["]", ""])
    return rng.choice(["-", " ", "  ", "\\\n", "`", "y", "&", "#", "$", "\t"])


def grammar_tune(rng: random.Random) -> str:
    """A random tune: a header of fields (each value valid or not) and bars of random elements."""
    header = [f"X:{rng.choice(['1', '0', '', '-1', '99999999999'])}"] if rng.random() < 0.9 else []
    fields = [
        ("T", lambda: rng.choice(["Fuzz", "", "Caf\xe9", "\u266b" * 5])),
        ("M", lambda: rng.choice(METERS)),
        ("L", lambda: rng.choice(UNITS)),
        ("Q", lambda: rng.choice(TEMPOS)),
        ("R", lambda: rng.choice(["jig", "reel", "hornpipe", "polka", "", "nonsense"])),
    ]
    for letter, value in fields:
        if rng.random() < 0.75:
            header.append(f"{letter}:{value()}")
    if rng.random() < 0.3:
        header.append(rng.choice(FIELD_LINES))
    if rng.random() < 0.93:
        header.append("K:" + rng.choice(KEYS))
    lines = []
    for _ in range(rng.randint(0, 6)):
        bars = []
        for _ in range(rng.randint(1, 5)):
            bars.append("".join(_element(rng) for _ in range(rng.randint(0, 9))) + rng.choice(BARS))
        lines.append(rng.choice(["", "", "|:"]) + " ".join(bars))
        if rng.random() < 0.15:
            lines.append(rng.choice(FIELD_LINES))
    return "\n".join(header + lines) + rng.choice(["\n", "", "\n\n", "\r\n"])


# ---- mutations of a real tune -------------------------------------------------------------------


def _span(rng: random.Random, text: str) -> tuple[int, int]:
    start = rng.randrange(len(text) + 1)
    return start, min(len(text), start + rng.randint(1, 40))


def delete_span(rng, text):
    a, b = _span(rng, text)
    return text[:a] + text[b:]


def duplicate_span(rng, text):
    a, b = _span(rng, text)
    return text[:b] + text[a:b] * rng.randint(1, 20) + text[b:]


def insert_chars(rng, text):
    at = rng.randrange(len(text) + 1)
    return text[:at] + "".join(rng.choice(ABC_CHARS) for _ in range(rng.randint(1, 12))) + text[at:]


def insert_element(rng, text):
    at = rng.randrange(len(text) + 1)
    return text[:at] + "".join(_element(rng) for _ in range(rng.randint(1, 4))) + text[at:]


def replace_field(rng, text):
    letter, values = rng.choice([("M", METERS), ("L", UNITS), ("K", KEYS), ("Q", TEMPOS)])
    lines = text.split("\n")
    found = [i for i, line in enumerate(lines) if line.startswith(letter + ":")]
    new = f"{letter}:{rng.choice(values)}"
    if found:
        lines[rng.choice(found)] = new
    else:
        lines.insert(rng.randint(1, max(1, len(lines) - 1)), new)
    return "\n".join(lines)


def insert_field_line(rng, text):
    lines = text.split("\n")
    lines.insert(rng.randint(0, len(lines)), rng.choice(FIELD_LINES))
    return "\n".join(lines)


def drop_line(rng, text):
    lines = text.split("\n")
    del lines[rng.randrange(len(lines))]
    return "\n".join(lines)


def swap_lines(rng, text):
    lines = text.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def truncate(rng, text):
    return text[: rng.randrange(len(text) + 1)]


def repeat_body_line(rng, text):
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    return "\n".join(lines[:i] + [lines[i]] * rng.randint(2, 60) + lines[i + 1 :])


def change_note_lengths(rng, text):
    chars = list(text)
    notes = [i for i, ch in enumerate(chars) if ch in "ABCDEFGabcdefg"]
    for i in rng.sample(notes, min(len(notes), rng.randint(1, 6))):
        chars[i] += rng.choice(NOTE_LENGTHS[1:] + OCTAVES[2:])
    return "".join(chars)


def line_endings(rng, text):
    return rng.choice(
        [
            text.replace("\n", "\r\n"),
            text.replace("\n", "\r"),
            "\ufeff" + text,
            text.replace("\n", "\n\n"),
            text.replace("\n", " \t\n"),
            text.replace("|", "\u2502"),
        ]
    )


MUTATIONS = [
    delete_span,
    duplicate_span,
    insert_chars,
    insert_element,
    replace_field,
    insert_field_line,
    drop_line,
    swap_lines,
    truncate,
    repeat_body_line,
    change_note_lengths,
    line_endings,
]


def mutant(rng: random.Random, text: str) -> tuple[str, str]:
    """1-4 mutations in a row; (names, text)."""
    names = []
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(MUTATIONS)
        text = op(rng, text) if text else insert_element(rng, text)
        names.append(op.__name__)
    return "+".join(names), text


def corpus(seed: int = SEED) -> list[Case]:
    """The whole corpus: the same cases, in the same order, for the same seed."""
    rng = random.Random(seed)
    cases = []
    for path in EXAMPLES:
        original = path.read_text(encoding="utf-8")
        for i in range(MUTANTS_PER_EXAMPLE):
            how, text = mutant(rng, original)
            cases.append(Case(f"{path.name}/mutant-{i}: {how}", text))
    for i in range(GRAMMAR_CASES):
        cases.append(Case(f"grammar-{i}", grammar_tune(rng)))
    return cases


if __name__ == "__main__":
    everything = corpus()
    chosen = everything[int(sys.argv[1])] if len(sys.argv) > 1 else None
    if chosen:
        print(f"# {chosen.name}\n{chosen.text}")
    else:
        print(f"{len(everything)} cases")
