"""The last touch on a composed tune: its title, where it came from, and its chords.

    abc = finish_tune(abc, style="polka", seed=7, model_version="abc-2026...")

- T: a generated title in the collections' manner (model/abc/titles.py); a continued tune keeps
  the user's own title when they gave one;
- a comment line right after K:, "% Tunesmith <model version>, seed <seed>" (they used to be in
  the title; a comment keeps the header exactly X: T: R: M: L: K: and the tune's end its last bar
  line). A continuation adds none: the user's text stays as written, the seed is in the post;
- chord symbols from the harmoniser (model/abc/harmony.py), so abc2midi plays bass and chords
  under the melody. In a continued tune the user's text stays exactly as they wrote it (with their
  chords, if any): only the generated bars get chord symbols (chosen with the whole tune in view).
"""

from __future__ import annotations

import re
from fractions import Fraction

from model.abc.harmony import add_chords
from model.abc.notation import default_unit, normalise_meter, parse_key, read_header
from model.abc.timeline import has_chords
from model.abc.titles import fiddle_title

PLACEHOLDER_TITLES = {"", "Continued tune"}  # what a continuation's header says when the user gave no T:


def finish_tune(abc: str, *, style: str, seed: int, model_version: str = "", user_part_end: int | None = None) -> str:
    """`abc`: one whole tune (header up to K:, then the body). `user_part_end`: for a continuation,
    the offset in `abc` where the user's own text ends and the generated bars begin."""
    parsed = read_header(abc)
    header, body, fields = parsed.lines[: parsed.key_line + 1], parsed.body, parsed.fields
    meter = normalise_meter(fields.get("M", "4/4"))
    unit = Fraction(fields["L"].replace(" ", "")) if "L" in fields else default_unit(meter)
    key = parse_key(fields["K"])

    body_start = len("\n".join(header)) + 1
    user_end = 0 if user_part_end is None else max(0, user_part_end - body_start)
    if user_part_end is None and has_chords(body):
        pass  # already harmonised (finishing twice changes nothing)
    else:
        body = add_chords(body, key, meter, unit, write_from=user_end)

    keep_title = user_part_end is not None and fields.get("T", "") not in PLACEHOLDER_TITLES
    title = fields["T"] if keep_title else fiddle_title(style, seed)
    head = [line for line in header if not line.startswith("T:")]
    head.insert(1 if head and head[0].startswith("X:") else 0, f"T:{title}")
    if user_part_end is None:
        body = f"% Tunesmith {model_version or 'model'}, seed {seed}\n" + re.sub(r"^% Tunesmith .*\n", "", body)
    return "\n".join(head) + "\n" + body
