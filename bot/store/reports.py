"""Read-only reports over a plain sqlite3 connection: the feedback dataset, the leaderboard, stats and
backups. They read many rows, so the bot runs them in a thread on their own connection
(`Store.report`); the CLI commands call them directly."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bot.job_state import JobState

DATASET_SCHEMA = 1


def rated_tunes(conn: sqlite3.Connection, *, min_stars: float = 1.0, min_votes: int = 1,
                with_user_ids: bool = False, text_format: str | None = None, guild_id: int | None = None,
                any_guild: bool = True, style: str | None = None, since: float | None = None,
                best_first: bool = False, limit: int | None = None) -> list[dict]:
    """Dataset records (schema in bot/export.py), oldest first (or best first: highest mean, then most
    votes). any_guild=False keeps only the tunes made on `guild_id` (None: in direct messages)."""
    order = "mean DESC, votes DESC, t.created_at" if best_first else "t.created_at, t.id"
    rows = conn.execute(
        "SELECT t.id, t.created_at, t.style, t.request, t.model, t.model_version, t.seed, t.text_format, t.text,"
        " t.parent_id, count(r.stars) AS votes, avg(r.stars) AS mean,"
        " sum(r.stars = 1), sum(r.stars = 2), sum(r.stars = 3), sum(r.stars = 4), sum(r.stars = 5)"
        " FROM tunes t JOIN ratings r ON r.tune_id = t.id"
        " WHERE t.deleted_at IS NULL AND (? IS NULL OR t.text_format = ?) AND (? OR t.guild_id IS ?)"
        " AND (? IS NULL OR t.style = ?) AND (? IS NULL OR t.created_at >= ?)"
        f" GROUP BY t.id HAVING votes >= ? AND mean >= ? ORDER BY {order} LIMIT ?",
        (text_format, text_format, any_guild, guild_id, style, style, since, since, min_votes, min_stars,
         -1 if limit is None else limit)).fetchall()
    records = []
    for row in rows:
        (tune_id, created_at, style_, request, model, version, seed, fmt, text, parent, votes, mean, *stars) = tuple(row)
        record = {"schema": DATASET_SCHEMA, "id": tune_id, "created_at": created_at, "style": style_,
                  "request": json.loads(request), "model": model, "model_version": version, "seed": seed,
                  "text_format": fmt, "text": text, "parent_id": parent,
                  "ratings": {"count": votes, "mean": round(mean, 4),
                              "stars": {str(i + 1): n for i, n in enumerate(stars)}}}
        if with_user_ids:
            record["user_ratings"] = [{"user_id": u, "stars": s} for u, s in conn.execute(
                "SELECT user_id, stars FROM ratings WHERE tune_id = ? ORDER BY user_id", (tune_id,))]
        records.append(record)
    return records


def stats(conn: sqlite3.Connection) -> dict:
    """Counts, per-style ratings, job outcomes and times (raw lists; bot/stats.py summarises them)."""
    def one(sql: str):
        return conn.execute(sql).fetchone()[0]

    styles = [{"style": s, "tunes": n, "ratings": v, "mean": round(m, 2) if m is not None else None}
              for s, n, v, m in conn.execute(
                  "SELECT t.style, count(DISTINCT t.id), count(r.stars), avg(r.stars) FROM tunes t"
                  " LEFT JOIN ratings r ON r.tune_id = t.id WHERE t.deleted_at IS NULL GROUP BY t.style ORDER BY count(DISTINCT t.id) DESC, t.style")]
    failed = (JobState.FAILED, JobState.TIMED_OUT)
    return {
        "tunes": one("SELECT count(*) FROM tunes WHERE deleted_at IS NULL"),
        "ratings": one("SELECT count(*) FROM ratings"),
        "raters": one("SELECT count(DISTINCT user_id) FROM ratings"),
        "mean_rating": one("SELECT avg(stars) FROM ratings"),
        "styles": styles,
        "jobs": dict(conn.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall()),
        "run_times": [r[0] for r in conn.execute(
            "SELECT finished_at - started_at FROM jobs WHERE status = ? AND started_at IS NOT NULL", (JobState.DONE,))],
        "waits": [r[0] for r in conn.execute("SELECT started_at - created_at FROM jobs WHERE started_at IS NOT NULL")],
        "top_errors": [{"error": e, "count": n} for e, n in conn.execute(
            "SELECT error, count(*) FROM jobs WHERE status IN (?, ?) GROUP BY error ORDER BY count(*) DESC LIMIT 5",
            failed)],
    }


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
            tables = [r[0] for r in out.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
            return {t: out.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        finally:
            out.close()
    finally:
        src.close()
