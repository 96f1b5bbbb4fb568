"""`tunesmith finetune abc`: fine-tune the ABC model on the tunes people rated well.

    tunesmith finetune abc [--min-stars 4] [--min-votes 1] [--epochs 3] [--base WEIGHTS] [--dry-run]

The well-rated tunes are mixed with a sample of the base corpus (model.abc.train.finetune does the
mixing, so the model does not collapse onto a few tunes) and the result is written, with its model
card, to <data_dir>/weights/abc-ft-<time>/abc.pt. Nothing changes until you point the bot at it:
TUNESMITH_ABC_WEIGHTS=<that path>. --dry-run only prints what would be used.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bot.config import ConfigError, load_settings
from bot.export import ExportError, open_database
from bot.numbers import cli_float, cli_int
from bot.store.reports import rated_tunes


def select(db: str | None, min_stars: float, min_votes: int) -> list[dict]:
    """The rated ABC tunes that qualify, as export records."""
    conn = open_database(db)
    try:
        return rated_tunes(conn, min_stars=min_stars, min_votes=min_votes, text_format="abc")
    finally:
        conn.close()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tunesmith finetune", description="Fine-tune a model on well-rated tunes.")
    p.add_argument("model", choices=("abc",), help="which model (only the ABC model can be fine-tuned)")
    p.add_argument("--min-stars", type=cli_float, default=4.0, help="lowest mean rating to learn from (default 4)")
    p.add_argument("--min-votes", type=cli_int, default=1, help="fewest ratings a tune needs (default 1)")
    p.add_argument("--epochs", type=cli_int, default=3, help="passes over the mix (default 3)")
    p.add_argument("--base-share", type=cli_float, default=0.5, help="share of base-corpus tunes in the mix (default 0.5)")
    p.add_argument("--base", help="weights to start from (default: the configured or shipped ABC weights)")
    p.add_argument("--out", help="output directory (default: <data_dir>/weights/abc-ft-<time>)")
    p.add_argument("--threads", type=cli_int, default=2)
    p.add_argument("--seed", type=cli_int, default=1)
    p.add_argument("--db", help="database file (default: the data dir's)")
    p.add_argument("--dry-run", action="store_true", help="print the counts; train nothing")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)

    def fail(message: str) -> int:
        print(f"tunesmith finetune: {message}", file=sys.stderr)
        return 1

    if not 1 <= args.min_stars <= 5:
        return fail(f"--min-stars {args.min_stars:g} is out of range; use 1 to 5")
    if args.min_votes < 1 or not 1 <= args.epochs <= 100 or not 0 <= args.base_share < 1:
        return fail("--min-votes must be 1 or more, --epochs 1 to 100, --base-share from 0 up to (not including) 1")
    try:
        settings = load_settings()
        records = select(args.db, args.min_stars, args.min_votes)
    except (ExportError, ConfigError) as exc:
        return fail(str(exc))

    from model.abc.train import canonical_texts  # torch: only once we know there is work
    texts = [r["text"] for r in records]
    usable, skipped = canonical_texts(texts)
    versions: dict[str, int] = {}
    for r in records:
        versions[r["model_version"]] = versions.get(r["model_version"], 0) + 1
    mix_base = int(len(usable) * args.base_share / (1 - args.base_share))
    print(f"{len(records)} rated ABC tunes with mean >= {args.min_stars:g} and >= {args.min_votes} votes; "
          f"{len(usable)} usable, {skipped} skipped; each epoch adds ~{mix_base} base-corpus tunes")
    for version, n in sorted(versions.items()):
        print(f"  {n:>5} from model {version}")
    if args.dry_run:
        return 0
    if not usable:
        return fail("no usable tunes to learn from; lower --min-stars / --min-votes or collect more ratings")
    if len(usable) < 20:
        print(f"note: only {len(usable)} tunes; the result will differ little from the base model", file=sys.stderr)

    base = args.base or settings.abc_weights or None
    out = Path(args.out) if args.out else settings.data_dir / "weights" / time.strftime("abc-ft-%Y%m%d-%H%M%S")
    from model.abc.train import finetune
    try:
        weights = finetune(base, texts, out, epochs=args.epochs, base_share=args.base_share, seed=args.seed,
                           threads=args.threads, log=lambda m: print(m, file=sys.stderr))
    except (ValueError, FileNotFoundError) as exc:
        return fail(str(exc))
    print(f"wrote {weights} and {weights.with_suffix('.json')}")
    print(f"to use it: TUNESMITH_ABC_WEIGHTS={weights} (or abc_weights in tunesmith.toml), then restart the bot")
    return 0
