"""Project participants, and the member feed (objects from what a member or the network follows)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from .db import Database
from .objects import _COLUMNS as _OBJECT_COLUMNS
from .objects import StoredObject, _obj

__all__ = [
    "Participant",
    "add_participant",
    "count",
    "feed",
    "get_participant",
    "participants",
    "projects_of",
    "remove_all",
    "remove_participant",
]


@dataclass(frozen=True)
class Participant:
    project: str
    actor: str
    state: str
    join_id: str
    created_at: str
    updated_at: str


def _participant(row: Any) -> Participant:
    return Participant(
        project=row["project"],
        actor=row["actor"],
        state=row["state"],
        join_id=row["join_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def add_participant(
    conn: sqlite3.Connection, project: str, actor: str, join_id: str, now: str
) -> bool:
    """Record an accepted participant; ``False`` if it already took part (its Join is updated)."""
    existed = conn.execute(
        "SELECT 1 FROM project_participants WHERE project = ? AND actor = ?", (project, actor)
    ).fetchone()
    conn.execute(
        "INSERT INTO project_participants (project, actor, state, join_id, created_at, updated_at)"
        " VALUES (?,?,'accepted',?,?,?)"
        " ON CONFLICT (project, actor) DO UPDATE SET state = 'accepted',"
        " join_id = excluded.join_id, updated_at = excluded.updated_at",
        (project, actor, join_id, now, now),
    )
    return existed is None


def remove_participant(conn: sqlite3.Connection, project: str, actor: str) -> bool:
    cur = conn.execute(
        "DELETE FROM project_participants WHERE project = ? AND actor = ?", (project, actor)
    )
    return cur.rowcount == 1


def remove_all(conn: sqlite3.Connection, project: str) -> int:
    """Forget every participant of a project (it is being removed)."""
    return conn.execute("DELETE FROM project_participants WHERE project = ?", (project,)).rowcount


async def get_participant(db: Database, project: str, actor: str) -> Participant | None:
    row = await db.fetchone(
        "SELECT * FROM project_participants WHERE project = ? AND actor = ?", (project, actor)
    )
    return _participant(row) if row else None


async def participants(
    db: Database, project: str, *, limit: int = 1000, offset: int = 0
) -> list[Participant]:
    rows = await db.fetchall(
        "SELECT * FROM project_participants WHERE project = ? AND state = 'accepted'"
        " ORDER BY created_at, actor LIMIT ? OFFSET ?",
        (project, limit, offset),
    )
    return [_participant(r) for r in rows]


async def count(db: Database, project: str) -> int:
    row = await db.fetchone(
        "SELECT count(*) AS n FROM project_participants WHERE project = ? AND state = 'accepted'",
        (project,),
    )
    return int(row["n"])


async def projects_of(db: Database, actor: str) -> list[str]:
    """The local projects ``actor`` takes part in (project usernames)."""
    rows = await db.fetchall(
        "SELECT project FROM project_participants WHERE actor = ? AND state = 'accepted'"
        " ORDER BY project",
        (actor,),
    )
    return [r["project"] for r in rows]


async def feed(
    db: Database,
    *,
    followers: tuple[str, ...],
    audiences: tuple[str, ...] = (),
    visibilities: tuple[str, ...] = ("public", "cooperative"),
    before: str | None = None,
    limit: int = 50,
) -> list[StoredObject]:
    """Objects, newest first, by (or relayed by, or addressed to) what ``followers`` follow.

    ``followers`` are local usernames (a member and the network); an object is in the
    feed when its author, the actor that delivered or announced it, or its audience is
    followed (accepted) by one of them, or when its audience is one of ``audiences``.
    """
    if not followers or not visibilities:
        return []
    marks = ",".join("?" * len(followers))
    followed = (
        f"SELECT remote FROM follows WHERE local IN ({marks})"
        " AND direction = 'out' AND state = 'accepted'"
    )
    sql = (
        f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE deleted_at IS NULL"
        f" AND visibility IN ({','.join('?' * len(visibilities))})"
        f" AND (author IN ({followed}) OR origin_actor IN ({followed})"
        f" OR audience IN ({followed})"
    )
    params: list[Any] = [*visibilities, *followers, *followers, *followers]
    if audiences:
        sql += f" OR audience IN ({','.join('?' * len(audiences))})"
        params += list(audiences)
    sql += ")"
    if before is not None:
        sql += " AND published < ?"
        params.append(before)
    sql += " ORDER BY published DESC, id LIMIT ?"
    params.append(limit)
    return [_obj(r) for r in await db.fetchall(sql, tuple(params))]
