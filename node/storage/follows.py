"""Follow relations, per local actor, in both directions."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from . import changes
from .db import Database

__all__ = [
    "Follow",
    "count",
    "delete",
    "delivery_targets",
    "get",
    "get_by_activity",
    "list_for",
    "set_state",
    "upsert",
]


@dataclass(frozen=True)
class Follow:
    local: str
    remote: str
    direction: str  # "in": remote follows local; "out": local follows remote
    state: str
    activity_id: str
    created_at: str
    updated_at: str


def _follow(row: Any) -> Follow:
    return Follow(
        local=row["local"],
        remote=row["remote"],
        direction=row["direction"],
        state=row["state"],
        activity_id=row["activity_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def upsert(
    conn: sqlite3.Connection,
    local: str,
    remote: str,
    direction: str,
    state: str,
    activity_id: str,
    now: str,
) -> None:
    changes.touched(conn, "follows")
    conn.execute(
        "INSERT INTO follows (local, remote, direction, state, activity_id, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?)"
        " ON CONFLICT (local, remote, direction) DO UPDATE SET"
        " state = excluded.state, activity_id = excluded.activity_id, updated_at = excluded.updated_at",
        (local, remote, direction, state, activity_id, now, now),
    )


def set_state(
    conn: sqlite3.Connection, local: str, remote: str, direction: str, state: str, now: str
) -> bool:
    changes.touched(conn, "follows")
    cur = conn.execute(
        "UPDATE follows SET state = ?, updated_at = ? WHERE local = ? AND remote = ? AND direction = ?",
        (state, now, local, remote, direction),
    )
    return cur.rowcount == 1


def delete(conn: sqlite3.Connection, local: str, remote: str, direction: str) -> bool:
    cur = conn.execute(
        "DELETE FROM follows WHERE local = ? AND remote = ? AND direction = ?",
        (local, remote, direction),
    )
    if cur.rowcount:  # an Undo or Delete of someone never followed changes nothing
        changes.touched(conn, "follows")
    return cur.rowcount == 1


def delete_remote(conn: sqlite3.Connection, remote: str) -> int:
    """Forget every relation with a remote actor (it was deleted)."""
    removed = conn.execute("DELETE FROM follows WHERE remote = ?", (remote,)).rowcount
    if removed:  # most actor Deletes are of actors nobody here follows
        changes.touched(conn, "follows")
    return removed


async def get(db: Database, local: str, remote: str, direction: str) -> Follow | None:
    row = await db.fetchone(
        "SELECT * FROM follows WHERE local = ? AND remote = ? AND direction = ?",
        (local, remote, direction),
    )
    return _follow(row) if row else None


async def get_by_activity(db: Database, activity_id: str) -> Follow | None:
    row = await db.fetchone("SELECT * FROM follows WHERE activity_id = ?", (activity_id,))
    return _follow(row) if row else None


async def list_for(
    db: Database,
    local: str | None,
    direction: str,
    state: str | None = "accepted",
    *,
    limit: int = 1000,
    offset: int = 0,
) -> list[Follow]:
    sql = "SELECT * FROM follows WHERE direction = ?"
    params: list[Any] = [direction]
    if local is not None:
        sql += " AND local = ?"
        params.append(local)
    if state is not None:
        sql += " AND state = ?"
        params.append(state)
    sql += " ORDER BY id LIMIT ? OFFSET ?"
    params += [limit, offset]
    return [_follow(r) for r in await db.fetchall(sql, tuple(params))]


async def count(db: Database, local: str, direction: str, state: str = "accepted") -> int:
    row = await db.fetchone(
        "SELECT count(*) AS n FROM follows WHERE local = ? AND direction = ? AND state = ?",
        (local, direction, state),
    )
    return int(row["n"])


async def delivery_targets(db: Database, local: str) -> list[tuple[str, str]]:
    """Distinct ``(inbox_url, host)`` of a local actor's accepted followers: one per shared inbox."""
    rows = await db.fetchall(
        "SELECT DISTINCT coalesce(r.shared_inbox, r.inbox) AS url, r.host AS host"
        " FROM follows f JOIN remote_actors r ON r.id = f.remote"
        " WHERE f.local = ? AND f.direction = 'in' AND f.state = 'accepted'"
        " AND r.host NOT IN (SELECT host FROM domain_blocks)",
        (local,),
    )
    return [(r["url"], r["host"]) for r in rows]


async def partner_networks(db: Database, local: str) -> list[Any]:
    """Remote Kantine network actors with an accepted follow with ``local`` in either direction.

    A Kantine network is a remote ``Group`` that publishes a ``cooperative`` collection.
    Rows have ``id``, ``host``, ``inbox`` and ``shared_inbox``. Asked for every incoming
    activity: read again only when follows, remote actors or domain blocks change.
    """
    return await _partners.get(db, local)


async def _read_partners(db: Database, local: str) -> list[Any]:
    return [
        {key: row[key] for key in ("id", "host", "inbox", "shared_inbox")}
        for row in await db.fetchall(
            "SELECT DISTINCT r.id, r.host, r.inbox, r.shared_inbox FROM follows f"
            " JOIN remote_actors r ON r.id = f.remote"
            " WHERE f.local = ? AND f.state = 'accepted' AND r.type = 'Group'"
            " AND json_extract(CAST(r.raw AS TEXT), '$.cooperative') IS NOT NULL"
            " AND r.host NOT IN (SELECT host FROM domain_blocks)",
            (local,),
        )
    ]


_partners = changes.Snapshot(("follows", "remote_actors", "domain_blocks"), _read_partners)


async def followed_by_anyone(db: Database, remote: str) -> bool:
    """Whether some local actor follows ``remote`` (accepted)."""
    return remote in await _followed.get(db)


async def _read_followed(db: Database) -> frozenset[str]:
    rows = await db.fetchall(
        "SELECT DISTINCT remote FROM follows WHERE direction = 'out' AND state = 'accepted'"
    )
    return frozenset(row[0] for row in rows)


_followed = changes.Snapshot(("follows",), _read_followed)
