"""Content objects, local and remote: events, assignments, notes, agreements."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import msgspec

from .db import Database

__all__ = ["StoredObject", "delete", "get", "listing", "save"]


@dataclass(frozen=True)
class StoredObject:
    id: str
    type: str
    author: str
    local: bool
    visibility: str
    host: str
    raw: bytes
    published: str
    updated: str
    name: str = ""
    origin_actor: str | None = None
    audience: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    status: str | None = None
    series: str | None = None
    deleted_at: str | None = None

    @property
    def document(self) -> dict[str, Any]:
        return msgspec.json.decode(self.raw)  # type: ignore[no-any-return]


_COLUMNS = (
    "id, type, author, local, visibility, host, origin_actor, audience, name, start_time,"
    " end_time, status, series, raw, published, updated, deleted_at"
)


def _obj(row: Any) -> StoredObject:
    return StoredObject(
        id=row["id"],
        type=row["type"],
        author=row["author"],
        local=bool(row["local"]),
        visibility=row["visibility"],
        host=row["host"],
        origin_actor=row["origin_actor"],
        audience=row["audience"],
        name=row["name"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        status=row["status"],
        series=row["series"],
        raw=bytes(row["raw"]),
        published=row["published"],
        updated=row["updated"],
        deleted_at=row["deleted_at"],
    )


def save(conn: sqlite3.Connection, obj: StoredObject) -> None:
    """Insert or replace an object (an Update replaces the stored document)."""
    conn.execute(
        f"INSERT INTO objects ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (id) DO UPDATE SET type = excluded.type, visibility = excluded.visibility,"
        " origin_actor = coalesce(excluded.origin_actor, objects.origin_actor),"
        " audience = excluded.audience, name = excluded.name, start_time = excluded.start_time,"
        " end_time = excluded.end_time, status = excluded.status, series = excluded.series,"
        " raw = excluded.raw, updated = excluded.updated, deleted_at = excluded.deleted_at",
        (
            obj.id,
            obj.type,
            obj.author,
            int(obj.local),
            obj.visibility,
            obj.host,
            obj.origin_actor,
            obj.audience,
            obj.name,
            obj.start_time,
            obj.end_time,
            obj.status,
            obj.series,
            obj.raw,
            obj.published,
            obj.updated,
            obj.deleted_at,
        ),
    )


def delete(conn: sqlite3.Connection, object_id: str, now: str) -> bool:
    """Mark an object deleted (its row stays as a tombstone so a late Create cannot revive it)."""
    return (
        conn.execute(
            "UPDATE objects SET deleted_at = ?, updated = ? WHERE id = ? AND deleted_at IS NULL",
            (now, now, object_id),
        ).rowcount
        == 1
    )


def delete_by_author(conn: sqlite3.Connection, author: str, now: str) -> int:
    return conn.execute(
        "UPDATE objects SET deleted_at = ?, updated = ? WHERE author = ? AND deleted_at IS NULL",
        (now, now, author),
    ).rowcount


async def get(
    db: Database, object_id: str, *, include_deleted: bool = False
) -> StoredObject | None:
    sql = f"SELECT {_COLUMNS} FROM objects WHERE id = ?"
    if not include_deleted:
        sql += " AND deleted_at IS NULL"
    row = await db.fetchone(sql, (object_id,))
    return _obj(row) if row else None


async def listing(
    db: Database,
    *,
    type: str | None = None,
    visibilities: tuple[str, ...] = ("public",),
    local: bool | None = None,
    author: str | None = None,
    audience: str | None = None,
    series: str | None = None,
    starts_after: str | None = None,
    starts_before: str | None = None,
    limit: int = 100,
    offset: int = 0,
    newest_first: bool = False,
) -> list[StoredObject]:
    """Objects that are not deleted, filtered; events ordered by start time, others by date."""
    sql = f"SELECT {_COLUMNS} FROM objects WHERE deleted_at IS NULL"
    params: list[Any] = []
    if type is not None:
        sql += " AND type = ?"
        params.append(type)
    if visibilities:
        sql += f" AND visibility IN ({','.join('?' * len(visibilities))})"
        params += list(visibilities)
    if local is not None:
        sql += " AND local = ?"
        params.append(int(local))
    for column, value in (("author", author), ("audience", audience), ("series", series)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    if starts_after is not None:
        sql += " AND start_time >= ?"
        params.append(starts_after)
    if starts_before is not None:
        sql += " AND start_time < ?"
        params.append(starts_before)
    if type == "Event" and not newest_first:
        sql += " ORDER BY start_time, id"
    else:
        sql += " ORDER BY published DESC, id"
    sql += " LIMIT ? OFFSET ?"
    params += [limit, offset]
    return [_obj(r) for r in await db.fetchall(sql, tuple(params))]
