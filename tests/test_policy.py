"""Federation policy end to end: allowlist mode, actor blocks, Flag reports, bounds.

DESIGN (Policy): a domain blocklist, an allowlist mode ("closed co-operative"),
manual approval, per-actor blocks, Flag reports in and out. Real nodes on loopback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from node import cli
from node.clock import iso
from node.fetcher import FetchError
from node.processor import Outcome
from node.storage import hosts as hosts_db
from node.storage import tokens as tokens_db
from nodes import FakeClock, Node, publish_note, start_node, wait_for
from peers import FakePeer


def hostport(x: Node | FakePeer) -> str:
    return f"{x.host}:{x.port}"


async def admin_token(node: Node) -> str:
    """A bearer token of the network actor (the node's admin)."""
    now = iso(node.rt.clock())
    return str(await node.rt.db.write(lambda c: tokens_db.create(c, node.settings.slug, now)))


async def api(
    node: Node, method: str, path: str, token: str | None, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = json.dumps(body).encode() if body is not None else None
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, node.url + path, headers=headers, data=data) as resp,
    ):
        return resp.status, await resp.json()


async def run_cli(*argv: str) -> tuple[int, str]:
    """Run ``kantine`` in a thread (it opens the node's database as the CLI does)."""
    import contextlib
    import io

    out = io.StringIO()

    def call() -> int:
        with contextlib.redirect_stdout(out):
            return cli.main(list(argv))

    rc = await asyncio.to_thread(call)
    return rc, out.getvalue()


async def follow_state(node: Node, remote: str, direction: str) -> str | None:
    row = await node.rt.db.fetchone(
        "SELECT state FROM follows WHERE remote = ? AND direction = ?", (remote, direction)
    )
    return row["state"] if row else None


async def inbox_ids(node: Node) -> list[str]:
    return [r["activity_id"] for r in await node.rt.db.fetchall("SELECT activity_id FROM inbox")]


async def deliveries_to(node: Node, host: str) -> list[Any]:
    return await node.rt.db.fetchall("SELECT * FROM deliveries WHERE host = ?", (host,))


# -- allowlist mode ----------------------------------------------------------------------------


async def test_allowlist_mode_refuses_an_unlisted_node_end_to_end(tmp_path: Path) -> None:
    closed = await start_node(tmp_path, "Kooperatie", host="127.0.0.90", allowlist_mode=True)
    listed = await start_node(tmp_path, "Listed", host="127.0.0.91")
    outsider = await start_node(tmp_path, "Outsider", host="127.0.0.92")
    nodes = [closed, listed, outsider]
    try:
        rc, out = await run_cli("allow", listed.url, "--data", str(closed.data))
        assert rc == 0 and hostport(listed) in out
        rc, out = await run_cli("allows", "--json", "--data", str(closed.data))
        assert [r["host"] for r in json.loads(out)] == [hostport(listed)]

        # Both ask to follow the closed co-operative.
        for node in (listed, outsider):
            remote = await node.rt.follows.resolve(closed.handle)  # discovery stays open
            await node.rt.follows.follow(await node.network(), remote)
        await wait_for(lambda: follow_state(closed, listed.network_id, "in"))
        await outsider.settle()
        # The outsider's Follow was refused at the door (403, not retried) and left no trace.
        [refused] = await deliveries_to(outsider, hostport(closed))
        assert (refused["state"], refused["last_status"]) == ("failed", 403)
        assert await follow_state(closed, outsider.network_id, "in") is None
        assert not [
            r
            for r in await closed.rt.db.fetchall("SELECT host FROM inbox")
            if r["host"] == hostport(outsider)
        ]
        # The listed node's Follow waits for an admin (allowlist mode implies manual approval).
        assert await follow_state(closed, listed.network_id, "in") == "pending"
        rc, _ = await run_cli("approve", listed.network_id, "--data", str(closed.data))
        assert rc == 0
        await wait_for(lambda: _is(listed, closed.network_id, "out", "accepted"))

        # Nothing is fetched from the outsider: not its actor, not its WebFinger.
        with pytest.raises(FetchError, match="allowlist"):
            await closed.rt.follows.resolve(outsider.handle)
        with pytest.raises(FetchError, match="allowlist"):
            await closed.rt.federation.remote_actor(outsider.network_id, refresh=True)

        # Nothing is delivered to it, even as an explicit target; the listed node gets it all.
        note, _ = await publish_note(closed, "Members only meetup")
        network = await closed.network()
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": closed.rt.urls.new_activity(),
            "type": "Like",
            "actor": closed.network_id,
            "object": outsider.network_id,
            "to": [outsider.network_id],
            "cc": [],
        }
        _, queued = await closed.rt.federation.publish(
            network,
            activity,
            to_followers=False,
            targets=[(outsider.url + "/inbox", hostport(outsider))],
        )
        assert queued == 0
        await wait_for(lambda: _has(listed, note))
        await closed.settle()
        assert await deliveries_to(closed, hostport(outsider)) == []
        assert note not in await inbox_ids(outsider)

        # Taken off the list (through the admin API): refused at once, both ways.
        token = await admin_token(closed)
        status, body = await api(
            closed, "DELETE", f"/api/v1/admin/allows?host={hostport(listed)}", token
        )
        assert status == 200, body
        second, _ = await publish_note(closed, "After the vote")
        await closed.settle()
        assert second not in await inbox_ids(listed)
        status, body = await api(closed, "GET", "/api/v1/admin/log", token)
        assert [d["action"] for d in body["decisions"]][:2] == ["disallow", "allow"]
    finally:
        for node in nodes:
            await node.stop()


async def _is(node: Node, remote: str, direction: str, state: str) -> bool:
    return await follow_state(node, remote, direction) == state


async def _has(node: Node, activity_id: str) -> bool:
    return activity_id in await inbox_ids(node)


# -- blocks ----------------------------------------------------------------------------------


async def test_a_blocked_actor_is_refused_and_loses_its_follow(tmp_path: Path) -> None:
    node = await start_node(tmp_path, "Arnhem", host="127.0.0.93")
    peer = await FakePeer("127.0.0.94").start()
    try:
        alice, mallory = peer.actor("alice"), peer.actor("mallory")
        peer.shared_inbox = False
        for actor in (alice, mallory):
            await peer.follow(actor, node.url, node.network_id)
        token = await admin_token(node)
        status, body = await api(
            node, "POST", "/api/v1/admin/blocks", token, {"actor": mallory.id, "reason": "spam"}
        )
        assert (status, body["follows_removed"]) == (201, 1)
        assert await follow_state(node, mallory.id, "in") is None
        assert await follow_state(node, alice.id, "in") == "accepted"

        like = peer.activity(mallory, "Like", node.network_id)
        status, text = await peer.post(mallory, node.url + "/inbox", like)
        assert status == 403 and "blocked" in text
        status, _ = await peer.post(
            alice, node.url + "/inbox", peer.activity(alice, "Like", node.network_id)
        )
        assert status == 202

        rc, out = await run_cli("blocks", "--json", "--data", str(node.data))
        assert rc == 0
        assert [(r["kind"], r["subject"]) for r in json.loads(out)] == [("actor", mallory.id)]
        status, body = await api(node, "GET", "/api/v1/admin/blocks", token)
        assert [a["remote"] for a in body["actors"]] == [mallory.id]

        # A non-admin may not, and nobody without a token.
        assert (await api(node, "GET", "/api/v1/admin/blocks", None))[0] == 401
        status, _ = await api(node, "DELETE", "/api/v1/admin/blocks?actor=" + mallory.id, token)
        assert status == 200
        status, _ = await peer.post(
            mallory, node.url + "/inbox", peer.activity(mallory, "Like", node.network_id)
        )
        assert status == 202
    finally:
        await peer.stop()
        await node.stop()


async def test_a_block_stops_queued_deliveries_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    node = await start_node(tmp_path, "Breda", host="127.0.0.95", clock=clock)
    peer = await FakePeer("127.0.0.96").start()
    other = await FakePeer("127.0.0.97").start()
    try:
        for p in (peer, other):
            p.clock = clock
            await p.follow(p.actor("alice"), node.url, node.network_id, date=clock.now)
        await node.drain()
        peer.inbox_status = 500  # failing: the note waits in the queue for a retry
        first, _ = await publish_note(node, "Queued for a failing host")
        await node.drain()
        [row] = [r for r in await deliveries_to(node, hostport(peer)) if r["state"] == "queued"]
        assert row["state"] == "queued"

        # Blocked behind the worker's back (another process wrote only the block): the
        # worker checks the policy before each attempt and cancels what waits.
        now = iso(clock.now)
        await node.rt.db.write(lambda c: hosts_db.block(c, hostport(peer), "", now))
        peer.inbox_status = 202
        clock.advance(hours=1)
        await node.drain()
        rows = await deliveries_to(node, hostport(peer))
        assert {r["state"] for r in rows if r["id"] == row["id"]} == {"cancelled"}
        assert len(peer.received_ids(first)) == 1  # the one failed attempt, nothing after

        # Through the API: a new note is queued for nobody on the host, at once.
        token = await admin_token(node)
        status, body = await api(
            node, "POST", "/api/v1/admin/blocks", token, {"host": hostport(other), "reason": "x"}
        )
        assert (status, body["blocked"]) == (201, hostport(other))
        second, _ = await publish_note(node, "After the blocks")
        await node.drain()
        assert peer.received_ids(second) == [] and other.received_ids(second) == []
    finally:
        await peer.stop()
        await other.stop()
        await node.stop()


# -- reports (Flag) ------------------------------------------------------------------------------


async def test_flags_in_and_out(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Tilburg", host="127.0.0.98")
    b = await start_node(tmp_path, "Eindhoven", host="127.0.0.99")
    peer = await FakePeer("127.0.0.100").start()
    try:
        # In: a Mastodon-like server reports our network actor.
        reporter = peer.actor("moderator")
        flag = peer.activity(
            reporter, "Flag", [a.network_id, a.url + "/notes/1"], content="Spam meetups"
        )
        status, text = await peer.post(reporter, a.url + "/inbox", flag)
        assert status == 202, text
        # A Flag about nothing of ours is not kept.
        stray = peer.activity(reporter, "Flag", [peer.base + "/users/x"], content="?")
        assert (await peer.post(reporter, a.url + "/inbox", stray))[0] == 202
        await a.settle()
        rc, out = await run_cli("reports", "--json", "--data", str(a.data))
        assert rc == 0
        [stored] = json.loads(out)
        assert (stored["reporter"], stored["target"], stored["reason"]) == (
            reporter.id,
            a.network_id,
            "Spam meetups",
        )
        token = await admin_token(a)
        status, body = await api(a, "GET", "/api/v1/admin/reports", token)
        assert [r["activity"] for r in body["reports"]] == [flag["id"]]
        status, _ = await api(a, "POST", f"/api/v1/admin/reports/{stored['id']}/resolve", token)
        assert status == 200
        assert (await api(a, "GET", "/api/v1/admin/reports", token))[1]["reports"] == []

        # Out: a's admin reports b's network to b, from a's instance actor.
        status, body = await api(
            a,
            "POST",
            "/api/v1/admin/reports",
            token,
            {"target": b.network_id, "reason": "Fake meetups"},
        )
        assert status == 202, body
        assert body["queued"] == 1
        await a.settle()
        await b.settle()
        rc, out = await run_cli("reports", "--json", "--data", str(b.data))
        [received] = json.loads(out)
        assert (received["reporter"], received["target"], received["reason"]) == (
            a.url + "/actor",
            b.network_id,
            "Fake meetups",
        )
        # And from the CLI, about an actor of the peer (sent to its shared inbox).
        rc, out = await run_cli("report", reporter.id, "--reason", "Threats", "--data", str(a.data))
        assert rc == 0, out
        await a.settle()
        [sent] = [r for r in peer.received if r.json["type"] == "Flag"]
        assert sent.error is None and sent.json["object"] == [reporter.id]
        assert sent.json["content"] == "Threats"
    finally:
        await peer.stop()
        await a.stop()
        await b.stop()


# -- bounds --------------------------------------------------------------------------------------


async def test_fetch_budget_bounds_what_one_activity_may_fetch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node = await start_node(
        tmp_path, "Venlo", host="127.0.0.101", limits={"max_fetches_per_activity": 2}
    )
    peer = await FakePeer("127.0.0.102").start()
    try:
        fetched: list[str] = []

        async def greedy(item: Any, doc: dict[str, Any]) -> Outcome:
            for name in ("a", "b", "c"):  # one fetch more than the budget
                url = f"{peer.base}/users/{name}"
                peer.actor(name)
                await node.rt.fetcher.fetch_json(url)
                fetched.append(url)
            return Outcome.done("fetched everything")

        node.rt.processor.handlers["Question"] = [greedy]
        alice = peer.actor("alice")
        question = peer.activity(alice, "Question", None)
        with caplog.at_level(logging.INFO, logger="kantine.processor"):
            status, _ = await peer.post(alice, node.url + "/inbox", question)
            assert status == 202
            await node.settle()
        assert len(fetched) == 2
        row = await node.rt.db.fetchone(
            "SELECT state, note FROM inbox WHERE activity_id = ?", (question["id"],)
        )
        assert row["state"] == "discarded" and "fetch budget" in row["note"]
        assert any("fetch budget exhausted" in r.getMessage() for r in caplog.records)
    finally:
        await peer.stop()
        await node.stop()


async def test_replays_and_oversized_strings_are_refused(tmp_path: Path) -> None:
    node = await start_node(
        tmp_path, "Roermond", host="127.0.0.103", limits={"max_string_length": 1000}
    )
    peer = await FakePeer("127.0.0.104").start()
    try:
        alice = peer.actor("alice")
        from datetime import UTC, datetime

        # A signed request replayed outside its time window (Date 2 h old): 401.
        old = datetime.now(UTC) - timedelta(hours=2)
        like = peer.activity(alice, "Like", node.network_id)
        status, text = await peer.post(alice, node.url + "/inbox", like, date=old)
        assert status == 401 and "window" in text
        # Replayed inside it: accepted once (ids are deduplicated).
        status, _ = await peer.post(alice, node.url + "/inbox", like)
        assert status == 202
        status, _ = await peer.post(alice, node.url + "/inbox", like)
        assert status == 202
        assert (await inbox_ids(node)).count(like["id"]) == 1
        # A string over the limit: 413, nothing stored.
        long = peer.activity(alice, "Like", node.network_id, content="x" * 1001)
        status, text = await peer.post(alice, node.url + "/inbox", long)
        assert status == 413 and "1000 characters" in text
        assert long["id"] not in await inbox_ids(node)
    finally:
        await peer.stop()
        await node.stop()
