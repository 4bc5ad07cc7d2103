"""Processing of stored inbox activities, after the 202, from the database, in arrival order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from protocol.errors import ProtocolError

from .clock import Clock, iso
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

_NO_HANDLER_ACTED = Outcome.discard("no handler acted")

#: Items processed between two turns of the event loop given to everything else: a round
#: of items whose handlers need no I/O would otherwise hold the loop from its first item
#: to its last (100 items, ~20 ms), while one item per turn falls behind a busy inbox.
YIELD_EVERY = 10


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

    async def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name="kantine-processor")

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    def wake(self) -> None:
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
                self._idle.set()
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def run_once(self, limit: int = 100) -> int:
        items = await inbox_db.pending(self.db, limit=limit)
        # The outcomes are marked in one write at the end of the round (a handler's own
        # writes are committed before the next item is processed): one commit per round,
        # not per item. A crash before that write processes the round again (at least once).
        marks: list[tuple[int, Outcome]] = []
        try:
            for n, item in enumerate(items, 1):
                outcome = await self.process(item)
                marks.append((item.seq, outcome))
                self.metrics.inc(
                    "kantine_inbox_processed_total", type=_label(item.type), outcome=outcome.state
                )
                if n % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        finally:
            if marks:  # stamped when the round's outcomes are recorded
                stamp = iso(self.clock())
                rows = [(seq, o.state, stamp, o.note) for seq, o in marks]
                await self.db.write(lambda c: inbox_db.mark_many(c, rows))
        return len(items)

    async def process(self, item: inbox_db.InboxItem) -> Outcome:
        refused = await self.admit(item) if self.admit is not None else None
        if refused is not None:  # blocked after it was stored, before it was processed
            log.info(
                "discarded %s %s from %s: %s", item.type, item.activity_id, item.actor, refused
            )
            return Outcome.discard(refused)
        if self.max_fetches is None:
            return await self._process(item)
        with fetch_budget(self.max_fetches):  # shared by every handler of the chain
            return await self._process(item)

    async def _process(self, item: inbox_db.InboxItem) -> Outcome:
        chain = self.handlers.get(item.type)
        if not chain:
            log.debug(
                "discarded %s %s: the node does not act on this type", item.type, item.activity_id
            )
            return Outcome.ignore(f"type {item.type} is not acted on")
        notes: list[str] = []
        outcome = _NO_HANDLER_ACTED
        routine = True  # every handler found nothing to do (none found anything wrong)
        try:
            document = msgspec.json.decode(item.raw)
        except msgspec.DecodeError as exc:
            outcome = Outcome.discard(f"malformed: {exc}")
            log.info(
                "discarded %s %s from %s: %s", item.type, item.activity_id, item.actor, outcome.note
            )
            return outcome
        for handler in chain:
            try:
                outcome = await handler(item, document)
            except ProtocolError as exc:
                outcome = Outcome.discard(exc.reason)
            except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
                outcome = Outcome.discard(f"malformed: {exc}")
            except (sqlite3.Error, OSError):
                raise  # the store or the machine failed, not the activity: the round is retried
            except Exception as exc:  # e.g. RecursionError: never let one activity block the queue
                log.exception("handler failed on %s %s", item.type, item.activity_id)
                outcome = Outcome.discard(f"handler failed: {type(exc).__name__}: {exc}"[:300])
            if outcome.state == "done":
                break
            notes.append(outcome.note or "")
            routine = routine and outcome.routine
        else:
            note = "; ".join(n for n in notes if n)[:500] or "no handler acted"
            outcome = Outcome.ignore(note) if routine else Outcome.discard(note)
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


def _label(kind: str) -> str:
    return kind if kind.isalnum() and len(kind) <= 24 else "other"
