"""Which tables changed, and snapshots of small tables that are reread only when they do.

Processing an incoming activity asks the same few questions every time (is the sender
followed? which networks are partners?). Each question is one read on a reader
thread, which costs the busy event loop far more than the query. A :class:`Snapshot`
keeps the answer in memory and reads it again when

* a write through :class:`~node.storage.db.Database` touched one of its tables
  (the write function calls :func:`touched` before its commit; the generation moves
  then and again once the transaction has ended, and while it is under way the
  snapshot reads through to the database, so a value read before the commit is never
  kept past it), or
* it is older than its ``ttl`` for the caller (writes made by another process, e.g.
  the CLI). A reload the caller waited for is always fresh enough for it, however long
  the read took.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from .db import Database

__all__ = ["Snapshot", "generation", "touched", "transaction_ended"]

T = TypeVar("T")

_generations: Counter[str] = Counter()
_open: Counter[str] = Counter()  # transactions under way that change the table
_touched: dict[int, set[str]] = {}


def touched(conn: sqlite3.Connection, *tables: str) -> None:
    """Record, from a write function (before its commit), that this transaction changes
    ``tables``. Until it ends, snapshots of them read through to the database: the
    commit may be visible to readers before :func:`transaction_ended` runs."""
    mine = _touched.setdefault(id(conn), set())
    for table in tables:
        if table not in mine:
            mine.add(table)
            _open[table] += 1
            _generations[table] += 1


def transaction_ended(conn: sqlite3.Connection) -> None:
    """Called by the writer once the transaction is committed (or rolled back)."""
    for table in _touched.pop(id(conn), ()):
        _generations[table] += 1
        _open[table] -= 1


def generation(tables: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(map(_generations.__getitem__, tables))  # Counter: 0 for a table never written


class _Entry(Generic[T]):
    __slots__ = ("generation", "loaded_at", "loading", "value")

    def __init__(self) -> None:
        self.value: T | None = None
        self.generation: tuple[int, ...] | None = None
        self.loaded_at = 0.0
        self.loading: asyncio.Future[None] | None = None


class Snapshot(Generic[T]):
    """``await snapshot.get(db, *key)``: ``load(db, *key)``, reused until its tables change."""

    def __init__(
        self,
        tables: tuple[str, ...],
        load: Callable[..., Awaitable[T]],
        *,
        ttl: float = 1.0,
    ) -> None:
        self.tables, self.load, self.ttl = tables, load, ttl
        self._entries: weakref.WeakKeyDictionary[Database, dict[Hashable, _Entry[T]]] = (
            weakref.WeakKeyDictionary()
        )
        # The database of the last call (held weakly) and its entries.
        self._last_db: weakref.ref[Database] | None = None
        self._last_entries: dict[Hashable, _Entry[T]] = {}

    async def get(self, db: Database, *key: Hashable) -> T:
        entered = time.monotonic()
        last = self._last_db
        if last is not None and last() is db:  # a node has one database: no weak-key lookup
            entries = self._last_entries
        else:
            found = self._entries.get(db)
            if found is None:
                found = self._entries[db] = {}
            entries = found
            self._last_db, self._last_entries = weakref.ref(db), entries
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = _Entry()
        while True:
            for table in self.tables:
                if _open[table]:
                    return await self.load(db, *key)  # a change is being committed: read it
            current = generation(self.tables)
            # Fresh enough for this caller: loaded at most ``ttl`` before it asked (a reload
            # it waited for always is, however long the read took).
            if entry.generation == current and entry.loaded_at >= entered - self.ttl:
                return entry.value  # type: ignore[return-value]
            # One reload at a time; the others wait for it (and check again after it).
            if entry.loading is None or entry.loading.done():
                entry.loading = asyncio.ensure_future(self._reload(db, key, entry, current))
            await asyncio.shield(entry.loading)

    async def _reload(
        self, db: Database, key: tuple[Hashable, ...], entry: _Entry[T], current: tuple[int, ...]
    ) -> None:
        started = time.monotonic()
        value = await self.load(db, *key)
        entry.value, entry.generation, entry.loaded_at = value, current, started
