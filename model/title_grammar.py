"""The shipped title grammar (model/weights/titles.json): fiddle-tune titles (model/abc/titles.py) and
chorale first lines (model/notes/titles.py) both read it from here, so neither titles module imports the
other to load it."""

from __future__ import annotations

import functools
import json
from pathlib import Path

GRAMMAR_PATH = Path(__file__).resolve().parent / "weights" / "titles.json"


@functools.lru_cache(maxsize=2)
def load_grammar(path: Path = GRAMMAR_PATH) -> dict:
    grammar = json.loads(Path(path).read_text(encoding="utf-8"))
    grammar["corpus_keys"] = frozenset(grammar["corpus_keys"])
    return grammar
