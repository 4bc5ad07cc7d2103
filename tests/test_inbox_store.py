"""The inbox table's batch writes: group commit, duplicates, outcomes in one statement."""

from __future__ import annotations

import asyncio
import sqlite3
from importlib import resources
from pathlib import Path

import pytest

from node.storage import inbox as inbox_db
from node.storage.db import Database, _split_sql, connect_sync, migrate


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = Database(tmp_path / "k.db")
    await database.open()
    yield database
    await database.close()


def _item(n: int) -> inbox_db.InboxItem:
    return inbox_db.InboxItem(
        activity_id=f"https://a.example/activities/{n}",
        actor="https://a.example/users/a",
        type="Create",
        signer="https://a.example/users/a#main-key",
        host="a.example",
        recipient=None,
        received_at="2026-11-23T00:00:00.000000Z",
        raw=b'{"n": %d}' % n,
    )


async def test_requests_of_a_turn_share_a_commit_and_duplicates_are_stored_once(
    db: Database,
) -> None:
    writer = inbox_db.InboxWriter(db)
    assert await writer.store(_item(0)) is True
    # 300 requests at once (more than one statement's rows), some ids twice, one old.
    items = [_item(n) for n in range(1, 301)] + [_item(5), _item(0), _item(300)]
    flags = await asyncio.gather(*(writer.store(item) for item in items))
    assert flags == [True] * 300 + [False, False, False]
    assert writer.batches == 2  # the first request, then the 303 that came together
    rows = await inbox_db.pending(db, limit=1000)
    assert [r.activity_id for r in rows] == [_item(n).activity_id for n in range(301)]
    assert rows[7].raw == b'{"n": 7}'


async def test_what_arrives_during_a_commit_goes_in_the_next(db: Database) -> None:
    writer = inbox_db.InboxWriter(db)
    first = asyncio.ensure_future(writer.store(_item(1)))
    await asyncio.sleep(0)  # its batch is on its way to disk
    later = [asyncio.ensure_future(writer.store(_item(n))) for n in range(2, 12)]
    assert await first is True
    assert await asyncio.gather(*later) == [True] * 10
    assert writer.batches == 2
    assert db.commits == 2


async def test_outcomes_are_marked_in_one_write(db: Database) -> None:
    writer = inbox_db.InboxWriter(db)
    await asyncio.gather(*(writer.store(_item(n)) for n in range(450)))
    rows = await inbox_db.pending(db, limit=1000)
    marks = [(r.seq, "done" if r.seq % 2 else "discarded", "2026", f"n{r.seq}") for r in rows]
    await db.write(lambda c: inbox_db.mark_many(c, marks[:-1]))  # all but the last
    left = await inbox_db.pending(db, limit=1000)
    assert [r.seq for r in left] == [rows[-1].seq]
    row = await db.fetchone(
        "SELECT state, processed_at, note FROM inbox WHERE seq = ?", (rows[3].seq,)
    )
    assert tuple(row) == (marks[3][1], "2026", f"n{rows[3].seq}")


def test_a_hash_collision_never_merges_two_activities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = connect_sync(tmp_path / "k.db")
    migrate(conn)
    monkeypatch.setattr(inbox_db, "id_hash", lambda activity_id: 42)  # every id collides
    conn.execute("BEGIN IMMEDIATE")
    assert inbox_db.store_many(conn, [_item(1), _item(2), _item(1)])[2] == 0
    assert inbox_db.store(conn, _item(3)) is True
    assert inbox_db.store(conn, _item(2)) is False  # the same id: a duplicate
    assert inbox_db.store_many(conn, [_item(4), _item(3)])[1] == 0
    conn.execute("COMMIT")
    ids = [r[0] for r in conn.execute("SELECT activity_id FROM inbox ORDER BY seq")]
    assert ids == [_item(n).activity_id for n in (1, 2, 3, 4)]
    conn.close()


def test_migration_10_keeps_every_row_its_seq_and_the_counter(tmp_path: Path) -> None:
    """A database from before the hash key: rows, states and AUTOINCREMENT survive."""
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for sql in sorted(resources.files("node.storage.migrations").iterdir(), key=lambda f: f.name):
        if sql.name.endswith(".sql") and int(sql.name.split("_", 1)[0]) < 10:
            for statement in _split_sql(sql.read_text()):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?)", (int(sql.name[:4]),))
    for n in range(1, 6):
        conn.execute(
            "INSERT INTO inbox (activity_id, actor, type, signer, host, received_at, raw, state)"
            " VALUES (?, 'a', 'Create', 'k', 'a.example', 't', ?, ?)",
            (_item(n).activity_id, b"{}", "done" if n % 2 else "pending"),
        )
    conn.execute("DELETE FROM inbox WHERE seq = 5")  # the counter stays at 5
    conn.close()

    conn = connect_sync(tmp_path / "old.db")
    assert migrate(conn) >= 10
    rows = conn.execute(
        "SELECT seq, activity_id, id_hash, state FROM inbox ORDER BY seq"
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        (n, _item(n).activity_id, inbox_db.id_hash(_item(n).activity_id), s)
        for n, s in [(1, "done"), (2, "pending"), (3, "done"), (4, "pending")]
    ]
    conn.execute("BEGIN IMMEDIATE")
    assert inbox_db.store_many(conn, [_item(2), _item(6)]) == [0, 6]  # not 5 again
    conn.execute("COMMIT")
    indexes = {r[1] for r in conn.execute("PRAGMA index_list(inbox)")}
    assert {"inbox_pending", "inbox_id_hash"} <= indexes
    conn.close()


async def test_outcomes_share_the_next_batchs_commit(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = inbox_db.InboxWriter(db)
    await writer.store(_item(1))
    seq = (await inbox_db.pending(db))[0].seq
    # Idle: an outcome is written at once, in a commit of its own.
    commits = db.commits
    await writer.mark([(seq, "done", "2026", "first")])
    assert db.commits == commits + 1

    # Under load: the outcomes wait for the next batch and go in its transaction.
    first = asyncio.ensure_future(writer.store(_item(2)))
    await asyncio.sleep(0)  # its batch is on its way to disk
    commits = db.commits
    marked = asyncio.ensure_future(writer.mark([(seq, "discarded", "2027", "again")]))
    later = [asyncio.ensure_future(writer.store(_item(n))) for n in range(3, 8)]
    await asyncio.sleep(0)
    assert writer._marks and not marked.done()  # held for the batch after item 2's
    assert await first is True
    await marked
    assert await asyncio.gather(*later) == [True] * 5
    assert db.commits == commits + 2  # item 2's batch, then items 3-7 with the outcome
    row = await db.fetchone("SELECT state, processed_at, note FROM inbox WHERE seq = ?", (seq,))
    assert tuple(row) == ("discarded", "2027", "again")

    # An outcome the database refuses fails its caller, not the rows it travelled with.
    def refuse(conn: sqlite3.Connection, rows: list[inbox_db.Mark]) -> None:
        raise sqlite3.IntegrityError("refused")

    monkeypatch.setattr(inbox_db, "mark_many", refuse)
    first = asyncio.ensure_future(writer.store(_item(8)))
    await asyncio.sleep(0)
    marked = asyncio.ensure_future(writer.mark([(seq, "done", "2028", None)]))
    stored = asyncio.ensure_future(writer.store(_item(9)))
    assert await first is True and await stored is True
    with pytest.raises(sqlite3.IntegrityError):
        await marked
    ids = [r.activity_id for r in await inbox_db.pending(db, limit=100)]
    assert _item(9).activity_id in ids
