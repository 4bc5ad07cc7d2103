"""The delivery worker's rules, with an injected clock and peers whose answers we choose.

DESIGN (Delivery): a durable queue; signed at each attempt; exponential backoff
with jitter; no retry on 4xx other than 401/408/429; Retry-After honoured; a
per-host circuit breaker; a host failing for days is unavailable, gets one probe
a day, and is cleared by a success or by any activity received from it; a
Delete cancels pending deliveries of the object it deletes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from node.clock import from_iso
from nodes import (
    FakeClock,
    Node,
    publish_about,
    publish_delete,
    publish_note,
    restart_node,
    start_node,
    wait_for,
)
from peers import FakeActor, FakePeer

NODE_HOST = "127.0.0.40"


@dataclass
class Setup:
    node: Node
    clock: FakeClock
    peers: list[FakePeer]
    actors: list[FakeActor]

    @property
    def peer(self) -> FakePeer:
        return self.peers[0]


@pytest.fixture
async def setup(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    """A node on a fake clock with ``n`` Mastodon-like followers, each on its own host."""
    n = getattr(request, "param", 1)
    clock = FakeClock()
    node = await start_node(tmp_path, "Haarlem", host=NODE_HOST, clock=clock)
    peers = [await FakePeer(f"127.0.0.{41 + i}").start() for i in range(n)]
    try:
        actors = []
        for peer in peers:
            peer.clock = clock  # the peer checks Dates against the node's (moved) time
            actor = peer.actor("alice")
            await peer.follow(actor, node.url, node.network_id, date=clock.now)
            actors.append(actor)
        await node.drain()
        yield Setup(node, clock, peers, actors)
    finally:
        for peer in peers:
            if peer.inbox_gate is not None:
                peer.inbox_gate.set()
            await peer.stop()
        await node.stop()


async def delivery(node: Node, activity_id: str, host: str | None = None) -> Any:
    """The one delivery row of an activity (to ``host`` if given)."""
    sql = (
        "SELECT d.* FROM deliveries d JOIN outbox o ON o.seq = d.outbox_seq WHERE o.activity_id = ?"
    )
    params: tuple[Any, ...] = (activity_id,)
    if host is not None:
        sql += " AND d.host = ?"
        params += (host,)
    rows = await node.rt.db.fetchall(sql, params)
    assert len(rows) == 1, [dict(r) for r in rows]
    return rows[0]


async def host_state(node: Node, host: str) -> Any:
    return await node.rt.db.fetchone("SELECT * FROM hosts WHERE host = ?", (host,))


def host(peer: FakePeer) -> str:
    return f"{peer.host}:{peer.port}"


def seconds_after(stamp: str, start: datetime) -> float:
    return (from_iso(stamp) - start).total_seconds()


def posts(peer: FakePeer, *activity_ids: str) -> int:
    """How many POSTs of these activities reached the peer (each verified independently)."""
    found = [r for a in activity_ids for r in peer.received_ids(a)]
    assert all(r.error is None for r in found), [r.error for r in found]
    return len(found)


# -- backoff ------------------------------------------------------------------------------


async def test_5xx_stays_queued_with_backoff_and_retries_when_due(setup: Setup) -> None:
    node, clock, peer = setup.node, setup.clock, setup.peer
    peer.inbox_status = 500
    start = clock.now
    activity_id, _ = await publish_note(node, "Open Coffee")
    await node.drain()

    row = await delivery(node, activity_id)
    assert (row["state"], row["attempts"], row["last_status"]) == ("queued", 1, 500)
    assert 30 * 0.85 <= seconds_after(row["next_at"], start) <= 30 * 1.15
    assert posts(peer, activity_id) == 1

    clock.advance(20)  # not yet due
    await node.drain()
    assert posts(peer, activity_id) == 1

    clock.now = from_iso(row["next_at"]) + timedelta(seconds=1)
    second_try = clock.now
    node.rt.delivery.wake()
    await wait_for(lambda: posts(peer, activity_id) == 2)
    await node.drain()
    row = await delivery(node, activity_id)
    assert (row["state"], row["attempts"]) == ("queued", 2)
    assert 60 * 0.85 <= seconds_after(row["next_at"], second_try) <= 60 * 1.15

    peer.inbox_status = 202
    clock.now = from_iso(row["next_at"]) + timedelta(seconds=1)
    await node.drain()
    row = await delivery(node, activity_id)
    assert (row["state"], row["attempts"], row["last_status"]) == ("done", 3, 202)
    # Signed at each attempt: three different Dates, each verified by the peer.
    dates = [r.headers["Date"] for r in peer.received_ids(activity_id)]
    assert len(set(dates)) == 3
    assert posts(peer, activity_id) == 3


@pytest.mark.parametrize("setup", [5], indirect=True)
async def test_final_4xx_fails_after_one_attempt_but_401_retries(setup: Setup) -> None:
    node, clock = setup.node, setup.clock
    answers = [404, 410, 403, 400, 401]
    for peer, status in zip(setup.peers, answers, strict=True):
        peer.inbox_status = status
    activity_id, _ = await publish_note(node, "Assignment: a new logo")
    await node.drain()
    for peer, status in zip(setup.peers, answers, strict=True):
        row = await delivery(node, activity_id, host(peer))
        expected = "queued" if status == 401 else "failed"
        assert (row["state"], row["attempts"], row["last_status"]) == (expected, 1, status)

    for _ in range(3):  # days pass; only the 401 is tried again
        clock.advance(hours=20)
        await node.drain()
    for peer, status in zip(setup.peers, answers, strict=True):
        count = posts(peer, activity_id)
        assert count == 1 if status != 401 else count > 1, (status, count)
        # A 4xx means the host is up: it never counts against its circuit breaker.
        state = await host_state(node, host(peer))
        assert state is None or state["consecutive_failures"] == 0


async def test_429_retry_after_is_honoured(setup: Setup) -> None:
    node, clock, peer = setup.node, setup.clock, setup.peer
    peer.inbox_status = 429
    peer.inbox_headers = {"Retry-After": "120"}
    start = clock.now
    first, _ = await publish_note(node, "Too many")
    await node.drain()
    row = await delivery(node, first)
    assert (row["state"], row["attempts"], row["last_status"]) == ("queued", 1, 429)
    assert seconds_after(row["next_at"], start) == pytest.approx(120, abs=0.001)

    # The HTTP-date form too.
    peer.inbox_headers = {
        "Retry-After": format_datetime(start + timedelta(minutes=10), usegmt=True)
    }
    second, _ = await publish_note(node, "Still too many")
    await node.drain()
    row = await delivery(node, second)
    assert seconds_after(row["next_at"], start) == pytest.approx(600, abs=1)

    clock.advance(119)
    await node.drain()
    assert posts(peer, first) == 1
    peer.inbox_status, peer.inbox_headers = 202, {}
    clock.advance(2)
    await node.drain()
    assert (await delivery(node, first))["state"] == "done"
    assert (await delivery(node, second))["state"] == "queued"


# -- the circuit breaker -----------------------------------------------------------------


async def test_circuit_opens_after_five_failures_then_one_trial(setup: Setup) -> None:
    node, clock, peer = setup.node, setup.clock, setup.peer
    peer.inbox_status = 500
    ids = []
    for i in range(5):
        activity_id, _ = await publish_note(node, f"Note {i}")
        await node.drain()
        ids.append(activity_id)
    assert posts(peer, *ids) == 5
    state = await host_state(node, host(peer))
    assert state["consecutive_failures"] == 5
    assert seconds_after(state["open_until"], clock.now) == pytest.approx(60, abs=0.001)

    # Open: another delivery to that host is deferred, not attempted.
    sixth, _ = await publish_note(node, "Note 5")
    await node.drain()
    ids.append(sixth)
    assert posts(peer, sixth) == 0
    row = await delivery(node, sixth)
    assert (row["state"], row["attempts"]) == ("queued", 0)
    assert row["next_at"] == state["open_until"]

    # The cool-off passes; everything is due, but only one trial goes out.
    clock.advance(minutes=2)
    await node.drain()
    assert posts(peer, *ids) == 6, "a half-open circuit lets one trial through"
    state = await host_state(node, host(peer))
    assert state["consecutive_failures"] == 6
    assert seconds_after(state["open_until"], clock.now) == pytest.approx(120, abs=0.001)

    # The next trial succeeds: the circuit closes and what waited goes out at once.
    peer.inbox_status = 202
    clock.advance(minutes=3)
    await node.drain()
    for activity_id in ids:
        assert (await delivery(node, activity_id))["state"] == "done"
    state = await host_state(node, host(peer))
    assert (state["consecutive_failures"], state["open_until"]) == (0, None)
    assert state["last_success_at"] is not None


async def test_unavailable_after_two_days_probed_daily_cleared_by_an_activity(
    setup: Setup,
) -> None:
    node, clock, peer, alice = setup.node, setup.clock, setup.peer, setup.actors[0]
    peer.inbox_status = 500
    first, _ = await publish_note(node, "Day one")
    await node.drain()
    assert posts(peer, first) == 1

    # Two days of failures: the next failure marks the host unavailable.
    clock.advance(days=2, minutes=1)
    marked = clock.now
    await node.drain()
    assert posts(peer, first) == 2
    state = await host_state(node, host(peer))
    assert state["unavailable"] == 1
    assert from_iso(state["last_probe_at"]) == marked

    # New deliveries wait for the daily probe; nothing is sent meanwhile.
    second, _ = await publish_note(node, "Day three")
    third, _ = await publish_note(node, "Day three, later")
    await node.drain()
    clock.advance(hours=6)
    await node.drain()
    assert posts(peer, second, third) == 0
    assert posts(peer, first) == 2
    for activity_id in (first, second, third):
        row = await delivery(node, activity_id)
        assert from_iso(row["next_at"]) == marked + timedelta(days=1)

    # A day later: exactly one probe among the three waiting deliveries.
    clock.now = marked + timedelta(days=1, seconds=1)
    await node.drain()
    assert posts(peer, first, second, third) == 2 + 1
    state = await host_state(node, host(peer))
    assert state["unavailable"] == 1

    # The host sends us something (any signed activity): cleared, and the queue is due now.
    peer.inbox_status = 202
    clock.advance(minutes=5)
    like = peer.activity(alice, "Like", node.network_id)
    status, text = await peer.post(alice, node.url + "/inbox", like, date=clock.now)
    assert status == 202, text
    await node.drain()
    for activity_id in (first, second, third):
        assert (await delivery(node, activity_id))["state"] == "done"
    state = await host_state(node, host(peer))
    assert (state["unavailable"], state["consecutive_failures"]) == (0, 0)


# -- restarts ----------------------------------------------------------------------------


async def test_a_node_that_was_down_gets_what_it_missed(tmp_path: Path) -> None:
    clock = FakeClock()
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.50", clock=clock)
    b = await start_node(tmp_path, "Loosduinen", host="127.0.0.51")  # the real clock
    try:
        remote_a = await b.rt.follows.resolve(a.handle)
        await b.rt.follows.follow(await b.network(), remote_a)
        await wait_for(lambda: _follow_accepted(b, a.network_id))
        await a.drain()
        await b.settle()

        await b.stop()
        activity_id, _ = await publish_note(a, "Meetup while you were away")
        await a.drain()
        row = await delivery(a, activity_id)
        assert (row["state"], row["attempts"], row["last_status"]) == ("queued", 1, None)
        assert row["last_error"]  # connection refused, recorded

        b = await restart_node(b)
        clock.advance(40)  # past the first backoff
        a.rt.delivery.wake()
        await wait_for(lambda: _received(b, activity_id))
        await a.drain()
        row = await delivery(a, activity_id)
        assert (row["state"], row["attempts"]) == ("done", 2)
    finally:
        await a.stop()
        await b.stop()


async def test_restart_resumes_the_queue(setup: Setup) -> None:
    node, clock, peer = setup.node, setup.clock, setup.peer
    peer.inbox_status = 500
    failed, _ = await publish_note(node, "Queued across a restart")
    await node.drain()
    # Another delivery is in flight (the peer holds its answer) when the node stops.
    peer.inbox_gate = asyncio.Event()
    held, _ = await publish_note(node, "In flight at the stop")
    await wait_for(lambda: peer.received_ids(held))
    await node.stop()
    peer.inbox_gate.set()
    peer.inbox_gate = None
    with contextlib.closing(sqlite3.connect(node.settings.db_path)) as db:
        states = dict(
            db.execute(
                "SELECT o.activity_id, d.state FROM deliveries d"
                " JOIN outbox o ON o.seq = d.outbox_seq WHERE o.activity_id IN (?, ?)",
                (failed, held),
            ).fetchall()
        )
    assert states == {failed: "queued", held: "inflight"}

    peer.inbox_status = 202
    node = setup.node = await restart_node(node, clock=clock)
    assert (await delivery(node, failed))["attempts"] == 1  # the queue survived, as it was
    state = await host_state(node, host(peer))
    assert state["consecutive_failures"] >= 1  # and so did the host's record
    clock.advance(minutes=5)
    await node.drain()
    assert (await delivery(node, failed))["state"] == "done"
    assert (await delivery(node, held))["state"] == "done"
    assert posts(peer, failed) == 2
    assert posts(peer, held) == 2  # at least once: the interrupted attempt is made again


# -- Delete --------------------------------------------------------------------------------


async def test_delete_cancels_pending_deliveries_of_its_object(setup: Setup) -> None:
    node, clock, peer = setup.node, setup.clock, setup.peer
    peer.inbox_status = 500
    create, note_id = await publish_note(node, "Soon deleted")
    update = await publish_about(node, "Update", {"id": note_id, "type": "Note"}, note_id)
    other, _ = await publish_note(node, "Stays")
    await node.drain()
    delete = await publish_delete(node, note_id)
    await node.drain()
    assert (await delivery(node, create))["state"] == "cancelled"
    assert (await delivery(node, update))["state"] == "cancelled"
    assert (await delivery(node, other))["state"] == "queued"
    assert (await delivery(node, delete))["state"] == "queued"

    peer.inbox_status = 202
    clock.advance(minutes=5)
    await node.drain()
    assert (await delivery(node, create))["state"] == "cancelled"
    assert (await delivery(node, update))["state"] == "cancelled"
    assert (await delivery(node, other))["state"] == "done"
    assert (await delivery(node, delete))["state"] == "done"
    assert posts(peer, create) == 1  # only the attempt before the Delete
    assert posts(peer, update) == 1


async def _follow_accepted(node: Node, remote: str) -> bool:
    row = await node.rt.db.fetchone(
        "SELECT state FROM follows WHERE remote = ? AND direction = 'out'", (remote,)
    )
    return row is not None and row["state"] == "accepted"


async def _received(node: Node, activity_id: str) -> bool:
    row = await node.rt.db.fetchone(
        "SELECT count(*) AS n FROM inbox WHERE activity_id = ?", (activity_id,)
    )
    return bool(row["n"])
