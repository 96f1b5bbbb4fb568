"""`tunesmith export`: the feedback dataset, rated tunes as JSONL (or ABC), for fine-tuning and study.

    tunesmith export [--min-stars 4] [--min-votes 2] [--format jsonl|abc] [--with-user-ids]
                     [--include-self-votes] --out FILE

One JSON object per line (schema version 2):
    {"schema": 2, "id": "vmB1CcBG", "created_at": 1795309756.5, "style": "jig",
     "request": {...ComposeRequest...}, "model": "abc", "model_version": "abc-3x256-...", "seed": 42,
     "text_format": "abc", "text": "X:1\\nT:...\\nK:D\\n...", "parent_id": null,
     "server": "3f9a0c1d2b4e5f60", "voters": 3, "self_votes": {"count": 1, "included": false},
     "ratings": {"count": 3, "mean": 4.33, "stars": {"1": 0, "2": 0, "3": 0, "4": 2, "5": 1}}}
plus "user_ratings": [{"user_id": ..., "stars": ..., "self": false}] only with --with-user-ids.
"server" is the server the tune was made on, hashed with a random salt kept in this database (the same
server gets the same hash in every export of this database; null: a direct message). "voters" counts
distinct people. A self-vote (someone rating a tune they asked for) is recorded but, unless
--include-self-votes, left out of "ratings", "voters" and the filters; "self_votes" says how many there were.
A tune is included when it has at least --min-votes ratings and their mean is at least --min-stars.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path

from bot.config import ConfigError, load_settings
from bot.numbers import cli_float, cli_int
from bot.store import open_sync
from bot.store.reports import DATASET_SCHEMA as SCHEMA
from bot.store.reports import rated_tunes, to_jsonl


class ExportError(ValueError):
    """Bad export options or an unreadable dataset file; the message says which."""


def to_abc(records: list[dict]) -> str:
    """ABC tunes of the records (MusicXML ones skipped), numbered X:1.., each with a comment saying
    where it came from and how it was rated."""
    out = []
    number = 0
    for record in records:
        if record["text_format"] != "abc":
            continue
        number += 1
        body = [line for line in record["text"].strip().splitlines() if not line.startswith("X:")]
        r = record["ratings"]
        out.append(
            f"X:{number}\n% tunesmith id={record['id']} mean={r['mean']} votes={r['count']} "
            f"model={record['model_version']}\n" + "\n".join(body)
        )
    return "\n\n".join(out) + ("\n" if out else "")


def load_jsonl(path: Path | str) -> list[dict]:
    """Read an exported JSONL dataset back; ExportError names the line that is wrong."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ExportError(f"{path} line {number} is not JSON: {exc}") from None
            missing = {"id", "request", "text", "text_format", "ratings"} - set(record)
            if missing:
                raise ExportError(f"{path} line {number} lacks {', '.join(sorted(missing))}")
            if record.get("schema", SCHEMA) > SCHEMA:
                raise ExportError(f"{path} line {number} has schema {record['schema']}; this Tunesmith reads {SCHEMA}")
            records.append(record)
    return records


def write_text(out: str, text: str) -> None:
    """Write to a file atomically (a reader never sees half a dataset), or to stdout for '-'."""
    if out == "-":
        sys.stdout.write(text)
        return
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def open_database(db: str | None) -> sqlite3.Connection:
    """The bot's database (settings.db_path, or --db); ExportError if there is none yet."""
    path = Path(db) if db else load_settings().db_path
    if not path.is_file():
        raise ExportError(
            f"no database at {path}: the bot has not stored anything yet (set TUNESMITH_DATA_DIR or pass --db)"
        )
    return open_sync(path)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tunesmith export", description="Export rated tunes (the feedback dataset).")
    p.add_argument("--min-stars", type=cli_float, default=1.0, help="lowest mean rating to include (1-5, default 1)")
    p.add_argument("--min-votes", type=cli_int, default=1, help="fewest ratings to include (default 1)")
    p.add_argument("--format", choices=("jsonl", "abc"), default="jsonl")
    p.add_argument("--with-user-ids", action="store_true", help="include who gave which rating (personal data!)")
    p.add_argument(
        "--include-self-votes",
        action="store_true",
        help="count people's ratings of their own tunes (left out by default)",
    )
    p.add_argument("--out", required=True, help="output file, or - for standard output")
    p.add_argument("--db", help="database file (default: the data dir's)")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not 1 <= args.min_stars <= 5:
            raise ExportError(f"--min-stars {args.min_stars:g} is out of range; use 1 to 5")
        if args.min_votes < 1:
            raise ExportError(f"--min-votes {args.min_votes} is out of range; use 1 or more")
        conn = open_database(args.db)
    except (ExportError, ConfigError) as exc:
        print(f"tunesmith export: {exc}", file=sys.stderr)
        return 1
    try:
        records = rated_tunes(
            conn,
            min_stars=args.min_stars,
            min_votes=args.min_votes,
            with_user_ids=args.with_user_ids,
            include_self_votes=args.include_self_votes,
        )
    finally:
        conn.close()
    if args.format == "jsonl":
        text = to_jsonl(records)
        count = len(records)
    else:
        text = to_abc(records)
        count = sum(1 for r in records if r["text_format"] == "abc")
    write_text(args.out, text)
    print(f"exported {count} tune{'s' if count != 1 else ''} to {args.out}", file=sys.stderr)
    return 0
