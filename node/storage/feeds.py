"""Members' private calendar tokens: one per member, kept only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import sqlite3

from .db import Database

__all__ = ["created_at", "hash_token", "member_for", "replace", "revoke"]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def replace(conn: sqlite3.Connection, username: str, token: str, now: str) -> None:
    """Give ``username`` a new calendar token; the old one (if any) stops working."""
    conn.execute(
        "INSERT INTO calendar_tokens (username, token_hash, created) VALUES (?,?,?)"
        " ON CONFLICT (username) DO UPDATE SET token_hash = excluded.token_hash,"
        " created = excluded.created",
        (username, hash_token(token), now),
    )


def revoke(conn: sqlite3.Connection, username: str) -> bool:
    return conn.execute("DELETE FROM calendar_tokens WHERE username = ?", (username,)).rowcount == 1


async def member_for(db: Database, token: str) -> str | None:
    """The username a calendar token belongs to, or None."""
    row = await db.fetchone(
        "SELECT username FROM calendar_tokens WHERE token_hash = ?", (hash_token(token),)
    )
    return row["username"] if row else None


async def created_at(db: Database, username: str) -> str | None:
    """When ``username``'s current token was made (None: the member has none)."""
    row = await db.fetchone("SELECT created FROM calendar_tokens WHERE username = ?", (username,))
    return row["created"] if row else None
