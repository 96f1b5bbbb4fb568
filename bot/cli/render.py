"""`tunesmith render TUNE.abc --out DIR`: render an ABC file to tune.mid, tune.mp3 and tune.png."""

from __future__ import annotations

import argparse
import json
import sys

from bot.cli.files import check_out_dir, read_input
from bot.numbers import cli_float, cli_int
from bot.render.abc2midi import MAX_ABC_CHARS
from bot.render.audio import MP3_BITRATES
from bot.render.renderer import Renderer, RenderError


class UsageError(ValueError):
    """A command line option is wrong; the message says which."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit 2 itself; we answer like any bad input
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tunesmith render", description="Render one ABC tune to MIDI, MP3 and sheet music (PNG).")
    p.add_argument("tune", help="the .abc file ('-' reads standard input); the first tune in it is rendered")
    p.add_argument("--out", required=True, help="directory for tune.mid, tune.mp3 and tune.png (created if needed)")
    p.add_argument("--instrument", default="fiddle", help="instrument name (default fiddle); see bot/instruments.py")
    p.add_argument("--tempo", type=cli_int, help="beats per minute (default: the tune's Q:, else its style's tempo)")
    p.add_argument("--beat", help="what one beat is, e.g. 3/8 for a jig (default: from the tune's M:)")
    p.add_argument("--no-accompaniment", action="store_true", help="melody only: ignore chord symbols")
    p.add_argument("--no-sheet", action="store_true", help="skip the sheet music PNG")
    p.add_argument("--ogg", action="store_true", help="also write tune.ogg (Ogg Vorbis)")
    p.add_argument(
        "--bitrate", type=cli_int, default=128, choices=MP3_BITRATES, metavar="KBPS", help="MP3 bitrate (default 128)"
    )
    p.add_argument(
        "--max-seconds", type=cli_float, default=600, help="cut the audio after this many seconds (default 600)"
    )
    p.add_argument("--soundfont", default="", help="a .sf2 file (default: the lookup order in soundfonts/README.md)")
    p.add_argument(
        "--json", action="store_true", help="print one JSON object: paths, duration_s, bars, tempo, instrument"
    )
    return p


def read_tune(name: str) -> bytes:
    """The tune's bytes ('-': standard input), read with a bound; a named file must be a regular file
    (not /dev/zero, a FIFO or a directory). RenderError/FileArgError say what is wrong."""
    limit = MAX_ABC_CHARS * 4  # 4 bytes per character at most; abc2midi.read_abc_text counts characters
    if name == "-":
        data = sys.stdin.buffer.read(limit + 1)
        if len(data) > limit:
            raise RenderError(
                f"standard input holds over {limit:,} bytes; one tune must be under "
                f"{MAX_ABC_CHARS:,} characters (render one tune at a time)"
            )
        return data
    return read_input(name, "the tune file", limit)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        soundfont = args.soundfont
        if not soundfont:
            from bot.config import load_settings

            soundfont = load_settings().soundfont
        abc = read_tune(args.tune)
        out = check_out_dir(args.out)  # before rendering: a bad --out must not cost the wait
        with Renderer(soundfont or None) as renderer:
            result = renderer.render_abc(
                abc,
                instrument=args.instrument,
                tempo=args.tempo,
                beat=args.beat,
                accompaniment=not args.no_accompaniment,
                bitrate=args.bitrate,
                max_seconds=args.max_seconds,
                sheet=not args.no_sheet,
                ogg=args.ogg,
            )
        try:
            out.mkdir(parents=True, exist_ok=True)
            paths = {"midi": out / "tune.mid", "mp3": out / "tune.mp3", "png": out / "tune.png" if result.png else None}
            paths["midi"].write_bytes(result.midi)
            paths["mp3"].write_bytes(result.mp3)
            for name, data in result.audio.items():  # --ogg: tune.ogg
                paths[name] = out / f"tune.{name}"
                paths[name].write_bytes(data)
            if result.png:
                paths["png"].write_bytes(result.png)
            else:  # no picture this time: do not leave an older tune's picture beside the new files
                (out / "tune.png").unlink(missing_ok=True)
        except OSError as exc:
            raise RenderError(f"cannot write to {out}: {exc.strerror or exc}") from None
    except ValueError as exc:  # RenderError, UsageError, ConfigError: all say what is wrong
        print(f"tunesmith render: {exc}", file=sys.stderr)
        return 1
    summary = {
        "midi": str(paths["midi"]),
        "mp3": str(paths["mp3"]),
        "png": str(paths["png"]) if paths["png"] else None,
        **{name: str(paths[name]) for name in result.audio},
        "duration_s": result.duration_s,
        "bars": result.bars,
        "tempo": result.tempo,
        "beat": result.beat,
        "instrument": result.instrument,
        "cut": result.cut,
        "warnings": list(result.warnings),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        files = ", ".join(str(p) for p in paths.values() if p)
        print(
            f"{files}\n{result.duration_s:.1f} s, {result.bars} bars at {result.tempo} bpm "
            f"(beat {result.beat}), {result.instrument}"
        )
        for warning in result.warnings:
            print(f"note: {warning}", file=sys.stderr)
    return 0
