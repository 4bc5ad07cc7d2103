"""The database: one writer thread with group commit, aiosqlite readers, migrations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from . import changes

__all__ = ["Database", "WriteFn", "connect_sync", "migrate"]

log = logging.getLogger(__name__)
T = TypeVar("T")
WriteFn = Callable[[sqlite3.Connection], T]

BUSY_TIMEOUT_MS = 10_000
_MAX_BATCH = 512
_COMMIT_DELAY = 0.001  # seconds a write waits for company under load (commit_delay)


def _pragmas(conn: sqlite3.Connection, *, synchronous: str = "FULL") -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")


def connect_sync(path: Path | str) -> sqlite3.Connection:
    """Open a writer-capable connection (for the CLI and the writer thread)."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    _pragmas(conn)
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration in ``migrations/NNNN_*.sql`` not yet applied (by number); return the highest."""
    from .inbox import id_hash  # the inbox's key (migration 10 fills it in)

    conn.create_function("kantine_id_hash", 1, id_hash, deterministic=True)
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
    files = sorted(
        (
            f
            for f in resources.files("node.storage.migrations").iterdir()
            if f.name.endswith(".sql")
        ),
        key=lambda f: f.name,
    )
    for f in files:
        version = int(f.name.split("_", 1)[0])
        if version in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split_sql(f.read_text()):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            conn.execute("COMMIT")
        except sqlite3.Error:
            conn.execute("ROLLBACK")
            raise
        applied.add(version)
        log.info("applied migration %s", f.name)
    current = max(applied, default=0)
    return current


def _split_sql(script: str) -> list[str]:
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


class _Job:
    __slots__ = ("fn", "future", "loop")

    def __init__(
        self, fn: WriteFn[Any], future: asyncio.Future[Any], loop: asyncio.AbstractEventLoop
    ):
        self.fn, self.future, self.loop = fn, future, loop


class Database:
    """One writer thread (group commit, ``synchronous=FULL``) and a pool of aiosqlite readers.

    ``await db.write(fn)`` runs ``fn(conn)`` on the writer thread inside a transaction
    shared with whatever other writes are waiting, and returns once that transaction is
    committed to disk: a caller that awaited ``write`` may promise durability.
    """

    def __init__(self, path: Path | str, *, readers: int = 2) -> None:
        self.path = Path(path)
        self._n_readers = readers
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.commits = 0
        self.writes = 0

    async def open(self) -> None:
        conn = connect_sync(self.path)
        migrate(conn)
        self._thread = threading.Thread(
            target=self._writer_loop, args=(conn,), name="kantine-db-writer", daemon=True
        )
        self._thread.start()
        for _ in range(self._n_readers):
            reader = await aiosqlite.connect(str(self.path))
            reader.row_factory = aiosqlite.Row
            await reader.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await reader.execute("PRAGMA query_only = ON")
            self._all_readers.append(reader)
            self._readers.put_nowait(reader)

    async def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        for reader in self._all_readers:
            await reader.close()
        self._all_readers.clear()

    async def write(self, fn: WriteFn[T]) -> T:
        """Run ``fn(conn)`` in a committed transaction on the writer thread."""
        return await self.submit(fn)

    def submit(self, fn: WriteFn[T]) -> asyncio.Future[T]:
        """``write``, queued now: writes submitted one after another in the same step of the
        event loop usually share a transaction (the writer takes all it finds queued)."""
        if self._thread is None:
            raise RuntimeError("database is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(fn, future, loop))
        return future

    @contextlib.asynccontextmanager
    async def reader(self):  # type: ignore[no-untyped-def]
        conn = await self._readers.get()
        try:
            yield conn
        finally:
            self._readers.put_nowait(conn)

    async def fetchall(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[Any]:
        async with self.reader() as conn, conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> Any:
        async with self.reader() as conn, conn.execute(sql, params) as cur:
            return await cur.fetchone()

    # -- the writer thread -------------------------------------------------

    def _writer_loop(self, conn: sqlite3.Connection) -> None:
        stop = False
        busy = False  # the last transaction had company: writes are arriving together
        while not stop:
            job = self._jobs.get()
            if job is None:
                break
            if busy and self._jobs.empty():
                # Under load, wait a moment for the writes right behind this one: one commit
                # (one fsync, one wake-up of the event loop) then serves them all.
                time.sleep(_COMMIT_DELAY)
            batch = [job]
            while len(batch) < _MAX_BATCH:
                try:
                    nxt = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._run_batch(conn, batch)
            busy = len(batch) > 1 or not self._jobs.empty()
        conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        # Fast path: the whole batch in one transaction, one statement per job. The writer
        # thread needs the GIL back after every statement, and under load the event loop
        # holds it for up to the switch interval each time, so fewer statements matter.
        try:
            results = self._attempt(conn, batch, savepoints=False)
            if results is None:  # a job failed: run each in its own savepoint, so only it fails
                results = self._attempt(conn, batch, savepoints=True) or []
        finally:
            changes.transaction_ended(conn)
        self.commits += 1
        self.writes += len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, bool, Any]]] = {}
        for item in results:
            by_loop.setdefault(item[0].loop, []).append(item)
        for loop, items in by_loop.items():
            loop.call_soon_threadsafe(_settle_all, items)

    @staticmethod
    def _attempt(
        conn: sqlite3.Connection, batch: list[_Job], *, savepoints: bool
    ) -> list[tuple[_Job, bool, Any]] | None:
        """Run the batch in one transaction; None when a job failed without savepoints."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            return [(job, False, exc) for job in batch]
        results: list[tuple[_Job, bool, Any]] = []
        for job in batch:
            if savepoints:
                conn.execute("SAVEPOINT job")
            try:
                value = job.fn(conn)
            except BaseException as exc:
                if not savepoints:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    return None
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                results.append((job, False, exc))
            else:
                if savepoints:
                    conn.execute("RELEASE job")
                results.append((job, True, value))
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            return [(job, False, exc) for job, _, _ in results]
        return results


def _settle_all(items: list[tuple[_Job, bool, Any]]) -> None:
    for job, ok, value in items:
        _settle(job.future, ok, value)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
