"""Member cards of other networks (``remote_members``): which network vouches for which card."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from .db import Database

__all__ = ["RemoteMember", "forget", "get_remote", "list_remote", "save_remote"]


@dataclass(frozen=True)
class RemoteMember:
    id: str
    network: str
    host: str
    first_seen: str
    updated_at: str
    raw: bytes  # the cached actor document (remote_actors.raw): the card as we may see it


def save_remote(
    conn: sqlite3.Connection, member_id: str, network: str, host: str, now: str
) -> bool:
    """Remember a remote member card; False if its actor is not cached (nothing to point at)."""
    cursor = conn.execute(
        "INSERT INTO remote_members (id, network, host, first_seen, updated_at)"
        " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM remote_actors WHERE id = ?)"
        " ON CONFLICT (id) DO UPDATE SET network = excluded.network, host = excluded.host,"
        " updated_at = excluded.updated_at",
        (member_id, network, host, now, now, member_id),
    )
    return cursor.rowcount > 0


def forget(conn: sqlite3.Connection, member_id: str) -> bool:
    return conn.execute("DELETE FROM remote_members WHERE id = ?", (member_id,)).rowcount > 0


_SELECT = (
    "SELECT m.id, m.network, m.host, m.first_seen, m.updated_at, r.raw FROM remote_members m"
    " JOIN remote_actors r ON r.id = m.id"
)


def _member(row: sqlite3.Row) -> RemoteMember:
    return RemoteMember(
        id=row["id"],
        network=row["network"],
        host=row["host"],
        first_seen=row["first_seen"],
        updated_at=row["updated_at"],
        raw=bytes(row["raw"]),
    )


async def get_remote(db: Database, member_id: str) -> RemoteMember | None:
    row = await db.fetchone(_SELECT + " WHERE m.id = ?", (member_id,))
    return _member(row) if row else None


async def list_remote(db: Database, *, followed_only: bool = True) -> list[RemoteMember]:
    """Remote cards, by host; with ``followed_only``, only of networks we have an accepted
    follow with (either direction), not blocked."""
    sql = _SELECT + " WHERE m.host NOT IN (SELECT host FROM domain_blocks)"
    if followed_only:
        sql += (
            " AND EXISTS (SELECT 1 FROM follows f WHERE f.remote = m.network"
            " AND f.state = 'accepted')"
        )
    rows = await db.fetchall(sql + " ORDER BY m.host, m.id")
    return [_member(r) for r in rows]
