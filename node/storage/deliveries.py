"""The delivery queue: one row per (activity, inbox), with retry timing and outcome."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from .db import Database

__all__ = [
    "Delivery",
    "cancel_for_host",
    "cancel_for_object",
    "claim",
    "counts",
    "defer",
    "due",
    "enqueue",
    "finish",
    "listing",
    "requeue_host",
    "reset_inflight",
    "retry_failed",
]


@dataclass(frozen=True)
class Delivery:
    id: int
    outbox_seq: int
    inbox_url: str
    host: str
    object_id: str | None
    state: str
    attempts: int
    next_at: str
    last_status: int | None
    last_error: str | None


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row["id"],
        outbox_seq=row["outbox_seq"],
        inbox_url=row["inbox_url"],
        host=row["host"],
        object_id=row["object_id"],
        state=row["state"],
        attempts=row["attempts"],
        next_at=row["next_at"],
        last_status=row["last_status"],
        last_error=row["last_error"],
    )


def enqueue(
    conn: sqlite3.Connection,
    outbox_seq: int,
    targets: list[tuple[str, str]],
    object_id: str | None,
    now: str,
) -> int:
    """Queue one delivery per distinct inbox; return how many were queued."""
    cur = conn.executemany(
        "INSERT OR IGNORE INTO deliveries"
        " (outbox_seq, inbox_url, host, object_id, state, next_at, created_at, updated_at)"
        " VALUES (?,?,?,?, 'queued', ?,?,?)",
        [(outbox_seq, url, host, object_id, now, now, now) for url, host in targets],
    )
    return cur.rowcount


async def due(db: Database, now: str, limit: int) -> list[Delivery]:
    rows = await db.fetchall(
        "SELECT * FROM deliveries WHERE state = 'queued' AND next_at <= ? ORDER BY next_at, id LIMIT ?",
        (now, limit),
    )
    return [_delivery(r) for r in rows]


def claim(conn: sqlite3.Connection, ids: list[int], now: str) -> list[int]:
    """Mark queued rows in flight; return the ids actually claimed (another worker may race)."""
    claimed = []
    for ident in ids:
        cur = conn.execute(
            "UPDATE deliveries SET state = 'inflight', updated_at = ? WHERE id = ? AND state = 'queued'",
            (now, ident),
        )
        if cur.rowcount == 1:
            claimed.append(ident)
    return claimed


def finish(
    conn: sqlite3.Connection,
    ident: int,
    *,
    state: str,
    attempts: int,
    next_at: str,
    status: int | None,
    error: str | None,
    now: str,
) -> None:
    conn.execute(
        "UPDATE deliveries SET state = ?, attempts = ?, next_at = ?, last_status = ?, last_error = ?,"
        " updated_at = ? WHERE id = ? AND state = 'inflight'",
        (state, attempts, next_at, status, error, now, ident),
    )


def reset_inflight(conn: sqlite3.Connection, now: str) -> int:
    """After a crash, deliveries that were in flight go back to the queue (at least once)."""
    return conn.execute(
        "UPDATE deliveries SET state = 'queued', updated_at = ? WHERE state = 'inflight'", (now,)
    ).rowcount


def cancel_for_object(conn: sqlite3.Connection, object_id: str, keep_seq: int, now: str) -> int:
    """A Delete cancels pending deliveries of the object it deletes (except its own)."""
    return conn.execute(
        "UPDATE deliveries SET state = 'cancelled', updated_at = ?"
        " WHERE object_id = ? AND state = 'queued' AND outbox_seq != ?",
        (now, object_id, keep_seq),
    ).rowcount


def cancel_for_host(conn: sqlite3.Connection, host: str, now: str) -> int:
    """A blocked host gets nothing more, including what is queued."""
    return conn.execute(
        "UPDATE deliveries SET state = 'cancelled', last_error = 'host blocked', updated_at = ?"
        " WHERE host = ? AND state IN ('queued', 'inflight')",
        (now, host),
    ).rowcount


def retry_failed(conn: sqlite3.Connection, now: str) -> int:
    return conn.execute(
        "UPDATE deliveries SET state = 'queued', next_at = ?, attempts = 0, updated_at = ?"
        " WHERE state = 'failed'",
        (now, now),
    ).rowcount


async def listing(db: Database, *, failed_only: bool = False, limit: int = 200) -> list[Delivery]:
    sql = "SELECT * FROM deliveries"
    if failed_only:
        sql += " WHERE state = 'failed'"
    sql += " ORDER BY id DESC LIMIT ?"
    return [_delivery(r) for r in await db.fetchall(sql, (limit,))]


async def counts(db: Database) -> dict[str, int]:
    rows = await db.fetchall("SELECT state, count(*) AS n FROM deliveries GROUP BY state")
    return {r["state"]: r["n"] for r in rows}


def defer(conn: sqlite3.Connection, rows: list[tuple[int, str]], now: str) -> None:
    """Move queued rows of a host whose circuit is open to when it may be tried."""
    conn.executemany(
        "UPDATE deliveries SET next_at = ?, updated_at = ? WHERE id = ? AND state = 'queued'",
        [(at, now, ident) for ident, at in rows],
    )


def requeue_host(conn: sqlite3.Connection, host: str, now: str) -> None:
    """A host is back: what waits for it is due now."""
    conn.execute(
        "UPDATE deliveries SET next_at = ? WHERE host = ? AND state = 'queued' AND next_at > ?",
        (now, host, now),
    )
