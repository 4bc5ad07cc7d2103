"""Moderation records: Flag reports (in and out) and node-wide blocks of remote actors."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from .db import Database

__all__ = [
    "NODE",
    "Report",
    "actor_blocks",
    "audit",
    "audit_log",
    "block_actor",
    "blocked_actors",
    "get_report",
    "insert_report",
    "list_reports",
    "resolve_report",
    "unblock_actor",
]

#: The ``local`` column of a block that applies to the whole node (not one member's).
NODE = "*"

#: Bumped by every actor block written by this process (policy caches reload at once).
generation = 0


@dataclass(frozen=True)
class Report:
    id: int
    direction: str
    activity_id: str
    reporter: str
    host: str
    target: str
    objects: list[str]
    reason: str
    state: str
    created_at: str
    resolved_at: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "direction": self.direction,
            "activity": self.activity_id,
            "reporter": self.reporter,
            "host": self.host,
            "target": self.target,
            "objects": self.objects,
            "reason": self.reason,
            "state": self.state,
            "created_at": self.created_at,
            "resolved_at": self.resolved_at,
        }


def _report(row: Any) -> Report:
    return Report(
        id=row["id"],
        direction=row["direction"],
        activity_id=row["activity_id"],
        reporter=row["reporter"],
        host=row["host"],
        target=row["target"],
        objects=json.loads(row["objects"]),
        reason=row["reason"],
        state=row["state"],
        created_at=row["created_at"],
        resolved_at=row["resolved_at"],
    )


def insert_report(
    conn: sqlite3.Connection,
    *,
    direction: str,
    activity_id: str,
    reporter: str,
    host: str,
    target: str,
    objects: list[str],
    reason: str,
    now: str,
    raw: bytes | None = None,
) -> int | None:
    """Store a report; ``None`` if a report with this Flag id is already stored."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO reports (direction, activity_id, reporter, host, target, objects,"
        " reason, state, raw, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            direction,
            activity_id,
            reporter,
            host,
            target,
            json.dumps(objects),
            reason,
            "open" if direction == "in" else "sent",
            raw,
            now,
        ),
    )
    return cur.lastrowid if cur.rowcount == 1 else None


async def list_reports(
    db: Database, *, direction: str | None = "in", state: str | None = None, limit: int = 200
) -> list[Report]:
    sql = "SELECT * FROM reports WHERE 1 = 1"
    params: list[Any] = []
    if direction is not None:
        sql += " AND direction = ?"
        params.append(direction)
    if state is not None:
        sql += " AND state = ?"
        params.append(state)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return [_report(r) for r in await db.fetchall(sql, tuple(params))]


async def get_report(db: Database, ident: int) -> Report | None:
    row = await db.fetchone("SELECT * FROM reports WHERE id = ?", (ident,))
    return _report(row) if row else None


def resolve_report(conn: sqlite3.Connection, ident: int, now: str) -> bool:
    return (
        conn.execute(
            "UPDATE reports SET state = 'resolved', resolved_at = ? WHERE id = ? AND state = 'open'",
            (now, ident),
        ).rowcount
        == 1
    )


def _changed() -> None:
    global generation
    generation += 1


def block_actor(conn: sqlite3.Connection, remote: str, now: str, local: str = NODE) -> bool:
    """Block a remote actor; ``False`` if it already was."""
    _changed()
    return (
        conn.execute(
            "INSERT OR IGNORE INTO actor_blocks (local, remote, created_at) VALUES (?,?,?)",
            (local, remote, now),
        ).rowcount
        == 1
    )


def unblock_actor(conn: sqlite3.Connection, remote: str, local: str = NODE) -> bool:
    _changed()
    return (
        conn.execute(
            "DELETE FROM actor_blocks WHERE local = ? AND remote = ?", (local, remote)
        ).rowcount
        == 1
    )


async def blocked_actors(db: Database, local: str = NODE) -> frozenset[str]:
    rows = await db.fetchall("SELECT remote FROM actor_blocks WHERE local = ?", (local,))
    return frozenset(r["remote"] for r in rows)


async def actor_blocks(db: Database) -> list[dict[str, str]]:
    rows = await db.fetchall("SELECT * FROM actor_blocks ORDER BY created_at, remote")
    return [dict(local=r["local"], remote=r["remote"], created_at=r["created_at"]) for r in rows]


def audit(
    conn: sqlite3.Connection, at: str, by: str, action: str, subject: str, detail: str = ""
) -> None:
    """Record a moderation decision."""
    conn.execute(
        "INSERT INTO moderation_log (at, by, action, subject, detail) VALUES (?,?,?,?,?)",
        (at, by, action, subject, detail[:1000]),
    )


async def audit_log(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    rows = await db.fetchall("SELECT * FROM moderation_log ORDER BY id DESC LIMIT ?", (limit,))
    return [
        dict(at=r["at"], by=r["by"], action=r["action"], subject=r["subject"], detail=r["detail"])
        for r in rows
    ]
