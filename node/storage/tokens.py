"""API bearer tokens: only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3

from .db import Database

__all__ = ["create", "hash_token", "lookup", "revoke_all"]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(conn: sqlite3.Connection, username: str, now: str, label: str = "") -> str:
    """Create a token for a local actor; the clear token is returned once and never stored."""
    token = "kt_" + secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO api_tokens (token_hash, username, label, created_at) VALUES (?,?,?,?)",
        (hash_token(token), username, label, now),
    )
    return token


async def lookup(db: Database, token: str) -> str | None:
    row = await db.fetchone(
        "SELECT username FROM api_tokens WHERE token_hash = ?", (hash_token(token),)
    )
    return row["username"] if row else None


def revoke_all(conn: sqlite3.Connection, username: str) -> int:
    return conn.execute("DELETE FROM api_tokens WHERE username = ?", (username,)).rowcount
