"""Per-host delivery health (circuit breaker state) and the domain block/allow lists."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..clock import from_iso, iso
from ..retry import HostState
from . import changes
from .db import Database

__all__ = [
    "allow",
    "allow_rows",
    "allowed_hosts",
    "block",
    "block_rows",
    "blocked_hosts",
    "disallow",
    "get_state",
    "is_allowed",
    "is_blocked",
    "policy_sets",
    "save_state",
    "unavailable_hosts",
]


def _dt(value: str | None):  # type: ignore[no-untyped-def]
    return from_iso(value) if value else None


def _state(row: Any) -> HostState:
    return HostState(
        consecutive_failures=row["consecutive_failures"],
        open_until=_dt(row["open_until"]),
        first_failure_at=_dt(row["first_failure_at"]),
        unavailable=bool(row["unavailable"]),
        last_probe_at=_dt(row["last_probe_at"]),
    )


async def get_state(db: Database, host: str) -> HostState:
    row = await db.fetchone("SELECT * FROM hosts WHERE host = ?", (host,))
    return _state(row) if row else HostState()


async def all_states(db: Database) -> dict[str, HostState]:
    return {r["host"]: _state(r) for r in await db.fetchall("SELECT * FROM hosts")}


def save_state(
    conn: sqlite3.Connection, host: str, state: HostState, success_at: str | None = None
) -> None:
    conn.execute(
        "INSERT INTO hosts (host, consecutive_failures, open_until, first_failure_at, unavailable,"
        " last_probe_at, last_success_at) VALUES (?,?,?,?,?,?,?)"
        " ON CONFLICT (host) DO UPDATE SET consecutive_failures = excluded.consecutive_failures,"
        " open_until = excluded.open_until, first_failure_at = excluded.first_failure_at,"
        " unavailable = excluded.unavailable, last_probe_at = excluded.last_probe_at,"
        " last_success_at = coalesce(excluded.last_success_at, hosts.last_success_at)",
        (
            host,
            state.consecutive_failures,
            iso(state.open_until) if state.open_until else None,
            iso(state.first_failure_at) if state.first_failure_at else None,
            int(state.unavailable),
            iso(state.last_probe_at) if state.last_probe_at else None,
            success_at,
        ),
    )


async def unavailable_hosts(db: Database) -> list[str]:
    return [r["host"] for r in await db.fetchall("SELECT host FROM hosts WHERE unavailable = 1")]


def block(conn: sqlite3.Connection, host: str, reason: str, now: str) -> None:
    _policy_changed()
    changes.touched(conn, "domain_blocks")
    conn.execute(
        "INSERT OR REPLACE INTO domain_blocks (host, reason, created_at) VALUES (?,?,?)",
        (host, reason, now),
    )


def unblock(conn: sqlite3.Connection, host: str) -> bool:
    _policy_changed()
    changes.touched(conn, "domain_blocks")
    return conn.execute("DELETE FROM domain_blocks WHERE host = ?", (host,)).rowcount == 1


def allow(conn: sqlite3.Connection, host: str, now: str) -> None:
    _policy_changed()
    conn.execute("INSERT OR IGNORE INTO domain_allows (host, created_at) VALUES (?,?)", (host, now))


def disallow(conn: sqlite3.Connection, host: str) -> bool:
    _policy_changed()
    return conn.execute("DELETE FROM domain_allows WHERE host = ?", (host,)).rowcount == 1


async def block_rows(db: Database) -> list[dict[str, str]]:
    """Every domain block with its reason and date, for the admins."""
    rows = await db.fetchall("SELECT * FROM domain_blocks ORDER BY created_at, host")
    return [dict(host=r["host"], reason=r["reason"], created_at=r["created_at"]) for r in rows]


async def allow_rows(db: Database) -> list[dict[str, str]]:
    rows = await db.fetchall("SELECT * FROM domain_allows ORDER BY created_at, host")
    return [dict(host=r["host"], created_at=r["created_at"]) for r in rows]


async def blocked_hosts(db: Database) -> set[str]:
    return {r["host"] for r in await db.fetchall("SELECT host FROM domain_blocks")}


async def allowed_hosts(db: Database) -> set[str]:
    return {r["host"] for r in await db.fetchall("SELECT host FROM domain_allows")}


async def is_blocked(db: Database, host: str) -> bool:
    return await db.fetchone("SELECT 1 FROM domain_blocks WHERE host = ?", (host,)) is not None


async def is_allowed(db: Database, host: str) -> bool:
    return await db.fetchone("SELECT 1 FROM domain_allows WHERE host = ?", (host,)) is not None


#: Bumped by every block/unblock/allow written by this process (the cache reloads at once).
policy_generation = 0


def _policy_changed() -> None:
    global policy_generation
    policy_generation += 1


async def policy_sets(db: Database) -> tuple[frozenset[str], frozenset[str]]:
    """``(blocked hosts, allowed hosts)``: both lists, read together."""
    blocked = frozenset(r["host"] for r in await db.fetchall("SELECT host FROM domain_blocks"))
    allowed = frozenset(r["host"] for r in await db.fetchall("SELECT host FROM domain_allows"))
    return blocked, allowed
