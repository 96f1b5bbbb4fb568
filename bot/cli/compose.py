"""`tunesmith compose`: compose one tune into files, with the same worker code the bot runs.

    tunesmith compose --style jig --length 32 [--form AABB] [--key D] [--tempo 120] [--temperature 0.9] [--seed 7]
                      [--instrument fiddle] [--meter 6/8] [--no-accompaniment] [--continue TUNE.abc]
                      --out DIR [--json]

Writes tune.abc (or tune.musicxml), tune.mid, tune.mp3 and tune.png into DIR. With --json, prints
one JSON object: the paths, the request, the seed used, the model version and a `note` when the
length was adjusted to fit the form.

Length counts bars as played, repeats expanded: a 32-bar jig is AABB with 8-bar parts, written as
16 bars between repeat signs. A length that does not fit the form becomes the nearest one that does,
and the note says so (the same rule as in Discord and chat: bot/requests.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.cli.files import FileArgError, check_out_dir, read_input
from bot.config import ConfigError
from bot.requests import DEFAULT_LENGTH, MAX_CONTINUE_CHARS, RequestError, from_options
from bot.styles import DEFAULT_STYLE, STYLES


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tunesmith compose", description="Compose a tune into files.")
    p.add_argument("--style", default=DEFAULT_STYLE, help=f"one of: {', '.join(STYLES)} (default {DEFAULT_STYLE})")
    p.add_argument(
        "--length",
        "--bars",
        dest="length",
        default=str(DEFAULT_LENGTH),
        help="bars as played, repeats expanded (32 = AABB with 8-bar parts), 4-128",
    )
    p.add_argument(
        "--form", help="parts in playing order, e.g. AABB, AB, ABAC, AABBCC (default: the style's usual form)"
    )
    p.add_argument("--key", help="e.g. D, Em, F#m, Ador, Bbmix (default: the model's choice)")
    p.add_argument("--tempo", help="beats per minute, 40-240 (default: the style's)")
    p.add_argument("--temperature", help="0.1-2.0; higher is wilder (default 0.9)")
    p.add_argument("--seed", help="a whole number; the same seed gives the same tune")
    p.add_argument("--instrument", help="e.g. fiddle, flute, piano (default: the style's)")
    p.add_argument("--meter", help="override the style's meter, e.g. 2/4")
    p.add_argument("--no-accompaniment", action="store_true", help="no bass and chords")
    p.add_argument("--continue", dest="continue_file", metavar="TUNE.abc", help="continue this ABC tune")
    p.add_argument("--out", required=True, help="directory for the files (created if missing)")
    p.add_argument("--json", action="store_true", help="print one JSON object describing the result")
    return p


def _read_continue(name: str) -> str:
    """The text of the --continue file: a regular file, read with a bound, UTF-8."""
    data = read_input(name, "--continue", MAX_CONTINUE_CHARS * 4)  # 4 bytes per character at most
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RequestError(f"--continue {name} is not UTF-8 text; save the tune as UTF-8") from None


def _write(out: Path, files: dict[str, bytes]) -> dict[str, str]:
    """Write the files into `out` (created if missing); their paths. FileArgError when that fails
    (the directory was checked before composing, but a disk can fill or a path change meanwhile)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, data in files.items():
            (out / name).write_bytes(data)
            paths[name] = str(out / name)
    except OSError as exc:
        raise FileArgError(f"cannot write the files to {out}: {exc.strerror or exc}") from None
    return paths


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    options = dict(
        style=args.style,
        length=args.length,
        key=args.key,
        tempo=args.tempo,
        temperature=args.temperature,
        seed=args.seed,
        instrument=args.instrument,
        meter=args.meter,
        form=args.form,
    )
    if args.no_accompaniment:
        options["accompaniment"] = False
    try:
        if args.continue_file is not None:
            options["continue_abc"] = _read_continue(args.continue_file)
        request = from_options(**options)
        out = check_out_dir(args.out)  # before composing: a bad --out must not cost the wait
        from bot import worker  # after validation: importing the models is the slow part

        artifacts = worker.compose(request)
        paths = _write(out, artifacts.files)
    except (RequestError, ConfigError, ValueError) as exc:
        print(f"tunesmith compose: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(
            json.dumps(
                {
                    "files": paths,
                    "request": request.to_dict(),
                    "seed": artifacts.facts.seed,
                    "model_version": artifacts.facts.model_version,
                    "note": request.note or artifacts.facts.note,
                    "meta": artifacts.facts.to_dict(),
                }
            )
        )
    else:
        f = artifacts.facts
        print(
            f"{f.style} in {f.key}, {f.bars} bars, {f.duration_s} s, seed {f.seed} (model {f.model_version})"
            + (f", form {f.form_text}" if f.form else "")
        )
        for note in (request.note, f.note):
            if note:
                print(f"  note: {note}")
        for path in paths.values():
            print(f"  {path}")
    return 0
