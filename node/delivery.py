"""The delivery worker: drains the durable queue, signs at each attempt, retries with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import sqlite3
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import aiohttp

from protocol import vocab

from . import retry
from .clock import Clock, iso
from .delivery_http import DeliveryClient
from .metrics import Metrics
from .sender import DeliverySenders, SenderStopped
from .signing import Signer
from .storage import actors as actors_db
from .storage import deliveries as q
from .storage import hosts as hosts_db
from .storage import outbox as outbox_db
from .storage import remote as remote_db
from .storage.actors import LocalActor
from .storage.db import Database

__all__ = ["DeliveryWorker"]

log = logging.getLogger("kantine.delivery")

# The lean client's errors (DeliveryHTTPError, UnsafeAddressError) are OSErrors too.
#: Seconds for one delivery POST, connect included.
DEFAULT_TIMEOUT = 10.0

_NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


class DeliveryWorker:
    """Delivers queued activities; one instance per process, owned by the app.

    Work is found by polling the ``deliveries`` table (so what the CLI queues is
    picked up) and at once when ``wake()`` is called after our own writes.
    """

    def __init__(
        self,
        *,
        db: Database,
        session: aiohttp.ClientSession,
        signer: Signer,
        client: DeliveryClient | None = None,
        sender: DeliverySenders | None = None,
        clock: Clock,
        metrics: Metrics,
        concurrency: int = 64,
        per_host: int = 4,
        timeout: float = DEFAULT_TIMEOUT,
        poll_interval: float = 1.0,
        policy: retry.RetryPolicy = retry.DEFAULT,
        rng: random.Random | None = None,
        user_agent: str = "Kantine/0.1",
    ) -> None:
        self.db, self.session, self.signer, self.clock = db, session, signer, clock
        #: the lean POST client (same address rules as the session's connector), or None
        self.client = client
        #: the child process that signs and POSTs (node.sender), or None: in-process
        self.sender = sender
        if client is not None:
            client.timeout = timeout
        self.metrics = metrics
        self.concurrency, self.per_host = concurrency, per_host
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.poll_interval = poll_interval
        self.policy = policy
        self.rng = rng or random.Random()
        self.user_agent = user_agent
        self._wake = asyncio.Event()
        self._inflight: dict[str, int] = defaultdict(int)
        self._tasks: set[asyncio.Task[None]] = set()
        self._hosts: dict[str, retry.HostState] = {}
        self._bodies: OrderedDict[int, tuple[bytes, str]] = OrderedDict()
        self._actors: dict[str, LocalActor] = {}
        self._rfc9421: dict[str, bool] = {}
        self._cavage_only: set[str] = set()
        self._runner: asyncio.Task[None] | None = None
        # Outcomes are written in batches: one transaction for many finished deliveries.
        self._pending_writes: list[Callable[[sqlite3.Connection], None]] = []
        self._flusher: asyncio.Task[None] | None = None
        #: ``await may_deliver(host)``: False cancels what is queued for the host (policy).
        self.may_deliver: Callable[[str], Awaitable[bool]] | None = None

    # -- life cycle ----------------------------------------------------------

    async def start(self) -> None:
        now = iso(self.clock())
        resumed = await self.db.write(lambda c: q.reset_inflight(c, now))
        if resumed:
            log.info("resumed %d deliveries that were in flight at the last stop", resumed)
        self._hosts = await hosts_db.all_states(self.db)
        self._runner = asyncio.create_task(self._run(), name="kantine-delivery")

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._flush_now()

    def wake(self) -> None:
        self._wake.set()

    async def idle(self) -> None:
        """Wait until nothing is in flight and every outcome is written (tests, benchmarks)."""
        while self._tasks or self._pending_writes or (self._flusher and not self._flusher.done()):
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            if self._flusher is not None and not self._flusher.done():
                await asyncio.wait([self._flusher])
            await self._flush_now()

    # -- the loop --------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                dispatched = await self.run_once()
            except Exception:  # the loop must survive anything one round throws
                log.exception("delivery round failed")
                dispatched = 0
            if dispatched == 0 or len(self._tasks) >= self.concurrency:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def run_once(self) -> int:
        """Claim what is due and start delivering it; return how many were started."""
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return 0
        now = self.clock()
        rows = await q.due(self.db, iso(now), limit=free * 4)
        chosen: list[q.Delivery] = []
        deferred: list[tuple[int, str]] = []
        planned: dict[str, int] = defaultdict(int)
        for row in rows:
            if len(chosen) >= free:
                break
            state = self._hosts.get(row.host, retry.HostState())
            if not retry.may_attempt(state, now, self.policy):
                deferred.append((row.id, iso(self._reopen_at(state, now))))
                continue
            if self._inflight[row.host] + planned[row.host] >= self.per_host:
                continue
            planned[row.host] += 1
            chosen.append(row)
            # Claim the half-open trial or the day's probe now, so that the host's other
            # rows in this same round are deferred rather than sent along with it.
            self._hosts[row.host] = retry.on_attempt(state, now, self.policy)
        stamp = iso(now)
        if deferred:
            await self.db.write(lambda c: q.defer(c, deferred, stamp))
        if not chosen:
            return 0
        claimed = set(await self.db.write(lambda c: q.claim(c, [r.id for r in chosen], stamp)))
        if claimed:  # read after the claim: keys rotated before the rows were queued are seen
            await self._drop_rotated_actors()
        await self._learn_capabilities([r.inbox_url for r in chosen if r.id in claimed])
        for row in chosen:
            if row.id not in claimed:
                continue
            self._inflight[row.host] += 1
            task = asyncio.create_task(self._deliver(row))
            self._tasks.add(task)
            task.add_done_callback(self._done)
        return len(claimed)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        # Refill in rounds, not per finished delivery: each round costs a query and a claim.
        if len(self._tasks) <= self.concurrency - max(1, self.concurrency // 4):
            self._wake.set()

    def _reopen_at(self, state: retry.HostState, now: datetime) -> datetime:
        if state.unavailable and state.last_probe_at is not None:
            return state.last_probe_at + self.policy.probe_interval
        return state.open_until or now + timedelta(seconds=1)

    # -- one delivery ---------------------------------------------------------

    async def _deliver(self, row: q.Delivery) -> None:
        try:
            await self._attempt(row)
        finally:
            self._inflight[row.host] -= 1

    async def _attempt(self, row: q.Delivery) -> None:
        if self.may_deliver is not None and not await self.may_deliver(row.host):
            # Blocked (or unlisted in allowlist mode) since it was queued: nothing goes out.
            stamp = iso(self.clock())
            cancelled = await self.db.write(lambda c: q.cancel_for_host(c, row.host, stamp))
            log.info("cancelled %d deliveries to %s: refused by policy", cancelled, row.host)
            self.metrics.inc("kantine_deliveries_total", outcome="cancelled")
            return
        body, username = await self._body(row.outbox_seq)
        actor = await self._actor(username)
        if actor is None:
            await self._finish(row, retry.GiveUp("signing actor is gone"), None, "actor gone")
            return
        scheme = "rfc9421" if await self._speaks_rfc9421(row) else "cavage"
        status, retry_after, error = await self._post(row.inbox_url, body, actor, scheme)
        if scheme == "rfc9421" and status == 401:
            log.info("%s refused RFC 9421 (401); falling back to cavage", row.host)
            self._cavage_only.add(row.host)
            status, retry_after, error = await self._post(row.inbox_url, body, actor, "cavage")
        now = self.clock()
        outcome = retry.after_attempt(
            row.attempts + 1, status, now, retry_after, rng=self.rng, policy=self.policy
        )
        state = self._hosts.get(row.host, retry.HostState())
        # A success through an open circuit or a probe: what was deferred is due at once.
        recovered = (
            status is not None
            and 200 <= status < 300
            and (state.open_until is not None or state.unavailable)
        )
        if status is not None and 200 <= status < 300:
            state = retry.on_success(state, now, self.policy)
        elif retry.is_host_failure(status):
            state = retry.on_failure(state, now, self.policy)
        changed = state != self._hosts.get(row.host, retry.HostState())
        self._hosts[row.host] = state
        await self._finish(
            row,
            outcome,
            status,
            error,
            host_state=state if changed or recovered else None,
            recovered=recovered,
        )

    async def _post(
        self, url: str, body: bytes, actor: LocalActor, scheme: str
    ) -> tuple[int | None, str | None, str | None]:
        headers = {"Content-Type": vocab.ACTIVITY_JSON, "User-Agent": self.user_agent}
        if self.sender is not None and self.sender.alive:
            key_id, pem = self.signer.key_for(actor, scheme)
            try:
                return await self.sender.post(
                    pem=pem,
                    key_id=key_id,
                    scheme=scheme,
                    url=url,
                    body=body,
                    headers=headers,
                    now=self.clock(),
                )
            except SenderStopped:
                # Not attempted as far as we know (the child stopped or stopped answering):
                # made here instead, not counted against the host.
                log.info("delivering to %s in-process: the sender stopped", url)
        # RSA signing releases the GIL: in a thread, it leaves the event loop free.
        signed = await asyncio.get_running_loop().run_in_executor(
            None,
            functools.partial(
                self.signer.sign_now,
                actor,
                "POST",
                url,
                headers,
                body,
                now=self.clock(),
                scheme=scheme,
            ),
        )
        headers |= signed
        if self.client is not None:
            try:
                status, retry_after = await self.client.post(url, body, headers)
            except _NETWORK_ERRORS as exc:
                return None, None, f"{type(exc).__name__}: {exc}"[:300]
            return status, retry_after, None
        try:
            async with self.session.post(
                url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
            ) as resp:
                await resp.content.read(64 * 1024)
                return resp.status, resp.headers.get("Retry-After"), None
        except _NETWORK_ERRORS as exc:
            return None, None, f"{type(exc).__name__}: {exc}"[:300]

    async def _finish(
        self,
        row: q.Delivery,
        outcome: retry.Retry | retry.GiveUp | None,
        status: int | None,
        error: str | None,
        *,
        host_state: retry.HostState | None = None,
        recovered: bool = False,
    ) -> None:
        now = self.clock()
        stamp = iso(now)
        if outcome is None:
            state, next_at, result = "done", stamp, "delivered"
        elif isinstance(outcome, retry.Retry):
            state, next_at, result = "queued", iso(outcome.at), "retry"
        else:
            state, next_at, result = "failed", stamp, "failed"
            error = error or outcome.reason
        attempts = row.attempts + 1

        def write(conn):  # type: ignore[no-untyped-def]
            q.finish(
                conn,
                row.id,
                state=state,
                attempts=attempts,
                next_at=next_at,
                status=status,
                error=error,
                now=stamp,
            )
            if host_state is not None:
                hosts_db.save_state(
                    conn, row.host, host_state, stamp if result == "delivered" else None
                )
            if recovered:
                q.requeue_host(conn, row.host, stamp)

        self._queue_write(write)
        self.metrics.inc("kantine_deliveries_total", outcome=result)
        if result != "delivered":
            log.info(
                "delivery %d to %s: %s (status %s, %s)",
                row.id,
                row.inbox_url,
                result,
                status,
                error,
            )

    def _queue_write(self, write: Callable[[sqlite3.Connection], None]) -> None:
        """Record an outcome; a flusher writes the queued outcomes together, at once.

        Until its outcome is written a delivery stays ``inflight``: it is not claimed
        again, and after a crash it is sent again (at least once).
        """
        self._pending_writes.append(write)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_now())

    async def _flush_now(self) -> None:
        while self._pending_writes:
            batch, self._pending_writes = self._pending_writes, []

            def write_all(conn: sqlite3.Connection, batch=batch) -> None:
                for write in batch:  # one bad outcome must not lose the others
                    conn.execute("SAVEPOINT outcome")
                    try:
                        write(conn)
                    except sqlite3.Error:
                        conn.execute("ROLLBACK TO outcome")
                        log.exception("could not record a delivery outcome")
                    finally:
                        conn.execute("RELEASE outcome")

            await self.db.write(write_all)

    def host_needs_clearing(self, host: str) -> bool:
        """Whether ``host_seen`` would change anything (the inbox asks on every request)."""
        state = self._hosts.get(host)
        return state is not None and state != retry.HostState()

    async def host_seen(self, host: str) -> None:
        """Any activity received from a host clears its unavailability."""
        state = self._hosts.get(host)
        if state is None or state == retry.HostState():
            return
        cleared = retry.on_activity_received(state, self.clock(), self.policy)
        self._hosts[host] = cleared
        await self.db.write(lambda c: hosts_db.save_state(c, host, cleared))
        await self.db.write(lambda c: q.requeue_host(c, host, iso(self.clock())))
        self.wake()

    # -- caches ---------------------------------------------------------------

    async def _body(self, seq: int) -> tuple[bytes, str]:
        cached = self._bodies.get(seq)
        if cached is not None:
            self._bodies.move_to_end(seq)
            return cached
        item = await outbox_db.get_by_seq(self.db, seq)
        if item is None:
            raise LookupError(f"outbox row {seq} vanished")
        self._bodies[seq] = (item.raw, item.actor)
        if len(self._bodies) > 256:
            self._bodies.popitem(last=False)
        return item.raw, item.actor

    async def _actor(self, username: str) -> LocalActor | None:
        actor = self._actors.get(username)
        if actor is None:
            actor = await actors_db.get_local(self.db, username)
            if actor is not None:
                self._actors[username] = actor
        return actor

    def forget_actor(self, username: str) -> None:
        self._actors.pop(username, None)

    async def _drop_rotated_actors(self) -> None:
        """Forget cached actors whose keys changed (``kantine keys rotate``, maybe in another
        process), so what is signed after a rotation is signed with the new keys."""
        marks = await actors_db.key_marks(self.db, list(self._actors))
        for username, actor in list(self._actors.items()):
            if marks.get(username) != actor.ed25519_pem:
                del self._actors[username]

    async def _speaks_rfc9421(self, row: q.Delivery) -> bool:
        if row.host in self._cavage_only:
            return False
        known = self._rfc9421.get(row.inbox_url)
        if known is None:
            known = await remote_db.inbox_speaks_rfc9421(self.db, row.inbox_url)
            self._rfc9421[row.inbox_url] = known
        return known

    async def _learn_capabilities(self, inboxes: list[str]) -> None:
        """Read whether each new inbox speaks RFC 9421, for a whole round in one query."""
        unknown = [url for url in dict.fromkeys(inboxes) if url not in self._rfc9421]
        if unknown:
            self._rfc9421.update(await remote_db.inboxes_speak_rfc9421(self.db, unknown))

    def invalidate_capabilities(self) -> None:
        self._rfc9421.clear()
