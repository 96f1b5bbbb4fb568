"""`tunesmith stats`: tunes, ratings, top styles, failures and job times, from the database.

    tunesmith stats [--json] [--db FILE]
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys

from bot.config import ConfigError
from bot.export import ExportError, open_database


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
    one = lambda sql, *p: conn.execute(sql, p).fetchone()[0]  # noqa: E731
    styles = [{"style": s, "tunes": n, "ratings": v, "mean": round(m, 2) if m is not None else None}
              for s, n, v, m in conn.execute(
                  "SELECT t.style, count(DISTINCT t.id), count(r.stars), avg(r.stars) FROM tunes t"
                  " LEFT JOIN ratings r ON r.tune_id = t.id GROUP BY t.style ORDER BY count(DISTINCT t.id) DESC, t.style")]
    jobs = dict(conn.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall())
    run_times = [r[0] for r in conn.execute(
        "SELECT finished_at - started_at FROM jobs WHERE status = 'done' AND started_at IS NOT NULL")]
    waits = [r[0] for r in conn.execute(
        "SELECT started_at - created_at FROM jobs WHERE started_at IS NOT NULL")]
    errors = [{"error": e, "count": n} for e, n in conn.execute(
        "SELECT error, count(*) FROM jobs WHERE status IN ('failed', 'timed_out') GROUP BY error"
        " ORDER BY count(*) DESC LIMIT 5")]
    mean = one("SELECT avg(stars) FROM ratings")
    return {
        "tunes": one("SELECT count(*) FROM tunes"),
        "ratings": one("SELECT count(*) FROM ratings"),
        "raters": one("SELECT count(DISTINCT user_id) FROM ratings"),
        "mean_rating": round(mean, 2) if mean is not None else None,
        "styles": styles,
        "jobs": jobs,
        "failures": jobs.get("failed", 0) + jobs.get("timed_out", 0),
        "top_errors": errors,
        "job_seconds": {"p50": _round(percentile(run_times, 50)), "p95": _round(percentile(run_times, 95)),
                        "count": len(run_times)},
        "queue_wait_seconds": {"p50": _round(percentile(waits, 50)), "p95": _round(percentile(waits, 95))},
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def format_stats(s: dict) -> str:
    lines = [f"tunes: {s['tunes']}   ratings: {s['ratings']} from {s['raters']} people   "
             f"mean rating: {s['mean_rating'] if s['mean_rating'] is not None else '-'}"]
    if s["styles"]:
        lines.append("styles:")
        lines += [f"  {st['style']:<12} {st['tunes']:>6} tunes  {st['ratings']:>6} ratings  "
                  f"mean {st['mean'] if st['mean'] is not None else '-'}" for st in s["styles"]]
    jobs = ", ".join(f"{k} {v}" for k, v in sorted(s["jobs"].items())) or "none"
    lines.append(f"jobs: {jobs}   failures: {s['failures']}")
    t, w = s["job_seconds"], s["queue_wait_seconds"]
    lines.append(f"job time: p50 {t['p50']} s, p95 {t['p95']} s ({t['count']} done)   "
                 f"queue wait: p50 {w['p50']} s, p95 {w['p95']} s")
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
        s = collect(conn)
    finally:
        conn.close()
    print(json.dumps(s) if args.json else format_stats(s))
    return 0
