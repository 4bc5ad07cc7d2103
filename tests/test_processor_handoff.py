"""Processing takes freshly committed rows from memory, and the database stays the record.

The inbox writer hands each committed batch (rows numbered, documents decoded) to the
processor. These tests run a real ``Database`` file, the real ``InboxWriter`` and
``Processor``: every stored row is processed exactly once, in seq order, whether it came
through memory, was written behind the processor's back, or overflowed the memory queue.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from node import processor as processor_mod
from node.clock import system_clock
from node.metrics import Metrics
from node.processor import Outcome, Processor
from node.storage import inbox as inbox_db
from node.storage.db import Database
from test_inbox_store import _item  # the same rows


class World:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.seen: list[tuple[int, int]] = []  # (seq, n) in the order processed
        self.documents: dict[int, Any] = {}  # n -> the document object the handler got
        self.processor = Processor(
            db=db,
            clock=system_clock,
            metrics=Metrics(),
            handlers={"Create": [self.handle]},
            poll_interval=0.2,
        )
        self.writer = inbox_db.InboxWriter(db, on_stored=self.processor.offer)

    async def handle(self, item: inbox_db.InboxItem, document: dict[str, Any]) -> Outcome:
        self.seen.append((item.seq, document["n"]))
        self.documents[document["n"]] = document
        return Outcome.done()

    async def settled(self, count: int) -> None:
        for _ in range(500):
            if len(self.seen) >= count and not await inbox_db.pending(self.db, limit=1):
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"processed {len(self.seen)} of {count}")


@pytest.fixture
async def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = Database(tmp_path / "k.db")
    await db.open()
    w = World(db)
    await w.processor.start()
    try:
        yield w
    finally:
        await w.processor.stop()
        await db.close()


async def test_committed_rows_are_processed_from_memory_once_in_order(world: World) -> None:
    await world.writer.store(_item(0), {"n": 0})  # the first round reads the database
    await world.settled(1)
    docs = [{"n": n} for n in range(1, 41)]
    stored = await asyncio.gather(
        *(world.writer.store(_item(n), docs[n - 1]) for n in range(1, 41))
    )
    assert all(stored)
    await world.settled(41)
    assert [n for _, n in world.seen] == list(range(41))
    seqs = [seq for seq, _ in world.seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == 41
    # The handler got the very objects the inbox decoded: they came through memory.
    assert all(world.documents[n] is docs[n - 1] for n in range(1, 41))
    rows = await world.db.fetchall("SELECT state FROM inbox")
    assert [r["state"] for r in rows] == ["done"] * 41
    # A duplicate is not stored, so not offered or processed again.
    assert await world.writer.store(_item(7), {"n": 7}) is False
    await asyncio.sleep(0.05)
    assert len(world.seen) == 41


async def test_a_row_written_behind_its_back_is_found_in_the_database(world: World) -> None:
    await world.writer.store(_item(0), {"n": 0})
    await world.settled(1)
    # Written by another path (not offered): found at the next idle look (poll_interval)...
    await world.db.write(lambda c: inbox_db.store(c, _item(1)))
    await world.settled(2)
    # ... or at once on wake(), and rows offered afterwards still come in order.
    await world.db.write(lambda c: inbox_db.store(c, _item(2)))
    world.processor.wake()
    await world.writer.store(_item(3), {"n": 3})
    await world.settled(4)
    assert [n for _, n in world.seen] == [0, 1, 2, 3]
    # An offer that arrives after its row was read from the database (the commit and the
    # hand-over are two steps) is not processed a second time.
    seq_of_2 = world.seen[2][0]
    world.processor.offer([(msgspec.structs.replace(_item(2), seq=seq_of_2), {"n": 2})])
    await world.writer.store(_item(4), {"n": 4})
    await world.settled(5)
    await asyncio.sleep(0.05)
    assert [n for _, n in world.seen] == [0, 1, 2, 3, 4]


async def test_an_overflowing_memory_queue_falls_back_to_the_database(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(processor_mod, "READY_MAX", 5)
    await world.writer.store(_item(0), {"n": 0})
    await world.settled(1)
    gate = asyncio.Event()
    handle = world.handle

    async def slow(item: inbox_db.InboxItem, document: dict[str, Any]) -> Outcome:
        await gate.wait()  # hold the processor while a backlog builds up
        return await handle(item, document)

    world.processor.handlers["Create"] = [slow]
    first = asyncio.ensure_future(world.writer.store(_item(1), {"n": 1}))
    await first
    await asyncio.sleep(0.05)  # item 1 is being processed, held at the gate
    for start in range(2, 40, 6):  # batches of 6: each more than the queue holds
        await asyncio.gather(
            *(world.writer.store(_item(n), {"n": n}) for n in range(start, min(start + 6, 40)))
        )
    gate.set()
    await world.settled(40)
    assert [n for _, n in world.seen] == list(range(40))  # each once, in order
    assert world.processor._dropped > 0
    # The overflow came during a round served from memory: no round failed over it.
    assert not [r for r in caplog.records if "processing round failed" in r.getMessage()]


async def test_a_byte_budget_bounds_what_waits_in_memory(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processor_mod, "READY_BYTES", 30)  # about three bodies
    await world.writer.store(_item(0), {"n": 0})
    await world.settled(1)
    await asyncio.gather(*(world.writer.store(_item(n), {"n": n}) for n in range(1, 30)))
    await world.settled(30)
    assert [n for _, n in world.seen] == list(range(30))
    assert world.processor._dropped > 0 and world.processor._ready_bytes >= 0


async def test_unoffered_rows_are_found_under_steady_traffic_too(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processor_mod, "RESYNC_INTERVAL", 0.2)
    world.processor.poll_interval = 100.0  # the idle poll never comes
    await world.writer.store(_item(0), {"n": 0})
    await world.settled(1)
    await world.db.write(lambda c: inbox_db.store(c, _item(1)))  # not offered, no wake()
    for n in range(2, 40):  # an offer every 20 ms: the processor is never idle for long
        await world.writer.store(_item(n), {"n": n})
        await asyncio.sleep(0.02)
        if 1 in [m for _, m in world.seen]:
            break
    assert 1 in [m for _, m in world.seen]


async def test_a_wake_during_a_database_read_is_not_lost(world: World) -> None:
    # The fixture's processor is stopped while it waits, not in the middle of a read.
    await asyncio.sleep(0.05)
    await world.processor.stop()
    # A processor of its own, never started: its rounds are driven by hand.
    proc = Processor(
        db=world.db, clock=system_clock, metrics=Metrics(), handlers={"Create": [world.handle]}
    )
    await world.db.write(lambda c: inbox_db.store(c, _item(0)))
    assert await proc.run_once() == 1  # read from the database: now in sync
    assert proc._synced
    proc.wake()
    pending = inbox_db.pending

    async def pending_then_wake(db: Database, limit: int = 100, after: int = 0) -> Any:
        rows = await pending(db, limit=limit, after=after)
        # While this read is on its way, a row is written behind its back, and wake() called.
        await db.write(lambda c: inbox_db.store(c, _item(1)))
        proc.wake()
        return rows

    inbox_db.pending = pending_then_wake  # type: ignore[assignment]
    try:
        assert await proc.run_once() == 0
    finally:
        inbox_db.pending = pending  # type: ignore[assignment]
    assert not proc._synced  # the wake is not forgotten: the next round reads
    assert await proc.run_once() == 1
    assert [n for _, n in world.seen] == [0, 1]


async def test_a_failed_round_leaves_the_rest_pending_for_the_next(world: World) -> None:
    await world.writer.store(_item(0), {"n": 0})
    await world.settled(1)
    handle, failed = world.handle, []

    async def flaky(item: inbox_db.InboxItem, document: dict[str, Any]) -> Outcome:
        if document["n"] == 3 and not failed:
            failed.append(item.seq)
            raise OSError("disk full")  # the machine, not the activity: the round stops
        return await handle(item, document)

    world.processor.handlers["Create"] = [flaky]
    await asyncio.gather(*(world.writer.store(_item(n), {"n": n}) for n in range(1, 6)))
    await world.settled(6)
    assert failed
    assert [n for _, n in world.seen] == [0, 1, 2, 3, 4, 5]


async def test_a_gate_ends_processing_before_the_handlers(world: World) -> None:
    """A gate's outcome is the row's, and no handler runs; None lets the handlers run; a
    gate that finds the activity malformed discards it, as a handler would."""
    from protocol.errors import RemoteProtocolError

    async def gate(item: inbox_db.InboxItem, document: dict[str, Any]) -> Outcome | None:
        if document["n"] == 1:
            return Outcome.ignore("concerns no one here")
        if document["n"] == 2:
            raise RemoteProtocolError("not what it says")
        return None

    world.processor.gates = {"Create": [gate]}
    for n in range(3):
        await world.writer.store(_item(n), {"n": n})
    await world.settled(1)  # one row reaches the handler; then nothing is left pending
    rows = await world.db.fetchall("SELECT seq, state, note FROM inbox ORDER BY seq")
    assert [(r["state"], r["note"]) for r in rows] == [
        ("done", None),
        ("discarded", "concerns no one here"),
        ("discarded", "not what it says"),
    ]
    assert [n for _, n in world.seen] == [0]  # the handler saw only the one let through


async def test_an_actor_blocked_after_the_store_is_discarded_unless_a_gate_ended_it(
    world: World,
) -> None:
    """``admit`` (the block list, read again when processing) refuses what reaches the
    handlers; an activity a gate ended is not looked up (nothing acts on it anyway)."""
    asked: list[int] = []

    async def admit(item: inbox_db.InboxItem) -> str | None:
        asked.append(item.seq)
        return "actor https://a.example/users/a is blocked"

    async def gate(item: inbox_db.InboxItem, document: dict[str, Any]) -> Outcome | None:
        return Outcome.ignore("concerns no one here") if document["n"] == 0 else None

    world.processor.admit = admit
    world.processor.gates = {"Create": [gate]}
    for n in range(2):
        await world.writer.store(_item(n), {"n": n})
    await world.settled(0)  # no row reaches a handler: nothing left pending is enough
    rows = await world.db.fetchall("SELECT seq, state, note FROM inbox ORDER BY seq")
    assert [(r["state"], r["note"]) for r in rows] == [
        ("discarded", "concerns no one here"),
        ("discarded", "actor https://a.example/users/a is blocked"),
    ]
    assert asked == [rows[1]["seq"]]
    assert world.seen == []  # no handler ran
