"""Local actors (network, instance, members, projects) and their keys."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from protocol import keys

from .db import Database

__all__ = [
    "LocalActor",
    "NameTaken",
    "get_by_path",
    "get_local",
    "insert_local",
    "key_marks",
    "list_local",
    "set_keys",
    "update_local",
]


class NameTaken(Exception):
    """A new local name collides with an existing one (names share one namespace)."""


@dataclass
class LocalActor:
    username: str
    kind: str
    path: str
    name: str
    summary: str
    rsa_pem: str
    ed25519_pem: str
    created_at: str
    updated_at: str
    profile: dict[str, Any] = field(default_factory=dict)
    manually_approves: bool = False
    deleted_at: str | None = None
    role: str = "member"

    @cached_property
    def rsa_key(self) -> keys.PrivateKey:
        return keys.load_private_pem(self.rsa_pem)

    @cached_property
    def ed25519_key(self) -> keys.PrivateKey:
        return keys.load_private_pem(self.ed25519_pem)

    @classmethod
    def new(cls, username: str, kind: str, path: str, name: str, now: str, **kw: Any) -> LocalActor:
        return cls(
            username=username,
            kind=kind,
            path=path,
            name=name,
            summary=kw.pop("summary", ""),
            rsa_pem=keys.dump_private_pem(keys.generate_rsa()),
            ed25519_pem=keys.dump_private_pem(keys.generate_ed25519()),
            created_at=now,
            updated_at=now,
            **kw,
        )


_COLUMNS = (
    "username, kind, path, name, summary, profile, rsa_pem, ed25519_pem, "
    "manually_approves, created_at, updated_at, deleted_at, role"
)


def _row(row: Any) -> LocalActor:
    return LocalActor(
        username=row["username"],
        kind=row["kind"],
        path=row["path"],
        name=row["name"],
        summary=row["summary"],
        profile=json.loads(row["profile"]),
        rsa_pem=row["rsa_pem"],
        ed25519_pem=row["ed25519_pem"],
        manually_approves=bool(row["manually_approves"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
        role=row["role"],
    )


def insert_local(conn: sqlite3.Connection, actor: LocalActor) -> None:
    """Insert a local actor; ``NameTaken`` if the name or path is in use."""
    try:
        conn.execute(
            f"INSERT INTO local_actors ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                actor.username,
                actor.kind,
                actor.path,
                actor.name,
                actor.summary,
                json.dumps(actor.profile),
                actor.rsa_pem,
                actor.ed25519_pem,
                int(actor.manually_approves),
                actor.created_at,
                actor.updated_at,
                actor.deleted_at,
                actor.role,
            ),
        )
    except sqlite3.IntegrityError as exc:
        raise NameTaken(f"the name {actor.username!r} is taken on this node") from exc


async def get_local(db: Database, username: str) -> LocalActor | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM local_actors WHERE username = ?", (username,))
    return _row(row) if row else None


async def get_by_path(db: Database, path: str) -> LocalActor | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM local_actors WHERE path = ?", (path,))
    return _row(row) if row else None


async def list_local(db: Database, kind: str | None = None) -> list[LocalActor]:
    if kind is None:
        rows = await db.fetchall(f"SELECT {_COLUMNS} FROM local_actors ORDER BY username")
    else:
        rows = await db.fetchall(
            f"SELECT {_COLUMNS} FROM local_actors WHERE kind = ? ORDER BY username", (kind,)
        )
    return [_row(r) for r in rows]


def update_local(conn: sqlite3.Connection, actor: LocalActor) -> None:
    """Write back a local actor's mutable fields (name, summary, profile, role, approval, deletion)."""
    conn.execute(
        "UPDATE local_actors SET name = ?, summary = ?, profile = ?, role = ?, manually_approves = ?,"
        " updated_at = ?, deleted_at = ? WHERE username = ?",
        (
            actor.name,
            actor.summary,
            json.dumps(actor.profile),
            actor.role,
            int(actor.manually_approves),
            actor.updated_at,
            actor.deleted_at,
            actor.username,
        ),
    )


def set_keys(
    conn: sqlite3.Connection, username: str, rsa_pem: str, ed25519_pem: str, now: str
) -> None:
    """Replace a local actor's key pair (key rotation); the key ids stay the same."""
    conn.execute(
        "UPDATE local_actors SET rsa_pem = ?, ed25519_pem = ?, updated_at = ? WHERE username = ?",
        (rsa_pem, ed25519_pem, now, username),
    )


async def key_marks(db: Database, usernames: list[str]) -> dict[str, str]:
    """Each actor's Ed25519 PEM: what a process holding actors compares to notice a rotation."""
    if not usernames:
        return {}
    rows = await db.fetchall(
        "SELECT username, ed25519_pem FROM local_actors"
        f" WHERE username IN ({','.join('?' * len(usernames))})",
        tuple(usernames),
    )
    return {r["username"]: r["ed25519_pem"] for r in rows}
