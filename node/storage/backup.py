"""Consistent snapshots of the database (SQLite's online backup API) and their checks."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from .db import connect_sync, migrate

__all__ = ["check_integrity", "prepare_restored", "snapshot"]


def snapshot(source: Path, target: Path) -> int:
    """Copy the live database at ``source`` to a new file ``target``; return its schema version.

    The copy is made in one step of the online backup API, inside one read
    transaction: it holds exactly what was committed when it began, while the
    node (WAL mode) goes on writing. The copy is a single file (rollback
    journal mode) and is checked before it is returned.
    """
    if target.exists():
        raise FileExistsError(f"{target} exists")
    src = connect_sync(source)
    try:
        dst = sqlite3.connect(str(target), isolation_level=None)
        try:
            src.backup(dst)  # pages=-1: every page in one step, one consistent read
            dst.execute("PRAGMA journal_mode = DELETE")
            check_integrity(dst)
            return int(dst.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)
        finally:
            dst.close()
    finally:
        src.close()


def check_integrity(conn: sqlite3.Connection) -> None:
    """``sqlite3.DatabaseError`` unless ``PRAGMA integrity_check`` says ``ok``."""
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise sqlite3.DatabaseError("integrity check failed: " + "; ".join(problems[:5]))


def prepare_restored(path: Path) -> int:
    """Bring a restored database up to this version's schema and check it; return the version."""
    conn = connect_sync(path)
    try:
        check_integrity(conn)
        version = migrate(conn)
        check_integrity(conn)
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return version
    finally:
        conn.close()
