"""`tunesmith finetune abc`: fine-tune the ABC model on the tunes people rated well.

    tunesmith finetune abc [--min-stars 4] [--min-votes 1] [--min-tunes 20] [--include-self-votes]
                           [--dataset FILE.jsonl] [--epochs 3] [--lr 5e-4] [--base WEIGHTS] [--out DIR]
                           [--check 40] [--dry-run]

The tunes come from the bot's database (self-votes left out, as in `tunesmith export`) or from an
exported dataset file (--dataset). Guards:
- fewer than --min-tunes usable tunes: it refuses (a handful of tunes only teaches the model to copy them);
- the well-rated tunes are mixed with a sample of the base corpus (model.abc.train.finetune), the
  weights kept are those of the epoch with the best bits/char on the held-out human corpus, and
  afterwards --check tunes are sampled from the new weights and judged like `tunesmith eval abc`
  (music21 and abc2midi parse rates, wrong-length bars, copies of corpus tunes). If they fall below
  model.abc.evaluate's floor the weights are renamed abc.rejected.pt and the command fails;
- the model card (abc.json) names the dataset (dataset.jsonl beside the weights, its sha256 and size),
  the base model version and the validity figures.
The result goes to <data_dir>/weights/abc-ft-<time>/abc.pt. Nothing changes until you point the bot at
it (TUNESMITH_ABC_WEIGHTS, or an A/B test: `tunesmith ab set PATH --share 0.5`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

from bot.config import ConfigError, load_settings
from bot.export import ExportError, load_jsonl, open_database, to_jsonl
from bot.numbers import cli_float, cli_int
from bot.store.reports import rated_tunes

MIN_TUNES = 20  # fewer usable tunes and fine-tuning refuses (--min-tunes)


def select(db: str | None, min_stars: float, min_votes: int, include_self_votes: bool = False) -> list[dict]:
    """The rated ABC tunes in the database that qualify, as export records."""
    conn = open_database(db)
    try:
        return rated_tunes(
            conn, min_stars=min_stars, min_votes=min_votes, text_format="abc", include_self_votes=include_self_votes
        )
    finally:
        conn.close()


def select_file(path: str, min_stars: float, min_votes: int) -> list[dict]:
    """The records of an exported dataset that qualify (ABC, enough votes, a high enough mean)."""
    if not Path(path).is_file():
        raise ExportError(f"no dataset file at {path}")
    return [
        r
        for r in load_jsonl(path)
        if r["text_format"] == "abc" and r["ratings"]["count"] >= min_votes and r["ratings"]["mean"] >= min_stars
    ]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tunesmith finetune", description="Fine-tune a model on well-rated tunes.")
    p.add_argument("model", choices=("abc",), help="which model (only the ABC model can be fine-tuned)")
    p.add_argument("--min-stars", type=cli_float, default=4.0, help="lowest mean rating to learn from (default 4)")
    p.add_argument("--min-votes", type=cli_int, default=1, help="fewest ratings a tune needs (default 1)")
    p.add_argument(
        "--min-tunes",
        type=cli_int,
        default=MIN_TUNES,
        help=f"refuse with fewer usable tunes than this (default {MIN_TUNES})",
    )
    p.add_argument(
        "--include-self-votes",
        action="store_true",
        help="count people's ratings of their own tunes (left out by default)",
    )
    p.add_argument("--dataset", help="learn from this exported JSONL file instead of the database")
    p.add_argument("--epochs", type=cli_int, default=3, help="passes over the mix (default 3)")
    p.add_argument("--lr", type=float, default=5e-4, help="learning rate (default 5e-4)")
    p.add_argument(
        "--base-share", type=cli_float, default=0.5, help="share of base-corpus tunes in the mix (default 0.5)"
    )
    p.add_argument("--base", help="weights to start from (default: the configured or shipped ABC weights)")
    p.add_argument("--out", help="output directory (default: <data_dir>/weights/abc-ft-<time>)")
    p.add_argument(
        "--check",
        type=cli_int,
        default=40,
        help="tunes sampled from the new weights to check they are still valid (default 40)",
    )
    p.add_argument("--threads", type=cli_int, default=2)
    p.add_argument("--seed", type=cli_int, default=1)
    p.add_argument("--db", help="database file (default: the data dir's)")
    p.add_argument("--dry-run", action="store_true", help="print the counts; train nothing")
    return p


def _check_options(args) -> str | None:
    if not 1 <= args.min_stars <= 5:
        return f"--min-stars {args.min_stars:g} is out of range; use 1 to 5"
    if args.min_votes < 1 or not 1 <= args.epochs <= 100 or not 0 <= args.base_share < 1:
        return "--min-votes must be 1 or more, --epochs 1 to 100, --base-share from 0 up to (not including) 1"
    if args.min_tunes < 1 or not 1 <= args.check <= 2000 or not 0 < args.lr <= 0.1:
        return "--min-tunes must be 1 or more, --check 1 to 2000, --lr above 0 and at most 0.1"
    return None


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)

    def fail(message: str) -> int:
        print(f"tunesmith finetune: {message}", file=sys.stderr)
        return 1

    problem = _check_options(args)
    if problem:
        return fail(problem)
    try:
        settings = load_settings()
        records = (
            select_file(args.dataset, args.min_stars, args.min_votes)
            if args.dataset
            else select(args.db, args.min_stars, args.min_votes, args.include_self_votes)
        )
    except (ExportError, ConfigError) as exc:
        return fail(str(exc))

    # torch: only once we know there is work
    from model.abc.train import canonical_texts

    texts = [r["text"] for r in records]
    usable, skipped = canonical_texts(texts)
    versions: dict[str, int] = {}
    for r in records:
        versions[r["model_version"]] = versions.get(r["model_version"], 0) + 1
    mix_base = int(len(usable) * args.base_share / (1 - args.base_share))
    votes = "self-votes included" if args.include_self_votes else "self-votes left out"
    print(
        f"{len(records)} rated ABC tunes with mean >= {args.min_stars:g} and >= {args.min_votes} votes "
        f"({votes}); {len(usable)} usable, {skipped} skipped; each epoch adds ~{mix_base} base-corpus tunes"
    )
    for version, n in sorted(versions.items()):
        print(f"  {n:>5} from model {version}")
    if args.dry_run:
        return 0
    if len(usable) < args.min_tunes:
        return fail(
            f"only {len(usable)} usable rated tunes; fine-tuning needs at least {args.min_tunes} "
            f"(--min-tunes): collect more ratings, or lower --min-stars / --min-votes"
        )

    base = Path(args.base or settings.abc_weights or Path(__file__).resolve().parent.parent / "model/weights/abc.pt")
    if not base.is_file():
        return fail(f"no base weights at {base}")
    out = Path(args.out) if args.out else settings.data_dir / "weights" / time.strftime("abc-ft-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    dataset = to_jsonl(records).encode()
    (out / "dataset.jsonl").write_bytes(dataset)
    card = {
        "dataset": {
            "file": "dataset.jsonl",
            "sha256": hashlib.sha256(dataset).hexdigest(),
            "tunes": len(records),
            "usable": len(usable),
            "skipped": skipped,
            "source": f"dataset file {Path(args.dataset).name}" if args.dataset else "the bot's database",
            "min_stars": args.min_stars,
            "min_votes": args.min_votes,
            "self_votes_included": bool(args.include_self_votes)
            or any((r.get("self_votes") or {}).get("included") for r in records),
            "from_model_versions": versions,
        },
        "base_weights": str(base),
        "command": "tunesmith finetune " + " ".join(argv),
    }
    from model.abc.train import finetune

    try:
        weights = finetune(
            base,
            texts,
            out,
            epochs=args.epochs,
            base_share=args.base_share,
            lr=args.lr,
            seed=args.seed,
            threads=args.threads,
            log=lambda m: print(m, file=sys.stderr),
            card=card,
        )
    except (ValueError, FileNotFoundError) as exc:
        return fail(str(exc))
    novelty = base.parent / "abc-novelty.gz"  # the corpus index the sampler checks copies against
    if novelty.is_file() and not (out / novelty.name).exists():
        shutil.copyfile(novelty, out / novelty.name)
    return _check_validity(weights, args.check, fail)


def _check_validity(weights: Path, n: int, fail) -> int:
    """Sample n tunes from the new weights, judge them, record the figures in the card; rename the
    weights abc.rejected.pt (and fail) when they fall below the floor."""
    from model.abc.evaluate import validity
    from model.abc.sample import load_abc_model

    card_path = weights.with_suffix(".json")
    card = json.loads(card_path.read_text())
    print(
        f"checking the new weights on {n} sampled tunes (parse rates, wrong bars, corpus copies) ...", file=sys.stderr
    )
    report = validity(load_abc_model(weights), n, log=lambda m: print(m, file=sys.stderr))
    base_eval = _base_evaluation(card.get("base_weights"))
    card["validity"] = report | {"base": base_eval}
    card_path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    keys = ("parse_music21", "parse_abc2midi", "wrong_bar_share", "copy_rate")
    print("validity       " + "  ".join(f"{k:>15}" for k in keys))
    print("  new weights  " + "  ".join(f"{report[k]!s:>15}" for k in keys))
    if base_eval:
        print("  base (card)  " + "  ".join(f"{base_eval.get(k, '-')!s:>15}" for k in keys))
    if not report["passed"]:
        rejected = weights.with_name("abc.rejected.pt")
        weights.replace(rejected)
        card_path.replace(rejected.with_suffix(".json"))
        return fail(
            "THE NEW WEIGHTS WRITE INVALID TUNES (" + "; ".join(report["problems"]) + "); they were "
            f"NOT installed: kept as {rejected} for inspection. Try fewer --epochs, a lower --lr or a "
            "larger --base-share."
        )
    print(f"wrote {weights} and {card_path} (model {card['model_version']}, base {card.get('base_model_version')})")
    print(
        f"to use it: TUNESMITH_ABC_WEIGHTS={weights} (then restart the bot), or try it on a share of the "
        f"requests first: tunesmith ab set {weights} --share 0.5"
    )
    return 0


def _base_evaluation(base: str | None) -> dict:
    """The base model's own `eval abc` figures from its card, for the side-by-side report."""
    if not base:
        return {}
    path = Path(base).with_suffix(".json")
    if not path.is_file():
        return {}
    samples = (json.loads(path.read_text()).get("evaluation") or {}).get("samples") or {}
    return {
        k: samples[k]
        for k in ("parse_music21", "parse_abc2midi", "wrong_bar_share", "copy_rate", "tunes")
        if k in samples
    }
