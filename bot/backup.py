"""`tunesmith backup --out FILE`: a consistent copy of the database, safe while the bot runs.

SQLite's online backup API copies pages under a read transaction, so writers in WAL mode carry
on and the copy is a snapshot of one committed state. The copy is checked before it is kept.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from bot.config import ConfigError, load_settings
from bot.store import reports


def backup_database(source: Path, dest: Path) -> dict[str, int]:
    """Copy source to dest (atomically, via a temporary file); return row counts per table."""
    source, dest = Path(source), Path(dest)
    if not source.is_file():
        raise FileNotFoundError(f"no database at {source}: nothing to back up yet")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    counts = reports.backup(source, tmp)
    tmp.replace(dest)
    return counts


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tunesmith backup", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="file to write the copy to")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"tunesmith backup: {exc}", file=sys.stderr)
        return 1
    if args.out.exists() and not args.force:
        print(f"tunesmith backup: {args.out} exists; pass --force to overwrite it", file=sys.stderr)
        return 1
    try:
        counts = backup_database(settings.db_path, args.out)
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        print(f"tunesmith backup: {exc}", file=sys.stderr)
        return 1
    summary = ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
    print(f"backed up {settings.db_path} -> {args.out} (integrity ok; {summary})")
    return 0
