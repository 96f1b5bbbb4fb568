"""`tunesmith stats`: tunes, ratings, top styles, failures, job times and the mean rating per model
version with a 95% confidence interval (the A/B report), from the database.

    tunesmith stats [--json] [--db FILE]
"""

from __future__ import annotations

import argparse
import json
import sys

from bot.config import ConfigError
from bot.export import ExportError, open_database
from bot.store.reports import format_version, summary


def format_stats(s: dict) -> str:
    lines = [
        f"tunes: {s['tunes']}   ratings: {s['ratings']} from {s['raters']} people   "
        f"mean rating (self-votes left out): {s['mean_rating'] if s['mean_rating'] is not None else '-'}"
    ]
    if s["styles"]:
        lines.append("styles:")
        lines += [
            f"  {st['style']:<12} {st['tunes']:>6} tunes  {st['ratings']:>6} ratings  "
            f"mean {st['mean'] if st['mean'] is not None else '-'}"
            for st in s["styles"]
        ]
    jobs = ", ".join(f"{k} {v}" for k, v in sorted(s["jobs"].items())) or "none"
    lines.append(f"jobs: {jobs}   failures: {s['failures']}")
    t, w = s["job_seconds"], s["queue_wait_seconds"]
    lines.append(
        f"job time: p50 {t['p50']} s, p95 {t['p95']} s ({t['count']} done)   "
        f"queue wait: p50 {w['p50']} s, p95 {w['p95']} s"
    )
    if s["model_versions"]:
        lines.append("model versions (self-votes left out; 95% confidence interval of the mean):")
        lines += [format_version(v) for v in s["model_versions"]]
    for e in s["top_errors"]:
        lines.append(f"  {e['count']:>5} x {e['error']}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="tunesmith stats", description="What the bot has done so far.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--db", help="database file (default: the data dir's)")
    args = p.parse_args(argv)
    try:
        conn = open_database(args.db)
    except (ExportError, ConfigError) as exc:
        print(f"tunesmith stats: {exc}", file=sys.stderr)
        return 1
    try:
        s = summary(conn)
    finally:
        conn.close()
    print(json.dumps(s) if args.json else format_stats(s))
    return 0
