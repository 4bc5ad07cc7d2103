"""The inbox table: verified raw activities, stored before the 202, processed after."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from .db import Database

__all__ = ["InboxItem", "count_by_state", "mark", "pending", "store"]


@dataclass(frozen=True)
class InboxItem:
    activity_id: str
    actor: str
    type: str
    signer: str
    host: str
    recipient: str | None
    received_at: str
    raw: bytes
    seq: int = 0


def store(conn: sqlite3.Connection, item: InboxItem) -> bool:
    """Insert a verified activity; ``False`` if its id was already stored (accepted once)."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO inbox (activity_id, actor, type, signer, host, recipient, received_at, raw)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (
            item.activity_id,
            item.actor,
            item.type,
            item.signer,
            item.host,
            item.recipient,
            item.received_at,
            item.raw,
        ),
    )
    return cur.rowcount == 1


def _item(row: Any) -> InboxItem:
    return InboxItem(
        seq=row["seq"],
        activity_id=row["activity_id"],
        actor=row["actor"],
        type=row["type"],
        signer=row["signer"],
        host=row["host"],
        recipient=row["recipient"],
        received_at=row["received_at"],
        raw=bytes(row["raw"]),
    )


async def pending(db: Database, limit: int = 100, after: int = 0) -> list[InboxItem]:
    rows = await db.fetchall(
        "SELECT * FROM inbox WHERE state = 'pending' AND seq > ? ORDER BY seq LIMIT ?",
        (after, limit),
    )
    return [_item(r) for r in rows]


def mark(conn: sqlite3.Connection, seq: int, state: str, now: str, note: str | None = None) -> None:
    conn.execute(
        "UPDATE inbox SET state = ?, processed_at = ?, note = ? WHERE seq = ?",
        (state, now, note, seq),
    )


async def count_by_state(db: Database) -> dict[str, int]:
    rows = await db.fetchall("SELECT state, count(*) AS n FROM inbox GROUP BY state")
    return {r["state"]: r["n"] for r in rows}
