"""Read-only reports over a plain sqlite3 connection: the feedback dataset, the leaderboard, stats and
backups. They read many rows, so the bot runs them in a thread on their own connection
(`Store.report`); the CLI commands call them directly."""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import sqlite3
import time
from pathlib import Path

from bot.job_state import JobState

_NOT_SELF = "(t.user_id IS NULL OR r.user_id <> t.user_id)"  # a vote by someone other than the requester
DATASET_SCHEMA = 2  # 2: self-votes left out by default; voters, self_votes and a hashed server per tune
SALT_KEY = "dataset_salt"  # kv: the per-database random salt of the hashed server ids


def server_salt(conn: sqlite3.Connection) -> str:
    """This database's random salt for hashed server ids, made on first use (the one write of this
    module: stable for the life of the database, and copied with it by a backup)."""
    conn.execute(
        "INSERT OR IGNORE INTO kv (key, value, updated_at) VALUES (?, ?, ?)",
        (SALT_KEY, secrets.token_hex(16), time.time()),
    )
    return conn.execute("SELECT value FROM kv WHERE key = ?", (SALT_KEY,)).fetchone()[0]


def hashed_server(salt: str, guild_id: int | None) -> str | None:
    """A server id a researcher can group by but not look up (None: a direct message)."""
    if guild_id is None:
        return None
    return hashlib.sha256(f"{salt}:{int(guild_id)}".encode()).hexdigest()[:16]


def rated_tunes(
    conn: sqlite3.Connection,
    *,
    min_stars: float = 1.0,
    min_votes: int = 1,
    with_user_ids: bool = False,
    text_format: str | None = None,
    guild_id: int | None = None,
    any_guild: bool = True,
    style: str | None = None,
    since: float | None = None,
    best_first: bool = False,
    limit: int | None = None,
    include_self_votes: bool = False,
) -> list[dict]:
    """Dataset records (schema in bot/export.py), oldest first (or best first: highest mean, then most
    votes). any_guild=False keeps only the tunes made on `guild_id` (None: in direct messages).

    A self-vote (the requester rating their own tune) is recorded but left out of the counts, the mean
    and the filters unless include_self_votes; each record says how many it had ("self_votes")."""
    order = "mean DESC, votes DESC, t.created_at" if best_first else "t.created_at, t.id"
    rows = conn.execute(
        "SELECT t.id, t.created_at, t.style, t.request, t.model, t.model_version, t.seed, t.text_format, t.text,"
        " t.parent_id, t.guild_id, count(r.stars) AS votes, count(DISTINCT r.user_id), avg(r.stars) AS mean,"
        " (SELECT count(*) FROM ratings s WHERE s.tune_id = t.id AND s.user_id = t.user_id),"
        " sum(r.stars = 1), sum(r.stars = 2), sum(r.stars = 3), sum(r.stars = 4), sum(r.stars = 5)"
        " FROM tunes t JOIN ratings r ON r.tune_id = t.id AND (? OR t.user_id IS NULL OR r.user_id <> t.user_id)"
        " WHERE t.deleted_at IS NULL AND (? IS NULL OR t.text_format = ?) AND (? OR t.guild_id IS ?)"
        " AND (? IS NULL OR t.style = ?) AND (? IS NULL OR t.created_at >= ?)"
        f" GROUP BY t.id HAVING votes >= ? AND mean >= ? ORDER BY {order} LIMIT ?",
        (
            include_self_votes,
            text_format,
            text_format,
            any_guild,
            guild_id,
            style,
            style,
            since,
            since,
            min_votes,
            min_stars,
            -1 if limit is None else limit,
        ),
    ).fetchall()
    salt = server_salt(conn) if rows else ""
    records = []
    for row in rows:
        (
            tune_id,
            created_at,
            style_,
            request,
            model,
            version,
            seed,
            fmt,
            text,
            parent,
            guild,
            votes,
            voters,
            mean,
            self_votes,
            *stars,
        ) = tuple(row)
        record = {
            "schema": DATASET_SCHEMA,
            "id": tune_id,
            "created_at": created_at,
            "style": style_,
            "request": json.loads(request),
            "model": model,
            "model_version": version,
            "seed": seed,
            "text_format": fmt,
            "text": text,
            "parent_id": parent,
            "server": hashed_server(salt, guild),
            "voters": voters,
            "self_votes": {"count": self_votes, "included": bool(include_self_votes)},
            "ratings": {"count": votes, "mean": round(mean, 4), "stars": {str(i + 1): n for i, n in enumerate(stars)}},
        }
        if with_user_ids:
            record["user_ratings"] = [
                {"user_id": u, "stars": s, "self": bool(own)}
                for u, s, own in conn.execute(
                    "SELECT r.user_id, r.stars, r.user_id IS t.user_id FROM ratings r JOIN tunes t ON t.id = r.tune_id"
                    " WHERE r.tune_id = ? AND (? OR t.user_id IS NULL OR r.user_id <> t.user_id) ORDER BY r.user_id",
                    (tune_id, include_self_votes),
                )
            ]
        records.append(record)
    return records


def stats(conn: sqlite3.Connection) -> dict:
    """Counts, per-style ratings, job outcomes and times (raw lists; bot/stats.py summarises them). Ratings,
    raters and means leave self-votes out, as every public figure and the per-version report do."""

    def one(sql: str):
        return conn.execute(sql).fetchone()[0]

    styles = [
        {"style": s, "tunes": n, "ratings": v, "mean": round(m, 2) if m is not None else None}
        for s, n, v, m in conn.execute(
            "SELECT t.style, count(DISTINCT t.id), count(r.stars), avg(r.stars) FROM tunes t"
            f" LEFT JOIN ratings r ON r.tune_id = t.id AND {_NOT_SELF} WHERE t.deleted_at IS NULL"
            " GROUP BY t.style ORDER BY count(DISTINCT t.id) DESC, t.style"
        )
    ]
    failed = (JobState.FAILED, JobState.TIMED_OUT)
    return {
        "tunes": one("SELECT count(*) FROM tunes WHERE deleted_at IS NULL"),
        "ratings": one(f"SELECT count(*) FROM ratings r JOIN tunes t ON t.id = r.tune_id WHERE {_NOT_SELF}"),
        "raters": one(
            f"SELECT count(DISTINCT r.user_id) FROM ratings r JOIN tunes t ON t.id = r.tune_id WHERE {_NOT_SELF}"
        ),
        "mean_rating": one(f"SELECT avg(r.stars) FROM ratings r JOIN tunes t ON t.id = r.tune_id WHERE {_NOT_SELF}"),
        "styles": styles,
        "jobs": dict(conn.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall()),
        "run_times": [
            r[0]
            for r in conn.execute(
                "SELECT finished_at - started_at FROM jobs WHERE status = ? AND started_at IS NOT NULL",
                (JobState.DONE,),
            )
        ],
        "waits": [r[0] for r in conn.execute("SELECT started_at - created_at FROM jobs WHERE started_at IS NOT NULL")],
        "top_errors": [
            {"error": e, "count": n}
            for e, n in conn.execute(
                "SELECT error, count(*) FROM jobs WHERE status IN (?, ?) GROUP BY error ORDER BY count(*) DESC LIMIT 5",
                failed,
            )
        ],
    }


# Student's t, two-sided 95%, for 1..30 degrees of freedom (beyond: interpolated towards 1.96)
_T95 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def mean_ci(n: int, total: float, total_sq: float) -> tuple[float, float] | None:
    """95% confidence interval of a mean from n values, their sum and sum of squares (None below 2)."""
    if n < 2:
        return None
    mean = total / n
    var = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    df = n - 1
    t = _T95[df - 1] if df <= 30 else 1.96 + (2.042 - 1.96) * 30 / df
    half = t * math.sqrt(var / n)
    return round(max(1.0, mean - half), 3), round(min(5.0, mean + half), 3)


def model_versions(
    conn: sqlite3.Connection, *, guild_id: int | None = None, any_guild: bool = True, include_self_votes: bool = False
) -> list[dict]:
    """Per model version (the A/B report): tunes made, tunes rated, votes, mean stars and its 95%
    confidence interval. Self-votes are left out unless include_self_votes. The interval treats the
    votes as independent; several votes on one tune are not quite, so read it as a little narrow."""
    rows = conn.execute(
        "SELECT t.model, t.model_version, count(DISTINCT t.id), count(DISTINCT r.tune_id), count(r.stars),"
        " sum(r.stars), sum(r.stars * r.stars)"
        " FROM tunes t LEFT JOIN ratings r ON r.tune_id = t.id AND (? OR t.user_id IS NULL OR r.user_id <> t.user_id)"
        " WHERE (? OR t.guild_id IS ?) GROUP BY t.model, t.model_version ORDER BY t.model, min(t.created_at)",
        (include_self_votes, any_guild, guild_id),
    ).fetchall()
    out = []
    for model, version, tunes, rated, votes, total, total_sq in rows:
        ci = mean_ci(votes, total or 0, total_sq or 0)
        out.append(
            {
                "model": model,
                "model_version": version,
                "tunes": tunes,
                "rated_tunes": rated,
                "votes": votes,
                "mean": round(total / votes, 3) if votes else None,
                "ci95": list(ci) if ci else None,
            }
        )
    return out


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(conn: sqlite3.Connection) -> dict:
    """`stats` with percentiles instead of raw times, and the per-version report (`tunesmith stats`, /stats)."""
    s = stats(conn)
    run_times, waits = s.pop("run_times"), s.pop("waits")
    s["mean_rating"] = _round(s["mean_rating"])
    s["failures"] = s["jobs"].get(JobState.FAILED, 0) + s["jobs"].get(JobState.TIMED_OUT, 0)
    s["job_seconds"] = {
        "p50": _round(percentile(run_times, 50)),
        "p95": _round(percentile(run_times, 95)),
        "count": len(run_times),
    }
    s["queue_wait_seconds"] = {"p50": _round(percentile(waits, 50)), "p95": _round(percentile(waits, 95))}
    s["model_versions"] = model_versions(conn)
    return s


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def to_jsonl(records: list[dict]) -> str:
    """The feedback dataset's file format: one JSON object per line (schema in the README)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def guild_jsonl(conn: sqlite3.Connection, guild_id: int | None) -> tuple[int, bytes]:
    """(number of tunes, the JSONL file) of one server's dataset, no user ids."""
    records = rated_tunes(conn, guild_id=guild_id, any_guild=False)
    return len(records), to_jsonl(records).encode()


def format_version(v: dict) -> str:
    """One line of the per-version (A/B) report."""
    mean = f"{v['mean']:.2f}" if v["mean"] is not None else "-"
    ci = f"[{v['ci95'][0]:.2f}, {v['ci95'][1]:.2f}]" if v["ci95"] else "[too few votes]"
    return (
        f"  {v['model_version'] or '(none)':<28} {v['tunes']:>6} tunes {v['rated_tunes']:>6} rated "
        f"{v['votes']:>6} votes  mean {mean} {ci}"
    )


def backup(source: Path, dest: Path) -> dict[str, int]:
    """Copy the database `source` to `dest` with SQLite's online backup (a snapshot of one committed
    state; WAL writers carry on), check the copy; returns row counts per table."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
            check = out.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise RuntimeError(f"the copy failed integrity_check: {check}")
            tables = [
                r[0]
                for r in out.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
            ]
            return {t: out.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        finally:
            out.close()
    finally:
        src.close()
