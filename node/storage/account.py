"""What the database holds about one member, read generically for an export."""

from __future__ import annotations

import base64
from typing import Any

import msgspec

from .db import Database

__all__ = ["authored_rows", "follows_of", "organised_events", "tokens_of"]

#: Columns that name who wrote, sent or owns a row (an actor IRI or a local username).
WHO_COLUMNS = frozenset(
    {"author", "actor", "username", "local", "reporter", "organizer", "owner", "member"}
)
#: Tables that are not a member's own data, or that an export shows in its own section.
SKIP_TABLES = frozenset(
    {
        "local_actors",  # the card: its own section, without the private keys
        "api_tokens",  # their own section, without the hash
        "follows",  # their own section
        "inbox",  # what others sent
        "deliveries",  # the delivery queue's bookkeeping
        "remote_actors",
        "remote_keys",
        "remote_members",
        "hosts",
        "domain_blocks",
        "domain_allows",
        "schema_version",
    }
)
#: Never exported: columns whose name holds one of these (keys, secrets, hashes of them).
SECRET_MARKS = ("hash", "pem", "secret", "password", "csrf", "token")
#: Columns that hold JSON documents (as text or bytes): exported as JSON, not as strings.
JSON_COLUMNS = frozenset({"raw", "spec", "template", "profile", "objects"})


async def _tables(db: Database) -> list[tuple[str, list[str]]]:
    names = [
        r["name"]
        for r in await db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
    ]
    found = []
    for name in names:
        columns = [r["name"] for r in await db.fetchall(f'PRAGMA table_info("{name}")')]
        found.append((name, columns))
    return found


def _value(column: str, value: Any) -> Any:
    if isinstance(value, bytes | str) and column in JSON_COLUMNS:
        try:
            return msgspec.json.decode(value)
        except msgspec.DecodeError:
            pass
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    return value


def _row(row: Any, columns: list[str]) -> dict[str, Any]:
    return {c: _value(c, row[c]) for c in columns if not _secret(c)}


def _secret(column: str) -> bool:
    return any(mark in column.lower() for mark in SECRET_MARKS)


async def authored_rows(db: Database, actor_id: str, username: str) -> dict[str, list[Any]]:
    """Every row, in every table there is, whose author/actor/owner column names the member.

    Generic on purpose: a content area that adds a table with such a column is
    exported without changing this module.
    """
    out: dict[str, list[Any]] = {}
    for table, columns in await _tables(db):
        if table in SKIP_TABLES:
            continue
        who = [c for c in columns if c in WHO_COLUMNS]
        if not who:
            continue
        where = " OR ".join(f'"{c}" IN (?, ?)' for c in who)
        params: tuple[Any, ...] = tuple(v for _ in who for v in (actor_id, username))
        rows = await db.fetchall(f'SELECT * FROM "{table}" WHERE {where}', params)
        if rows:
            out[table] = [_row(r, columns) for r in rows]
    return out


async def organised_events(db: Database, actor_id: str) -> list[Any]:
    """Events (local and remote copies) whose ``organizers`` list the member."""
    needle = f'"{actor_id}"'
    rows = await db.fetchall(
        "SELECT id, raw, deleted_at FROM objects WHERE type = 'Event'"
        " AND instr(CAST(raw AS TEXT), ?) > 0",
        (needle,),
    )
    found = []
    for row in rows:
        doc = _value("raw", row["raw"])
        organizers = doc.get("organizers") if isinstance(doc, dict) else None
        if isinstance(organizers, str):
            organizers = [organizers]
        if isinstance(organizers, list) and actor_id in organizers:
            found.append({"id": row["id"], "deleted_at": row["deleted_at"], "document": doc})
    return found


async def follows_of(db: Database, username: str) -> list[dict[str, Any]]:
    rows = await db.fetchall(
        "SELECT remote, direction, state, activity_id, created_at, updated_at FROM follows"
        " WHERE local = ? ORDER BY id",
        (username,),
    )
    return [dict(r) for r in rows]


async def tokens_of(db: Database, username: str) -> list[dict[str, Any]]:
    """The member's API tokens: label and times only (the token is never stored; nor is its
    hash exported)."""
    rows = await db.fetchall(
        "SELECT label, created_at, last_used_at FROM api_tokens WHERE username = ?"
        " ORDER BY created_at",
        (username,),
    )
    return [dict(r) for r in rows]
