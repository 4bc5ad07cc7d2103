"""The inbox table: verified raw activities, stored before the 202, processed after."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import msgspec

from .db import Database

log = logging.getLogger("kantine.inbox")

__all__ = [
    "InboxItem",
    "InboxRow",
    "InboxWriter",
    "count_by_state",
    "listing",
    "mark",
    "mark_many",
    "pending",
    "store",
    "store_many",
]


class InboxItem(msgspec.Struct, frozen=True):
    activity_id: str
    actor: str
    type: str
    signer: str
    host: str
    recipient: str | None
    received_at: str
    raw: bytes
    seq: int = 0


def id_hash(activity_id: str) -> int:
    """The inbox's duplicate key: 64 bits of BLAKE2b of the id, as SQLite's signed integer."""
    digest = hashlib.blake2b(activity_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def store(conn: sqlite3.Connection, item: InboxItem) -> bool:
    """Insert a verified activity; ``False`` if its id was already stored (accepted once)."""
    return _store(conn, item) != 0


def _store(conn: sqlite3.Connection, item: InboxItem) -> int:
    """``store``, returning the new row's seq (0: the id was already stored)."""
    key = id_hash(item.activity_id)
    if conn.execute(
        "SELECT 1 FROM inbox WHERE id_hash = ? AND activity_id = ?", (key, item.activity_id)
    ).fetchone():
        return 0
    cur = conn.execute(
        f"INSERT INTO inbox ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", _values(item, key)
    )
    return cur.lastrowid or 0


def _values(item: InboxItem, key: int) -> tuple[Any, ...]:
    """``item``'s values in ``_COLUMNS`` order."""
    return (
        item.activity_id,
        key,
        item.actor,
        item.type,
        item.signer,
        item.host,
        item.recipient,
        item.received_at,
        item.raw,
    )


_COLUMNS = "activity_id, id_hash, actor, type, signer, host, recipient, received_at, raw"
_ROWS_PER_STATEMENT = 256  # 9 parameters a row, well under SQLite's limit of 32,766


def store_many(conn: sqlite3.Connection, items: list[InboxItem]) -> list[int]:
    """``store`` for many activities in a few statements; each item's new seq, in order.

    An id already stored, or earlier in ``items``, is not stored again (seq 0). Rows
    are inserted in the order given, so they are processed in that order.
    """
    seqs: list[int] = []
    for start in range(0, len(items), _ROWS_PER_STATEMENT):
        chunk = items[start : start + _ROWS_PER_STATEMENT]
        keys = [id_hash(item.activity_id) for item in chunk]
        marks = ",".join("?" * len(keys))
        # Ids stored before with one of these hashes (a collision is told apart by the id).
        seen = {
            row[0]
            for row in conn.execute(
                f"SELECT activity_id FROM inbox WHERE id_hash IN ({marks})", keys
            )
        }
        rows: list[Any] = []
        first = len(seqs)
        for item, key in zip(chunk, keys, strict=True):
            new = item.activity_id not in seen
            seqs.append(-1 if new else 0)  # -1: numbered once the rows are in
            if new:
                seen.add(item.activity_id)
                rows += _values(item, key)
        if rows:
            count = len(rows) // 9
            values = ",".join(["(?,?,?,?,?,?,?,?,?)"] * count)
            cur = conn.execute(f"INSERT INTO inbox ({_COLUMNS}) VALUES {values}", rows)
            # One statement's rows take consecutive seqs (AUTOINCREMENT, under the write
            # lock): the last is lastrowid.
            if cur.rowcount != count or not cur.lastrowid:
                raise sqlite3.DatabaseError("inbox insert did not store every row")
            seq = cur.lastrowid - count
            for n in range(first, len(seqs)):
                if seqs[n] == -1:
                    seq += 1
                    seqs[n] = seq
    return seqs


#: ``(seq, state, processed_at, note)``: one processing outcome (``mark_many``).
Mark = tuple[int, str, str, str | None]
#: ``on_stored(entries)``: (item with its seq, decoded document or None), in seq order.
OnStored = Callable[[list[tuple[InboxItem, Any]]], None]


class InboxWriter:
    """Stores what the inbox accepts, many requests to a commit (group commit).

    One batch is being committed at a time; the rows that arrive meanwhile wait and
    go together in the next one. So under load a commit (one fsync, one wake-up of the
    event loop, a few statements whatever the number of rows: each costs the writer
    thread the GIL back from the busy loop) serves every request that came in while the
    one before it was on its way to disk, and an idle node still writes at once.
    ``store`` returns once the row is committed (``synchronous=FULL``).

    ``on_stored`` (the processor's ``offer``) is handed each committed batch's new rows,
    numbered, in seq order, with the document the caller decoded. ``mark`` records the
    processor's outcomes in the next batch's transaction (one commit for both).
    """

    def __init__(self, db: Database, on_stored: OnStored | None = None) -> None:
        self.db = db
        self.on_stored = on_stored
        self._pending: list[tuple[InboxItem, Any, asyncio.Future[bool]]] = []
        self._marks: list[tuple[list[Mark], asyncio.Future[None]]] = []
        self._in_flight: asyncio.Task[None] | None = None
        self._scheduled = False
        self.batches = 0

    async def store(self, item: InboxItem, document: Any = None) -> bool:
        """Commit ``item``; ``False`` if its id was stored before. ``document``: its decoded
        body, passed on to ``on_stored`` (``None``: decoded again when processed)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._pending.append((item, document, future))
        if self._in_flight is None and not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)  # the rest of this loop turn's requests join in
        return await future

    async def mark(self, rows: list[Mark]) -> None:
        """``mark_many(rows)``, committed with the next batch of rows (at once if none is
        on its way): processing's outcomes need no commit of their own under load."""
        if self._in_flight is None and not self._pending:
            await self.db.write(lambda conn: mark_many(conn, rows))
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._marks.append((rows, future))
        await future

    def _flush(self) -> None:
        self._scheduled = False
        if not (self._pending or self._marks) or self._in_flight is not None:
            return
        batch, self._pending = self._pending, []
        marks, self._marks = self._marks, []
        if batch:
            self.batches += 1
        self._in_flight = asyncio.ensure_future(self._write(batch, marks))
        self._in_flight.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._in_flight = None
        if not task.cancelled() and task.exception() is not None:
            log.error("inbox write failed", exc_info=task.exception())
        if self._pending or self._marks:
            self._flush()

    async def _write(
        self,
        batch: list[tuple[InboxItem, Any, asyncio.Future[bool]]],
        marks: list[tuple[list[Mark], asyncio.Future[None]]],
    ) -> None:
        if marks:  # submitted in the same step as the rows: the same transaction
            rows = [row for part, _ in marks for row in part]
            marked = self.db.submit(lambda conn: mark_many(conn, rows))
            marked.add_done_callback(functools.partial(_settle_marks, marks))
        if not batch:
            return
        items = [item for item, _, _ in batch]
        outcomes: list[int | BaseException]
        try:
            outcomes = list(await self.db.submit(lambda conn: store_many(conn, items)))
        except sqlite3.Error:
            # One row the database refuses must not fail the others: each on its own
            # (together, so that a busy database does not hold them one after another).
            outcomes = await asyncio.gather(
                *(self.db.write(functools.partial(_store, item=item)) for item in items),
                return_exceptions=True,
            )
        except BaseException as exc:
            for _, _, future in batch:
                _settle(future, exc)
            raise
        if self.on_stored is not None:
            stored = [
                (msgspec.structs.replace(item, seq=seq), document)
                for (item, document, _), seq in zip(batch, outcomes, strict=True)
                if isinstance(seq, int) and seq
            ]
            if stored:
                stored.sort(key=lambda entry: entry[0].seq)
                try:
                    self.on_stored(stored)
                except Exception:  # the rows are on disk: processing finds them there
                    log.exception("handing stored activities to processing failed")
        for (_, _, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, outcome if isinstance(outcome, BaseException) else outcome != 0)


def _settle_marks(
    marks: list[tuple[list[Mark], asyncio.Future[None]]], done: asyncio.Future[None]
) -> None:
    failed = None if done.cancelled() else done.exception()
    for _, future in marks:
        if future.done():
            continue
        if done.cancelled():
            future.cancel()
        elif failed is not None:
            future.set_exception(failed)
        else:
            future.set_result(None)


def _settle(future: asyncio.Future[bool], outcome: bool | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _item(row: Any) -> InboxItem:
    return InboxItem(
        seq=row["seq"],
        activity_id=row["activity_id"],
        actor=row["actor"],
        type=row["type"],
        signer=row["signer"],
        host=row["host"],
        recipient=row["recipient"],
        received_at=row["received_at"],
        raw=bytes(row["raw"]),
    )


async def pending(db: Database, limit: int = 100, after: int = 0) -> list[InboxItem]:
    rows = await db.fetchall(
        "SELECT * FROM inbox WHERE state = 'pending' AND seq > ? ORDER BY seq LIMIT ?",
        (after, limit),
    )
    return [_item(r) for r in rows]


def mark(conn: sqlite3.Connection, seq: int, state: str, now: str, note: str | None = None) -> None:
    conn.execute(
        "UPDATE inbox SET state = ?, processed_at = ?, note = ? WHERE seq = ?",
        (state, now, note, seq),
    )


def mark_many(conn: sqlite3.Connection, rows: list[Mark]) -> None:
    """``mark`` for many rows ``(seq, state, now, note)`` in one statement per 200 rows
    (each statement costs the writer thread the GIL back from a busy event loop)."""
    if sqlite3.sqlite_version_info < (3, 33):  # no UPDATE ... FROM before SQLite 3.33
        for seq, state, now, note in rows:
            mark(conn, seq, state, now, note)
        return
    for start in range(0, len(rows), 200):
        chunk = rows[start : start + 200]
        values = ",".join(["(?,?,?,?)"] * len(chunk))
        conn.execute(
            "UPDATE inbox SET state = v.column2, processed_at = v.column3, note = v.column4"
            f" FROM (VALUES {values}) AS v WHERE inbox.seq = v.column1",
            [value for row in chunk for value in row],
        )


class InboxRow(msgspec.Struct, frozen=True):
    """A stored activity as listed (``kantine inbox``): what it was and what became of it."""

    seq: int
    received_at: str
    type: str
    activity_id: str
    actor: str
    state: str
    processed_at: str | None
    note: str | None


async def listing(db: Database, *, state: str | None = None, limit: int = 50) -> list[InboxRow]:
    """The newest ``limit`` stored activities (of one ``state``), newest first."""
    where, params = ("WHERE state = ?", (state,)) if state else ("", ())
    rows = await db.fetchall(
        "SELECT seq, received_at, type, activity_id, actor, state, processed_at, note"
        f" FROM inbox {where} ORDER BY seq DESC LIMIT ?",
        (*params, limit),
    )
    return [InboxRow(**dict(r)) for r in rows]


async def count_by_state(db: Database) -> dict[str, int]:
    rows = await db.fetchall("SELECT state, count(*) AS n FROM inbox GROUP BY state")
    return {r["state"]: r["n"] for r in rows}
