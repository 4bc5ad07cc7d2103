"""Offers on assignments, sent and received (the assignments are rows of ``objects``)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import msgspec

from .db import Database

__all__ = [
    "OFFER_STATES",
    "Offer",
    "get",
    "get_by_activity",
    "insert",
    "listing",
    "set_state",
]

OFFER_STATES = ("pending", "accepted", "rejected", "withdrawn")


@dataclass(frozen=True)
class Offer:
    id: str
    activity_id: str
    direction: str
    assignment: str
    author: str
    actor: str
    state: str
    message: str
    raw: bytes
    created_at: str
    updated_at: str
    answer_id: str | None = None

    @property
    def document(self) -> dict[str, Any]:
        return msgspec.json.decode(self.raw)  # type: ignore[no-any-return]


_COLUMNS = (
    "id, activity_id, direction, assignment, author, actor, state, message, answer_id, raw,"
    " created_at, updated_at"
)


def _offer(row: Any) -> Offer:
    return Offer(
        id=row["id"],
        activity_id=row["activity_id"],
        direction=row["direction"],
        assignment=row["assignment"],
        author=row["author"],
        actor=row["actor"],
        state=row["state"],
        message=row["message"],
        answer_id=row["answer_id"],
        raw=bytes(row["raw"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def insert(conn: sqlite3.Connection, offer: Offer) -> bool:
    """Store an offer; False when its activity id is already known (a duplicate delivery)."""
    cur = conn.execute(
        f"INSERT INTO offers ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (activity_id) DO NOTHING",
        (
            offer.id,
            offer.activity_id,
            offer.direction,
            offer.assignment,
            offer.author,
            offer.actor,
            offer.state,
            offer.message,
            offer.answer_id,
            offer.raw,
            offer.created_at,
            offer.updated_at,
        ),
    )
    return cur.rowcount == 1


def set_state(
    conn: sqlite3.Connection,
    offer_id: str,
    state: str,
    now: str,
    *,
    answer_id: str | None = None,
    expect: str | None = "pending",
) -> bool:
    """Move an offer to ``state`` (only from ``expect`` when given); False if it was not there."""
    sql = "UPDATE offers SET state = ?, answer_id = coalesce(?, answer_id), updated_at = ? WHERE id = ?"
    params: list[Any] = [state, answer_id, now, offer_id]
    if expect is not None:
        sql += " AND state = ?"
        params.append(expect)
    return conn.execute(sql, params).rowcount == 1


async def get(db: Database, offer_id: str) -> Offer | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM offers WHERE id = ?", (offer_id,))
    return _offer(row) if row else None


async def get_by_activity(db: Database, activity_id: str) -> Offer | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM offers WHERE activity_id = ?", (activity_id,))
    return _offer(row) if row else None


async def listing(
    db: Database,
    *,
    assignment: str | None = None,
    actor: str | None = None,
    direction: str | None = None,
    limit: int = 200,
) -> list[Offer]:
    sql = f"SELECT {_COLUMNS} FROM offers WHERE 1 = 1"
    params: list[Any] = []
    for column, value in (("assignment", assignment), ("actor", actor), ("direction", direction)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    sql += " ORDER BY created_at, id LIMIT ?"
    params.append(limit)
    return [_offer(r) for r in await db.fetchall(sql, tuple(params))]
