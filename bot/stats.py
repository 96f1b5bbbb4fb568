"""`tunesmith stats`: tunes, ratings, top styles, failures, job times and the mean rating per model
version with a 95% confidence interval (the A/B report), from the database.

    tunesmith stats [--json] [--db FILE]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

from bot.config import ConfigError
from bot.export import ExportError, open_database
from bot.job_state import JobState
from bot.store import reports


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def collect(conn: sqlite3.Connection) -> dict:
    """The report of bot/store/reports.py, with percentiles instead of raw times."""
    s = reports.stats(conn)
    run_times, waits = s.pop("run_times"), s.pop("waits")
    s["mean_rating"] = _round(s["mean_rating"])
    s["failures"] = s["jobs"].get(JobState.FAILED, 0) + s["jobs"].get(JobState.TIMED_OUT, 0)
    s["job_seconds"] = {
        "p50": _round(percentile(run_times, 50)),
        "p95": _round(percentile(run_times, 95)),
        "count": len(run_times),
    }
    s["queue_wait_seconds"] = {"p50": _round(percentile(waits, 50)), "p95": _round(percentile(waits, 95))}
    s["model_versions"] = reports.model_versions(conn)
    return s


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


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


def format_version(v: dict) -> str:
    """One line of the per-version (A/B) report."""
    mean = f"{v['mean']:.2f}" if v["mean"] is not None else "-"
    ci = f"[{v['ci95'][0]:.2f}, {v['ci95'][1]:.2f}]" if v["ci95"] else "[too few votes]"
    return (
        f"  {v['model_version'] or '(none)':<28} {v['tunes']:>6} tunes {v['rated_tunes']:>6} rated "
        f"{v['votes']:>6} votes  mean {mean} {ci}"
    )


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
        s = collect(conn)
    finally:
        conn.close()
    print(json.dumps(s) if args.json else format_stats(s))
    return 0
