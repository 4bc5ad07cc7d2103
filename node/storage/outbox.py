"""The outbox: every activity a local actor publishes, signed, as served and delivered."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from .db import Database

__all__ = ["OutboxItem", "count", "get", "get_by_seq", "insert", "page"]


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    activity_id: str
    actor: str
    type: str
    object_id: str | None
    public: bool
    raw: bytes
    published_at: str


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        seq=row["seq"],
        activity_id=row["activity_id"],
        actor=row["actor"],
        type=row["type"],
        object_id=row["object_id"],
        public=bool(row["public"]),
        raw=bytes(row["raw"]),
        published_at=row["published_at"],
    )


def insert(
    conn: sqlite3.Connection,
    *,
    activity_id: str,
    actor: str,
    type: str,
    object_id: str | None,
    public: bool,
    raw: bytes,
    now: str,
) -> int:
    cur = conn.execute(
        "INSERT INTO outbox (activity_id, actor, type, object_id, public, raw, published_at)"
        " VALUES (?,?,?,?,?,?,?)",
        (activity_id, actor, type, object_id, int(public), raw, now),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def get(db: Database, activity_id: str) -> OutboxItem | None:
    row = await db.fetchone("SELECT * FROM outbox WHERE activity_id = ?", (activity_id,))
    return _item(row) if row else None


async def get_by_seq(db: Database, seq: int) -> OutboxItem | None:
    row = await db.fetchone("SELECT * FROM outbox WHERE seq = ?", (seq,))
    return _item(row) if row else None


async def page(
    db: Database, actor: str, *, before: int | None, limit: int, public_only: bool = True
) -> list[OutboxItem]:
    sql = "SELECT * FROM outbox WHERE actor = ?"
    params: list[Any] = [actor]
    if public_only:
        sql += " AND public = 1"
    if before is not None:
        sql += " AND seq < ?"
        params.append(before)
    sql += " ORDER BY seq DESC LIMIT ?"
    params.append(limit)
    return [_item(r) for r in await db.fetchall(sql, tuple(params))]


async def count(db: Database, actor: str, *, public_only: bool = True) -> int:
    sql = "SELECT count(*) AS n FROM outbox WHERE actor = ?" + (
        " AND public = 1" if public_only else ""
    )
    row = await db.fetchone(sql, (actor,))
    return int(row["n"])
