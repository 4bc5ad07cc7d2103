"""The cache of remote actors and their public keys."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from . import changes
from .db import Database

__all__ = [
    "RemoteActor",
    "RemoteKey",
    "delete_actor",
    "get_actor",
    "get_key",
    "inbox_speaks_rfc9421",
    "inboxes_speak_rfc9421",
    "keys_of",
    "save_actor",
    "save_key",
]


@dataclass(frozen=True)
class RemoteActor:
    id: str
    host: str
    type: str
    inbox: str
    shared_inbox: str | None
    rfc9421: bool
    raw: bytes
    fetched_at: str


@dataclass(frozen=True)
class RemoteKey:
    key_id: str
    owner: str
    kind: str
    pem: str
    fetched_at: str


def save_actor(conn: sqlite3.Connection, actor: RemoteActor) -> None:
    changes.touched(conn, "remote_actors")
    conn.execute(
        "INSERT INTO remote_actors (id, host, type, inbox, shared_inbox, rfc9421, raw, fetched_at)"
        " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET host = excluded.host,"
        " type = excluded.type, inbox = excluded.inbox, shared_inbox = excluded.shared_inbox,"
        " rfc9421 = excluded.rfc9421, raw = excluded.raw, fetched_at = excluded.fetched_at",
        (
            actor.id,
            actor.host,
            actor.type,
            actor.inbox,
            actor.shared_inbox,
            int(actor.rfc9421),
            actor.raw,
            actor.fetched_at,
        ),
    )


def save_key(conn: sqlite3.Connection, key: RemoteKey) -> None:
    conn.execute(
        "INSERT INTO remote_keys (key_id, owner, kind, pem, fetched_at) VALUES (?,?,?,?,?)"
        " ON CONFLICT (key_id) DO UPDATE SET owner = excluded.owner, kind = excluded.kind,"
        " pem = excluded.pem, fetched_at = excluded.fetched_at",
        (key.key_id, key.owner, key.kind, key.pem, key.fetched_at),
    )


#: Bumped by every ``delete_actor`` in this process: in-memory key caches drop what they hold.
deletions = 0


def delete_actor(conn: sqlite3.Connection, actor_id: str) -> None:
    global deletions
    deletions += 1
    conn.execute("DELETE FROM remote_keys WHERE owner = ?", (actor_id,))
    if conn.execute("DELETE FROM remote_actors WHERE id = ?", (actor_id,)).rowcount:
        changes.touched(conn, "remote_actors")


def _actor(row: Any) -> RemoteActor:
    return RemoteActor(
        id=row["id"],
        host=row["host"],
        type=row["type"],
        inbox=row["inbox"],
        shared_inbox=row["shared_inbox"],
        rfc9421=bool(row["rfc9421"]),
        raw=bytes(row["raw"]),
        fetched_at=row["fetched_at"],
    )


def _key(row: Any) -> RemoteKey:
    return RemoteKey(
        key_id=row["key_id"],
        owner=row["owner"],
        kind=row["kind"],
        pem=row["pem"],
        fetched_at=row["fetched_at"],
    )


async def get_actor(db: Database, actor_id: str) -> RemoteActor | None:
    row = await db.fetchone("SELECT * FROM remote_actors WHERE id = ?", (actor_id,))
    return _actor(row) if row else None


async def get_key(db: Database, key_id: str) -> RemoteKey | None:
    row = await db.fetchone("SELECT * FROM remote_keys WHERE key_id = ?", (key_id,))
    return _key(row) if row else None


async def keys_of(db: Database, owner: str) -> list[RemoteKey]:
    return [
        _key(r) for r in await db.fetchall("SELECT * FROM remote_keys WHERE owner = ?", (owner,))
    ]


async def inbox_speaks_rfc9421(db: Database, inbox_url: str) -> bool:
    """Whether an actor behind this inbox advertises RFC 9421 (FEP-844e) with an Ed25519 key."""
    row = await db.fetchone(
        "SELECT max(rfc9421) AS v FROM remote_actors WHERE shared_inbox = ? OR inbox = ?",
        (inbox_url, inbox_url),
    )
    return bool(row and row["v"])


async def inboxes_speak_rfc9421(db: Database, inbox_urls: list[str]) -> dict[str, bool]:
    """``inbox_speaks_rfc9421`` for many inboxes in one query (chunks of 400)."""
    found = dict.fromkeys(inbox_urls, False)
    for start in range(0, len(inbox_urls), 400):
        chunk = inbox_urls[start : start + 400]
        marks = ",".join("?" * len(chunk))
        rows = await db.fetchall(
            "SELECT inbox, shared_inbox, rfc9421 FROM remote_actors"
            f" WHERE rfc9421 = 1 AND (inbox IN ({marks}) OR shared_inbox IN ({marks}))",
            (*chunk, *chunk),
        )
        for r in rows:
            for url in (r["inbox"], r["shared_inbox"]):
                if url in found:
                    found[url] = True
    return found
