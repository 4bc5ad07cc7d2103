"""The inbox table's batch writes: group commit, duplicates, outcomes in one statement."""

from __future__ import annotations

import asyncio
from pathlib import Path

from node.storage import inbox as inbox_db
from node.storage.db import Database


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
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "k.db")
    await db.open()
    writer = inbox_db.InboxWriter(db)
    try:
        assert await writer.store(_item(0)) is True
        # 300 requests at once (more than one statement's rows), some ids twice, one old.
        items = [_item(n) for n in range(1, 301)] + [_item(5), _item(0), _item(300)]
        flags = await asyncio.gather(*(writer.store(item) for item in items))
        assert flags == [True] * 300 + [False, False, False]
        assert writer.batches == 2  # the first request, then the 303 that came together
        rows = await inbox_db.pending(db, limit=1000)
        assert [r.activity_id for r in rows] == [_item(n).activity_id for n in range(301)]
        assert rows[7].raw == b'{"n": 7}'
    finally:
        await db.close()


async def test_what_arrives_during_a_commit_goes_in_the_next(tmp_path: Path) -> None:
    db = Database(tmp_path / "k.db")
    await db.open()
    writer = inbox_db.InboxWriter(db)
    try:
        first = asyncio.ensure_future(writer.store(_item(1)))
        await asyncio.sleep(0)  # its batch is on its way to disk
        later = [asyncio.ensure_future(writer.store(_item(n))) for n in range(2, 12)]
        assert await first is True
        assert await asyncio.gather(*later) == [True] * 10
        assert writer.batches == 2
        assert db.commits == 2
    finally:
        await db.close()


async def test_outcomes_are_marked_in_one_write(tmp_path: Path) -> None:
    db = Database(tmp_path / "k.db")
    await db.open()
    writer = inbox_db.InboxWriter(db)
    try:
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
    finally:
        await db.close()
