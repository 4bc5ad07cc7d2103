"""Snapshots of small tables: reread when a write touches them, never stale past a commit."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from node.storage import changes
from node.storage import follows as follows_db
from node.storage.db import Database


async def test_a_slow_read_still_answers(tmp_path: Path) -> None:
    """A reload slower than the time limit is fresh for those who waited for it."""
    db = Database(tmp_path / "k.db")
    await db.open()
    loads = 0

    async def slow(db: Database) -> int:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.3)
        return loads

    snap = changes.Snapshot(("t_slow",), slow, ttl=0.1)
    try:
        assert await asyncio.wait_for(snap.get(db), 2) == 1
        assert loads == 1
    finally:
        await db.close()


_NETWORK = (
    "INSERT INTO local_actors (username, kind, path, name, rsa_pem, ed25519_pem, created_at,"
    " updated_at) VALUES ('net', 'network', '/network', 'Net', '', '', '2026', '2026')"
)


async def test_a_committed_follow_is_seen_at_once(tmp_path: Path) -> None:
    db = Database(tmp_path / "k.db")
    await db.open()
    await db.write(lambda c: c.execute(_NETWORK))
    try:
        remote = "https://b.example/users/x"
        assert await follows_db.followed_by_anyone(db, remote) is False  # now cached
        await db.write(
            lambda c: follows_db.upsert(c, "net", remote, "out", "accepted", "a1", "2026")
        )
        assert await follows_db.followed_by_anyone(db, remote) is True
        await db.write(lambda c: follows_db.delete(c, "net", remote, "out"))
        assert await follows_db.followed_by_anyone(db, remote) is False
    finally:
        await db.close()


async def test_reads_go_through_while_a_change_is_being_committed(tmp_path: Path) -> None:
    """Between a write's commit and the end of its transaction's bookkeeping, a snapshot
    must not answer from a value read before the commit."""
    db = Database(tmp_path / "k.db")
    await db.open()
    reads = 0

    async def count(db: Database) -> int:
        nonlocal reads
        reads += 1
        row = await db.fetchone("SELECT count(*) FROM follows")
        return int(row[0])

    snap = changes.Snapshot(("follows",), count, ttl=60)
    conn = sqlite3.connect(tmp_path / "k.db")
    try:
        assert await snap.get(db) == 0
        assert await snap.get(db) == 0 and reads == 1  # cached
        # What the writer thread does, stopped between the commit and transaction_ended:
        changes.touched(conn, "follows")
        follows_db.upsert(conn, "net", "https://b.example/u", "out", "accepted", "a", "2026")
        conn.commit()
        assert await snap.get(db) == 1  # read through, not the cached 0
        changes.transaction_ended(conn)
        assert await snap.get(db) == 1
        assert reads == 3
        assert await snap.get(db) == 1 and reads == 3  # cached again
    finally:
        conn.close()
        await db.close()


async def test_one_snapshot_keeps_each_database_apart(tmp_path: Path) -> None:
    """A snapshot used with two databases in turn answers each from its own entries."""
    first, second = Database(tmp_path / "a.db"), Database(tmp_path / "b.db")
    await first.open()
    await second.open()

    async def load(db: Database) -> str:
        return str(db.path)

    snap = changes.Snapshot(("t_two",), load, ttl=60)
    try:
        for _ in range(3):
            assert await snap.get(first) == str(first.path)
            assert await snap.get(second) == str(second.path)
            assert await snap.get(second) == str(second.path)
    finally:
        await first.close()
        await second.close()
