"""`tunesmith eval feedback`: does fine-tuning on a community's ratings change what the bot composes?

    tunesmith eval feedback [--quick] [--taste minor|repetition|narrow ...] [--n N] [--work DIR] [--json]

The whole loop, offline, with the real parts:
1. compose N tunes with the current ABC model (styles in turn, 16 or 32 bars, no key asked: the model
   picks the mode, as it does for a /compose without a key); the "before" set is kept in the work
   directory and reused by later runs with the same model, N and seed;
2. for each taste (bot/community.py; "random" is the control): a fresh SQLite store; a simulated
   community on two servers asks
   for the tunes and rates them by the hidden taste through the Store API; half the requesters rate
   their own tune 5 (self-votes);
3. `tunesmith export` writes the dataset (self-votes left out), `tunesmith finetune abc --dataset ...`
   fine-tunes on the tunes rated >= 4 stars, with its guards (too few tunes, the validity check);
4. compose N new tunes with the fine-tuned weights and measure the same things; the same community
   rates them too, in the same store (as in an A/B test): mean stars per model version with a 95% CI.
Reported, before and after: the share of tunes with each trait (the taste's own is the goal),
validity (music21 and abc2midi parse rates, wrong-length bars), form (exact length, tunes ending on the
tonic, repeated bars, range) and novelty (tunes sharing 4+ bars with a corpus tune), as a table and
JSON (<work>/report-<tastes>.json; --json prints it). --quick: a small run for tests (a few minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import time
from pathlib import Path

from bot.community import TASTES, post_and_rate
from bot.numbers import cli_float, cli_int
from bot.styles import STYLES as STYLE_TABLE

# The styles the simulated community is sent, in this order: (rhythm, meter) from the style table.
STYLES = tuple(
    (STYLE_TABLE[name].rhythm, STYLE_TABLE[name].meter)
    for name in ("jig", "reel", "hornpipe", "march", "waltz", "slip jig", "strathspey")
)
LENGTHS = (16, 32)
TRAITS = ("minor", "repetitive", "narrow")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def compose_set(model, n: int, seed: int) -> list[dict]:
    """n tunes from `model`, each judged: abc, traits, validity and novelty figures."""
    from model.abc.evaluate import abc2midi_ok, judge
    from model.abc.notation import AbcError
    from model.abc.sample import AbcPrompt, GenerationError, compose_abc
    from model.abc.traits import traits

    out, t0 = [], time.time()
    for i in range(n):
        rhythm, meter = STYLES[i % len(STYLES)]
        bars = LENGTHS[(i // len(STYLES)) % len(LENGTHS)]
        tune_seed = seed * 100_000 + i
        row = {"style": rhythm, "bars": bars, "seed": tune_seed, "model_version": model.version}
        try:
            g = compose_abc(model, AbcPrompt(rhythm, meter, "1/8", None, bars=bars, seed=tune_seed))
        except (GenerationError, AbcError) as exc:
            out.append(row | {"failed": str(exc)[:200]})
            continue
        row.update(
            abc=g.abc,
            key=g.key,
            traits=traits(g.abc),
            judge=judge(g.abc, g.key, g.bars_written),
            abc2midi=abc2midi_ok(g.abc),
            copy=model.novelty.copies(g.body_c),
        )
        out.append(row)
        if (i + 1) % 25 == 0:
            log(f"  {i + 1}/{n} composed ({time.time() - t0:.0f} s)")
    return out


def measure(tunes: list[dict]) -> dict:
    """Shares and means over a composed set (failed compositions count against the parse rates)."""
    n = len(tunes)
    ok = [t for t in tunes if "abc" in t]
    read = [t for t in ok if t["judge"].get("music21")]
    measures = sum(t["judge"]["measures"] for t in read) or 1

    def share(items, test) -> float:
        return round(sum(1 for t in items if test(t)) / max(len(items), 1), 4)

    modes = {m: share(ok, lambda t, m=m: t["traits"]["mode"] == m) for m in ("maj", "min", "dor", "mix")}
    return {
        "tunes": n,
        "failed": n - len(ok),
        "traits": {k: share(ok, lambda t, k=k: t["traits"][k]) for k in TRAITS},
        "modes": modes,
        "parse_music21": round(len(read) / max(n, 1), 4),
        "parse_abc2midi": share(tunes, lambda t: t.get("abc2midi", False)),
        "wrong_bar_share": round(sum(t["judge"]["wrong_bars"] for t in read) / measures, 4),
        "exact_length": share(read, lambda t: t["judge"]["exact_length"]),
        "ends_on_tonic": share(read, lambda t: t["judge"]["ends_on_tonic"]),
        "repeated_bars": round(sum(t["traits"]["repeated_bars"] for t in ok) / max(len(ok), 1), 4),
        "range_steps": round(sum(t["traits"]["range_steps"] for t in ok) / max(len(ok), 1), 2),
        "corpus_copies": sum(1 for t in ok if t["copy"]),
    }


def before_set(model, n: int, seed: int, work: Path) -> list[dict]:
    """The "before" tunes, composed once per (model, n, seed) and kept in the work directory."""
    path = work / f"before-{model.version}-n{n}-s{seed}.jsonl"
    if path.is_file():
        log(f"reusing the before set {path}")
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    log(f"composing {n} tunes with {model.version} ...")
    tunes = compose_set(model, n, seed)
    tmp = path.with_suffix(".partial")
    tmp.write_text("".join(json.dumps(t) + "\n" for t in tunes))
    tmp.replace(path)
    return tunes


async def _community(db: Path, tunes: list[dict], taste: str, seed: int) -> dict:
    from bot.store import Store

    async with await Store.open(db) as store:
        return await post_and_rate(store, [t for t in tunes if "abc" in t], taste, seed)


def ab_compare(db: Path, after: list[dict], taste: str, seed: int) -> list[dict]:
    """The same community rates the fine-tuned model's tunes in the same store, as in an A/B test in
    the bot; returns reports.model_versions: mean stars, votes and 95% interval per model version."""
    from bot.store import open_sync, reports

    asyncio.run(_community(db, after, taste, seed + 7))
    conn = open_sync(db)
    try:
        return reports.model_versions(conn)
    finally:
        conn.close()


def run_taste(model, before: list[dict], taste: str, args, work: Path) -> dict:
    """Steps 2-4 for one taste; returns its part of the report."""
    from bot import export, finetune
    from model.abc.sample import load_abc_model

    root = work / taste
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    db = root / "tunesmith.sqlite3"
    counts = asyncio.run(_community(db, before, taste, args.seed))
    data = root / "feedback.jsonl"
    with contextlib.redirect_stdout(sys.stderr):
        exported = export.main(["--db", str(db), "--out", str(data)])
    if exported != 0:
        raise RuntimeError("tunesmith export failed")
    records = export.load_jsonl(data)
    liked = [r for r in records if r["ratings"]["mean"] >= args.min_stars]
    trait = TASTES[taste]
    traits_of = {t["abc"]: t["traits"] for t in before if "abc" in t}
    report = {
        "taste": taste,
        "trait": trait,
        "community": counts,
        "dataset": {
            "rated_tunes": len(records),
            "liked_tunes": len(liked),
            "liked_with_trait": sum(1 for r in liked if trait and traits_of[r["text"]][trait]),
            "self_votes_left_out": sum(r["self_votes"]["count"] for r in records),
            "file": str(data),
        },
        "before": measure(before),
    }
    ft_args = [
        "abc",
        "--dataset",
        str(data),
        "--base",
        str(model.path),
        "--out",
        str(root / "ft"),
        "--min-stars",
        f"{args.min_stars:g}",
        "--epochs",
        str(args.epochs),
        "--lr",
        f"{args.lr:g}",
        "--base-share",
        f"{args.base_share:g}",
        "--check",
        str(args.check),
        "--threads",
        "1",
        "--seed",
        str(args.seed),
        "--min-tunes",
        str(args.min_tunes),
    ]
    log(f"[{taste}] {len(liked)} of {len(records)} rated tunes liked; tunesmith finetune {' '.join(ft_args)}")
    t0 = time.time()
    with contextlib.redirect_stdout(sys.stderr):  # its report goes with the log; stdout keeps the result
        code = finetune.main(ft_args)
    report["finetune"] = {"exit_code": code, "seconds": round(time.time() - t0, 1), "command": ft_args}
    if code != 0:
        report["error"] = "tunesmith finetune refused or failed (see its message above)"
        return report
    card = json.loads((root / "ft" / "abc.json").read_text())
    report["finetune"] |= {
        "model_version": card["model_version"],
        "validity_check": card["validity"],
        "best_epoch": card.get("best_epoch"),
        "valid_bits_per_char": card.get("valid_bits_per_char"),
        "dataset_sha256": card["dataset"]["sha256"],
    }
    log(f"[{taste}] composing {args.n_after} tunes with the fine-tuned {card['model_version']} ...")
    after = compose_set(load_abc_model(root / "ft" / "abc.pt"), args.n_after, args.seed + 1)
    (root / "after.jsonl").write_text("".join(json.dumps(t) + "\n" for t in after))
    report["after"] = measure(after)
    report["ratings_per_model_version"] = ab_compare(db, after, taste, args.seed)
    report["trait_change_points"] = {
        k: round(100 * (report["after"]["traits"][k] - report["before"]["traits"][k]), 1) for k in TRAITS
    }
    return report


ROWS = (
    ("parse music21", "parse_music21"),
    ("parse abc2midi", "parse_abc2midi"),
    ("wrong bars", "wrong_bar_share"),
    ("exact length", "exact_length"),
    ("ends on tonic", "ends_on_tonic"),
    ("repeated bars (mean share)", "repeated_bars"),
    ("range (scale steps)", "range_steps"),
    ("corpus copies", "corpus_copies"),
    ("failed compositions", "failed"),
)


def table(report: dict) -> str:
    lines = [
        (
            f"tunesmith eval feedback: base {report['base_model_version']}, {report['n']} tunes before, "
            f"{report['n_after']} after"
        )
    ]
    for t in report["tastes"]:
        d = t["dataset"]
        lines.append(
            f"\ntaste {t['taste']} (likes {t['trait'] or 'a random quarter'}): {d['rated_tunes']} rated tunes, "
            f"{d['liked_tunes']} "
            f"liked ({d['liked_with_trait']} with the trait), {d['self_votes_left_out']} self-votes left out"
        )
        if "error" in t:
            lines.append(f"  {t['error']}")
            continue
        lines.append(f"  {'':<28}{'before':>10}{'after':>10}")
        for k in TRAITS:
            lines.append(
                f"  {'share ' + k + (' (liked)' if k == t['trait'] else ''):<28}"
                f"{t['before']['traits'][k]!s:>10}{t['after']['traits'][k]!s:>10}"
            )
        for label, key in ROWS:
            b, a = t["before"][key], t["after"][key]
            lines.append(f"  {label:<28}{b!s:>10}{a!s:>10}")
        changes = ", ".join(
            f"{k} {v:+.1f}" + (" (liked)" if k == t["trait"] else "") for k, v in t["trait_change_points"].items()
        )
        lines.append(f"  => share change in points: {changes} (fine-tuned model {t['finetune']['model_version']})")
        for v in t.get("ratings_per_model_version", []):
            lines.append(
                f"  rated by the same community: {v['model_version']} mean {v['mean']} {v['ci95']} ({v['votes']} votes)"
            )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tunesmith eval feedback", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="a small run for tests (--n 14, 1 epoch, --check 3)")
    p.add_argument("--taste", action="append", choices=tuple(TASTES), help="repeat for several (default: all)")
    p.add_argument("--n", type=cli_int, help="tunes composed before and after (default 300)")
    p.add_argument("--n-after", type=cli_int, help="tunes composed after fine-tuning (default: --n)")
    p.add_argument("--weights", help="the model to start from (default: the shipped ABC weights)")
    p.add_argument("--work", default="feedback-eval", help="work directory (default ./feedback-eval)")
    p.add_argument("--epochs", type=cli_int, help="fine-tuning epochs (default 3, as finetune's; --quick 1)")
    p.add_argument("--lr", type=float, default=1e-3, help="fine-tuning learning rate (default 1e-3)")
    p.add_argument("--base-share", type=cli_float, default=0.5, help="base-corpus share of the mix (default 0.5)")
    p.add_argument("--min-stars", type=cli_float, default=4.0, help="liked: mean rating at least this (default 4)")
    p.add_argument("--min-tunes", type=cli_int, help="finetune's --min-tunes (default 20; --quick 1)")
    p.add_argument("--check", type=cli_int, help="finetune's validity check size (default 40)")
    p.add_argument("--seed", type=cli_int, default=1)
    p.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    quick = args.quick
    args.n = args.n or (14 if quick else 300)
    args.n_after = args.n_after or args.n
    args.epochs = args.epochs or (1 if quick else 3)
    args.check = args.check or (3 if quick else 40)
    args.min_tunes = args.min_tunes or (1 if quick else 20)
    if not 1 <= args.n <= 5000 or not 1 <= args.n_after <= 5000:
        print("tunesmith eval feedback: --n and --n-after must be 1 to 5000", file=sys.stderr)
        return 2
    import torch

    from model.abc.sample import load_abc_model

    torch.set_num_threads(1)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    model = load_abc_model(args.weights)
    before = before_set(model, args.n, args.seed, work)
    report = {
        "base_model_version": model.version,
        "n": args.n,
        "n_after": args.n_after,
        "quick": quick,
        "settings": {
            k: getattr(args, k) for k in ("epochs", "lr", "base_share", "min_stars", "min_tunes", "check", "seed")
        },
        "tastes": [run_taste(model, before, taste, args, work) for taste in (args.taste or list(TASTES))],
    }
    (work / f"report-{'-'.join(args.taste or ['all'])}.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1) if args.json else table(report))
    return 0 if all("error" not in t for t in report["tastes"]) else 1
