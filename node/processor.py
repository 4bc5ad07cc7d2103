"""Processing of stored inbox activities, after the 202, in arrival order: rows just
committed are handed over in memory, and the database (the record) is read whenever a
pending row may be there that was not."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from protocol.errors import ProtocolError

from .clock import Clock, now_iso
from .metrics import Metrics
from .policy import fetch_budget
from .storage import inbox as inbox_db
from .storage.db import Database

__all__ = ["Handler", "Handlers", "Outcome", "Processor"]

log = logging.getLogger("kantine.processor")


class Outcome(msgspec.Struct, frozen=True):
    """What processing did: ``done`` (acted on) or ``discarded`` (no effect), and why."""

    state: str
    note: str | None = None
    #: A discard with nothing wrong in it (not for us, not a kind we keep): logged at DEBUG.
    routine: bool = False

    @classmethod
    def done(cls, note: str | None = None) -> Outcome:
        return cls("done", note)

    @classmethod
    def discard(cls, note: str) -> Outcome:
        """Discarded for a reason worth a log line (malformed, disproved, not allowed)."""
        return cls("discarded", note)

    @classmethod
    def ignore(cls, note: str) -> Outcome:
        """Discarded because there is nothing to act on (``routine``)."""
        return cls("discarded", note, routine=True)


#: ``await handler(item, document)``: ``document`` is the item's decoded JSON, decoded once
#: and shared by every handler of the chain, so a handler reads it and never changes it.
Handler = Callable[[inbox_db.InboxItem, dict[str, Any]], Awaitable[Outcome]]
#: activity type -> handlers tried in order; the first that does not discard wins.
Handlers = dict[str, list[Handler]]
#: ``await gate(item, document)``: an outcome that ends processing before any handler of
#: the type runs (an activity that concerns none of them), or None to go on.
Gate = Callable[[inbox_db.InboxItem, dict[str, Any]], Awaitable["Outcome | None"]]


#: Items processed between two turns of the event loop given to everything else: a round
#: of items whose handlers need no I/O would otherwise hold the loop from its first item
#: to its last (100 items, ~20 ms), while one item per turn falls behind a busy inbox.
YIELD_EVERY = 10
#: Rows (and bytes of their bodies) waiting in memory for processing; beyond either the
#: rounds read the database.
READY_MAX = 2000
READY_BYTES = 32 * 1024 * 1024
#: Seconds at most between two reads of the database, however steady the hand-over.
RESYNC_INTERVAL = 10.0


class Processor:
    """Runs each pending inbox row through the handler for its type, once."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        metrics: Metrics,
        handlers: Handlers,
        poll_interval: float = 2.0,
    ) -> None:
        self.db, self.clock, self.metrics = db, clock, metrics
        self.handlers = handlers
        self.poll_interval = poll_interval
        #: Remote fetches one activity's handlers may cause together (``None``: unbounded).
        self.max_fetches: int | None = None
        #: ``await admit(item)``: a reason to discard the item unprocessed (policy), or None.
        self.admit: Callable[[inbox_db.InboxItem], Awaitable[str | None]] | None = None
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        # Rows the inbox just committed, handed over in memory (``offer``) with their
        # decoded documents, so that a round need not read them back and decode them again.
        # The database stays the record: while ``_synced`` is False, rounds read it.
        self._ready: deque[tuple[inbox_db.InboxItem, Any]] = deque()
        #: Every pending row with a seq above ``_last_seq`` is in ``_ready``.
        self._synced = False
        self._last_seq = 0  # the highest seq processed
        self._ready_bytes = 0  # the raw bodies held in ``_ready``
        # Changes since a database read began that may leave rows only in the database:
        # offers dropped (a backlog), wake() calls.
        self._dropped = 0
        self._wakes = 0
        self._read_at = 0.0  # monotonic time of the last database read
        #: activity type -> gates run before its handlers (``Gate``).
        self.gates: dict[str, list[Gate]] = {}
        #: ``await record(rows)``: writes a round's outcomes (``mark_many`` rows); the inbox
        #: writer's ``mark`` shares its commits, else a write of their own.
        self.record: Callable[[list[inbox_db.Mark]], Awaitable[None]] | None = None

    async def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name="kantine-processor")

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    def wake(self) -> None:
        """Look in the database: rows may be pending that were not offered."""
        self._synced = False
        self._wakes += 1
        self._idle.clear()
        self._wake.set()

    def offer(self, entries: list[tuple[inbox_db.InboxItem, Any]]) -> None:
        """Rows just committed, in seq order, each with its decoded document (or None)."""
        size = sum(len(item.raw) for item, _ in entries)
        if len(self._ready) + len(entries) > READY_MAX or self._ready_bytes + size > READY_BYTES:
            # A backlog: the rounds read the database until they have caught up.
            self._ready.clear()
            self._ready_bytes = 0
            self._dropped += 1
            self._synced = False
        else:
            self._ready.extend(entries)
            self._ready_bytes += size
        self._idle.clear()
        self._wake.set()

    async def idle(self) -> None:
        """Wait until nothing is pending (tests)."""
        while True:
            if not await inbox_db.pending(self.db, limit=1):
                return
            self.wake()
            await asyncio.sleep(0.02)

    async def _run(self) -> None:
        while True:
            try:
                handled = await self.run_once()
            except Exception:  # the loop must survive anything one round throws
                log.exception("processing round failed")
                handled = 0
            if handled == 0:
                if self._synced and self._ready:
                    continue  # offered while the database was being read: go on with them
                self._idle.set()
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                except TimeoutError:
                    self._synced = False  # idle: look in the database now and then

    async def run_once(self, limit: int = 100) -> int:
        """Process up to ``limit`` pending rows in seq order: those offered in memory while
        nothing else is pending, else the database's."""
        if self._synced and time.monotonic() - self._read_at > RESYNC_INTERVAL:
            self._synced = False  # under steady traffic too, a look at the record now and then
        from_db = not self._synced
        dropped, wakes = self._dropped, self._wakes
        batch: list[tuple[inbox_db.InboxItem, Any]] = []
        if not from_db:
            while self._ready and len(batch) < limit:
                entry = self._ready.popleft()
                self._ready_bytes -= len(entry[0].raw)
                if entry[0].seq > self._last_seq:
                    batch.append(entry)
            if not batch:
                return 0
        else:
            self._read_at = time.monotonic()
            items = await inbox_db.pending(self.db, limit=limit)
            batch = [(item, None) for item in items]
        try:
            await self._round(batch)
        except BaseException:
            self._synced = False  # what is left is pending in the database
            self._ready.clear()
            self._ready_bytes = 0
            raise
        if from_db:
            # The read saw every row pending when it began; the ones committed since were
            # offered after it began, so they are in ``_ready`` unless some were dropped
            # (or someone asked for another look).
            while self._ready and self._ready[0][0].seq <= self._last_seq:
                self._ready_bytes -= len(self._ready.popleft()[0].raw)
            self._synced = len(batch) < limit and self._dropped == dropped and self._wakes == wakes
        return len(batch)

    async def _round(self, batch: list[tuple[inbox_db.InboxItem, Any]]) -> None:
        # The outcomes are marked in one write at the end of the round (a handler's own
        # writes are committed before the next item is processed): one commit per round,
        # not per item. A crash before that write processes the round again (at least once).
        marks: list[tuple[int, Outcome]] = []
        try:
            for n, (item, document) in enumerate(batch, 1):
                outcome = await self.process(item, document)
                marks.append((item.seq, outcome))
                self._last_seq = max(self._last_seq, item.seq)
                self.metrics.inc(
                    "kantine_inbox_processed_total", type=_label(item.type), outcome=outcome.state
                )
                if n % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        finally:
            if marks:  # stamped when the round's outcomes are recorded
                stamp = now_iso(self.clock)
                rows = [(seq, o.state, stamp, o.note) for seq, o in marks]
                if self.record is not None:
                    await self.record(rows)
                else:
                    await self.db.write(lambda c: inbox_db.mark_many(c, rows))

    async def process(self, item: inbox_db.InboxItem, document: Any = None) -> Outcome:
        """Run ``item`` through its gates, then (if admitted) its handlers; ``document``: its
        body decoded, if at hand."""
        if self.max_fetches is None:
            return await self._process(item, document)
        with fetch_budget(self.max_fetches):  # shared by every handler of the chain
            return await self._process(item, document)

    async def _process(self, item: inbox_db.InboxItem, document: Any) -> Outcome:
        chain = self.handlers.get(item.type)
        if not chain:
            log.debug(
                "discarded %s %s: the node does not act on this type", item.type, item.activity_id
            )
            return Outcome.ignore(f"type {item.type} is not acted on")
        try:
            if document is None:
                document = msgspec.json.decode(item.raw)
        except msgspec.DecodeError as exc:
            malformed = Outcome.discard(f"malformed: {exc}")
            log.info(
                "discarded %s %s from %s: %s",
                item.type,
                item.activity_id,
                item.actor,
                malformed.note,
            )
            return malformed
        stopped = None
        for gate in self.gates.get(item.type, ()):
            stopped = await self._guarded(gate, item, document)
            if stopped is not None:
                break  # the activity concerns none of the type's handlers
        if stopped is not None:
            outcome = stopped
        else:
            # Blocked after it was stored, before it was processed? (An activity a gate
            # ended needs no such look: nothing acts on it either way.)
            refused = await self.admit(item) if self.admit is not None else None
            if refused is not None:
                log.info(
                    "discarded %s %s from %s: %s", item.type, item.activity_id, item.actor, refused
                )
                return Outcome.discard(refused)
            outcome = await self._chain(chain, item, document)
        if outcome.state != "done":
            # Refusals are logged; nothing to act on only at DEBUG (a busy inbox discards
            # most of what it hears). Either way the reason stays on the row (`kantine inbox`).
            log.log(
                logging.DEBUG if outcome.routine else logging.INFO,
                "discarded %s %s from %s: %s",
                item.type,
                item.activity_id,
                item.actor,
                outcome.note,
            )
        return outcome

    async def _chain(
        self, chain: list[Handler], item: inbox_db.InboxItem, document: dict[str, Any]
    ) -> Outcome:
        """The first handler's outcome that is ``done``, else one discard naming them all."""
        notes: list[str] = []
        routine = True  # every handler found nothing to do (none found anything wrong)
        for handler in chain:
            outcome = await self._guarded(handler, item, document)
            assert outcome is not None  # a handler always answers
            if outcome.state == "done":
                return outcome
            notes.append(outcome.note or "")
            routine = routine and outcome.routine
        note = "; ".join(n for n in notes if n)[:500] or "no handler acted"
        return Outcome.ignore(note) if routine else Outcome.discard(note)

    @staticmethod
    async def _guarded(
        step: Handler | Gate, item: inbox_db.InboxItem, document: dict[str, Any]
    ) -> Outcome | None:
        """``step(item, document)``; what the activity is to blame for becomes a discard."""
        try:
            return await step(item, document)
        except ProtocolError as exc:
            return Outcome.discard(exc.reason)
        except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
            return Outcome.discard(f"malformed: {exc}")
        except (sqlite3.Error, OSError):
            raise  # the store or the machine failed, not the activity: the round is retried
        except Exception as exc:  # e.g. RecursionError: never let one activity block the queue
            log.exception("handler failed on %s %s", item.type, item.activity_id)
            return Outcome.discard(f"handler failed: {type(exc).__name__}: {exc}"[:300])


def _label(kind: str) -> str:
    return kind if kind.isalnum() and len(kind) <= 24 else "other"
