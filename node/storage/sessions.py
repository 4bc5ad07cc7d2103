"""Web sign-in: members' password hashes and browser sessions (only hashes of their ids)."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass

from .db import Database

__all__ = [
    "Session",
    "create",
    "delete",
    "delete_for",
    "get",
    "get_password",
    "hash_id",
    "purge_expired",
    "set_password",
]


@dataclass(frozen=True)
class Session:
    username: str
    csrf: str
    created: str
    expires: str


def hash_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def set_password(conn: sqlite3.Connection, username: str, password_hash: str, now: str) -> None:
    """Store a member's password hash; the member's sessions end (a new password signs out)."""
    conn.execute(
        "INSERT INTO passwords (username, hash, updated) VALUES (?,?,?)"
        " ON CONFLICT (username) DO UPDATE SET hash = excluded.hash, updated = excluded.updated",
        (username, password_hash, now),
    )
    delete_for(conn, username)


async def get_password(db: Database, username: str) -> str | None:
    row = await db.fetchone("SELECT hash FROM passwords WHERE username = ?", (username,))
    return row["hash"] if row else None


def create(
    conn: sqlite3.Connection, session_id: str, username: str, csrf: str, now: str, expires: str
) -> None:
    conn.execute(
        "INSERT INTO sessions (id_hash, username, csrf, created, expires) VALUES (?,?,?,?,?)",
        (hash_id(session_id), username, csrf, now, expires),
    )


async def get(db: Database, session_id: str, now: str) -> Session | None:
    """The session a cookie names, if it has not expired."""
    row = await db.fetchone(
        "SELECT username, csrf, created, expires FROM sessions WHERE id_hash = ? AND expires > ?",
        (hash_id(session_id), now),
    )
    if row is None:
        return None
    return Session(row["username"], row["csrf"], row["created"], row["expires"])


def delete(conn: sqlite3.Connection, session_id: str) -> bool:
    return (
        conn.execute("DELETE FROM sessions WHERE id_hash = ?", (hash_id(session_id),)).rowcount == 1
    )


def delete_for(conn: sqlite3.Connection, username: str) -> int:
    """End every session of a member (new password, leaving the network)."""
    return conn.execute("DELETE FROM sessions WHERE username = ?", (username,)).rowcount


def purge_expired(conn: sqlite3.Connection, now: str) -> int:
    return conn.execute("DELETE FROM sessions WHERE expires <= ?", (now,)).rowcount
