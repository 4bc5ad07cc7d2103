"""Meetups: our events' settings, recurring series, and RSVPs (participants)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from .db import Database

__all__ = [
    "LocalEvent",
    "Participant",
    "Series",
    "by_join",
    "claim_count_update",
    "count",
    "count_sync",
    "dirty_due",
    "first_waitlisted",
    "get_event",
    "get_series",
    "insert_event",
    "insert_series",
    "list_events",
    "list_participants",
    "list_series",
    "mark_dirty",
    "member_rsvps",
    "participant",
    "participant_sync",
    "set_state",
    "update_event",
    "update_series",
    "upsert_participant",
]

#: RSVP states in which a person holds (or waits for) a place.
ACTIVE = ("pending", "accepted", "waitlist")


@dataclass
class LocalEvent:
    id: str
    ident: str
    author: str
    spec: dict[str, Any]
    start_time: str
    end_time: str | None
    created_at: str
    updated_at: str
    status: str = "EventScheduled"
    series: str | None = None
    occurrence: str | None = None
    count_dirty: bool = False
    count_published_at: str | None = None
    deleted_at: str | None = None


@dataclass
class Series:
    id: str
    ident: str
    author: str
    rrule: str
    dtstart: str
    duration: int | None
    template: dict[str, Any]
    created_at: str
    updated_at: str
    horizon_days: int | None = None
    cancelled: bool = False
    deleted_at: str | None = None


@dataclass(frozen=True)
class Participant:
    event: str
    actor: str
    state: str
    join_id: str
    joined_at: str
    updated_at: str


_EVENT_COLUMNS = (
    "id, ident, author, spec, start_time, end_time, status, series, occurrence, count_dirty,"
    " count_published_at, created_at, updated_at, deleted_at"
)
_SERIES_COLUMNS = (
    "id, ident, author, rrule, dtstart, duration, template, horizon_days, cancelled,"
    " created_at, updated_at, deleted_at"
)
_PARTICIPANT_COLUMNS = "event, actor, state, join_id, joined_at, updated_at"


def _event(row: Any) -> LocalEvent:
    return LocalEvent(
        id=row["id"],
        ident=row["ident"],
        author=row["author"],
        spec=json.loads(row["spec"]),
        start_time=row["start_time"],
        end_time=row["end_time"],
        status=row["status"],
        series=row["series"],
        occurrence=row["occurrence"],
        count_dirty=bool(row["count_dirty"]),
        count_published_at=row["count_published_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


def _series(row: Any) -> Series:
    return Series(
        id=row["id"],
        ident=row["ident"],
        author=row["author"],
        rrule=row["rrule"],
        dtstart=row["dtstart"],
        duration=row["duration"],
        template=json.loads(row["template"]),
        horizon_days=row["horizon_days"],
        cancelled=bool(row["cancelled"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


def _participant(row: Any) -> Participant:
    return Participant(*(row[k] for k in _PARTICIPANT_COLUMNS.split(", ")))


# -- events -------------------------------------------------------------------------


def insert_event(conn: sqlite3.Connection, ev: LocalEvent) -> bool:
    """Insert an event; False when it exists (a series occurrence already published)."""
    cur = conn.execute(
        f"INSERT OR IGNORE INTO events ({_EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            ev.id,
            ev.ident,
            ev.author,
            json.dumps(ev.spec),
            ev.start_time,
            ev.end_time,
            ev.status,
            ev.series,
            ev.occurrence,
            int(ev.count_dirty),
            ev.count_published_at,
            ev.created_at,
            ev.updated_at,
            ev.deleted_at,
        ),
    )
    return cur.rowcount == 1


def update_event(conn: sqlite3.Connection, ev: LocalEvent) -> None:
    """Write back what an organiser may change (and the deletion mark)."""
    conn.execute(
        "UPDATE events SET spec = ?, start_time = ?, end_time = ?, status = ?, updated_at = ?,"
        " deleted_at = ? WHERE id = ?",
        (
            json.dumps(ev.spec),
            ev.start_time,
            ev.end_time,
            ev.status,
            ev.updated_at,
            ev.deleted_at,
            ev.id,
        ),
    )


async def get_event(db: Database, key: str, *, include_deleted: bool = False) -> LocalEvent | None:
    """An event by its IRI or its short ident."""
    sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE (id = ? OR ident = ?)"
    if not include_deleted:
        sql += " AND deleted_at IS NULL"
    row = await db.fetchone(sql, (key, key))
    return _event(row) if row else None


async def list_events(
    db: Database,
    *,
    starts_after: str | None = None,
    series: str | None = None,
    limit: int = 200,
) -> list[LocalEvent]:
    sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE deleted_at IS NULL"
    params: list[Any] = []
    if starts_after is not None:
        sql += " AND coalesce(end_time, start_time) >= ?"
        params.append(starts_after)
    if series is not None:
        sql += " AND series = ?"
        params.append(series)
    sql += " ORDER BY start_time, id LIMIT ?"
    params.append(limit)
    return [_event(r) for r in await db.fetchall(sql, tuple(params))]


def mark_dirty(conn: sqlite3.Connection, event_id: str) -> None:
    conn.execute("UPDATE events SET count_dirty = 1 WHERE id = ?", (event_id,))


async def dirty_due(db: Database, published_before: str) -> list[LocalEvent]:
    """Events whose count changed and whose last count Update is old enough to send another."""
    rows = await db.fetchall(
        f"SELECT {_EVENT_COLUMNS} FROM events WHERE count_dirty = 1 AND deleted_at IS NULL"
        " AND (count_published_at IS NULL OR count_published_at <= ?)",
        (published_before,),
    )
    return [_event(r) for r in rows]


def claim_count_update(conn: sqlite3.Connection, event_id: str, now: str, *, force: bool) -> bool:
    """Take the right to publish the event's count now (so two processes never both do)."""
    sql = "UPDATE events SET count_dirty = 0, count_published_at = ? WHERE id = ?"
    if not force:
        sql += " AND count_dirty = 1"
    return conn.execute(sql, (now, event_id)).rowcount == 1


# -- series -------------------------------------------------------------------------


def insert_series(conn: sqlite3.Connection, s: Series) -> None:
    conn.execute(
        f"INSERT INTO event_series ({_SERIES_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            s.id,
            s.ident,
            s.author,
            s.rrule,
            s.dtstart,
            s.duration,
            json.dumps(s.template),
            s.horizon_days,
            int(s.cancelled),
            s.created_at,
            s.updated_at,
            s.deleted_at,
        ),
    )


def update_series(conn: sqlite3.Connection, s: Series) -> None:
    conn.execute(
        "UPDATE event_series SET rrule = ?, dtstart = ?, duration = ?, template = ?,"
        " horizon_days = ?, cancelled = ?, updated_at = ?, deleted_at = ? WHERE id = ?",
        (
            s.rrule,
            s.dtstart,
            s.duration,
            json.dumps(s.template),
            s.horizon_days,
            int(s.cancelled),
            s.updated_at,
            s.deleted_at,
            s.id,
        ),
    )


async def get_series(db: Database, key: str, *, include_deleted: bool = False) -> Series | None:
    """A series by its IRI or its short ident."""
    sql = f"SELECT {_SERIES_COLUMNS} FROM event_series WHERE (id = ? OR ident = ?)"
    if not include_deleted:
        sql += " AND deleted_at IS NULL"
    row = await db.fetchone(sql, (key, key))
    return _series(row) if row else None


async def list_series(db: Database, *, active_only: bool = False) -> list[Series]:
    sql = f"SELECT {_SERIES_COLUMNS} FROM event_series WHERE deleted_at IS NULL"
    if active_only:
        sql += " AND cancelled = 0"
    rows = await db.fetchall(sql + " ORDER BY created_at, id")
    return [_series(r) for r in rows]


# -- participants -------------------------------------------------------------------


def participant_sync(conn: sqlite3.Connection, event: str, actor: str) -> Participant | None:
    row = conn.execute(
        f"SELECT {_PARTICIPANT_COLUMNS} FROM event_participants WHERE event = ? AND actor = ?",
        (event, actor),
    ).fetchone()
    return _participant(row) if row else None


async def participant(db: Database, event: str, actor: str) -> Participant | None:
    row = await db.fetchone(
        f"SELECT {_PARTICIPANT_COLUMNS} FROM event_participants WHERE event = ? AND actor = ?",
        (event, actor),
    )
    return _participant(row) if row else None


async def by_join(db: Database, join_id: str) -> Participant | None:
    row = await db.fetchone(
        f"SELECT {_PARTICIPANT_COLUMNS} FROM event_participants WHERE join_id = ?", (join_id,)
    )
    return _participant(row) if row else None


def upsert_participant(
    conn: sqlite3.Connection, event: str, actor: str, state: str, join_id: str, now: str
) -> None:
    """Record a Join: a new RSVP, or a returning person (who goes to the back of the queue)."""
    conn.execute(
        f"INSERT INTO event_participants ({_PARTICIPANT_COLUMNS}) VALUES (?,?,?,?,?,?)"
        " ON CONFLICT (event, actor) DO UPDATE SET state = excluded.state,"
        " join_id = excluded.join_id, joined_at = excluded.joined_at,"
        " updated_at = excluded.updated_at",
        (event, actor, state, join_id, now, now),
    )


def set_state(conn: sqlite3.Connection, event: str, actor: str, state: str, now: str) -> None:
    conn.execute(
        "UPDATE event_participants SET state = ?, updated_at = ? WHERE event = ? AND actor = ?",
        (state, now, event, actor),
    )


def count_sync(conn: sqlite3.Connection, event: str, state: str = "accepted") -> int:
    row = conn.execute(
        "SELECT count(*) FROM event_participants WHERE event = ? AND state = ?", (event, state)
    ).fetchone()
    return int(row[0])


async def count(db: Database, event: str, state: str = "accepted") -> int:
    row = await db.fetchone(
        "SELECT count(*) AS n FROM event_participants WHERE event = ? AND state = ?",
        (event, state),
    )
    return int(row["n"])


def first_waitlisted(conn: sqlite3.Connection, event: str) -> Participant | None:
    row = conn.execute(
        f"SELECT {_PARTICIPANT_COLUMNS} FROM event_participants"
        " WHERE event = ? AND state = 'waitlist' ORDER BY joined_at, actor LIMIT 1",
        (event,),
    ).fetchone()
    return _participant(row) if row else None


async def list_participants(
    db: Database, event: str, states: tuple[str, ...] = ACTIVE
) -> list[Participant]:
    marks = ",".join("?" * len(states))
    rows = await db.fetchall(
        f"SELECT {_PARTICIPANT_COLUMNS} FROM event_participants"
        f" WHERE event = ? AND state IN ({marks}) ORDER BY joined_at, actor",
        (event, *states),
    )
    return [_participant(r) for r in rows]


async def member_rsvps(db: Database, actor: str) -> list[Participant]:
    """Every RSVP of one (local) actor, newest first."""
    rows = await db.fetchall(
        f"SELECT {_PARTICIPANT_COLUMNS} FROM event_participants WHERE actor = ?"
        " ORDER BY joined_at DESC",
        (actor,),
    )
    return [_participant(r) for r in rows]
