"""Blocks and unfollows: a blocked or unfollowed peer receives nothing, and a blocked host is refused.

DESIGN (Policy): a domain block means nothing in, nothing out; the CLI's
``kantine block`` also cancels what is queued for the host.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from node import cli
from node.storage import remote as remote_db
from nodes import FakeClock, Node, publish_note, start_node, wait_for
from peers import FakePeer


def host(peer: FakePeer) -> str:
    return f"{peer.host}:{peer.port}"


async def deliveries_to(node: Node, peer: FakePeer) -> list[Any]:
    return await node.rt.db.fetchall(
        "SELECT d.*, o.activity_id FROM deliveries d JOIN outbox o ON o.seq = d.outbox_seq"
        " WHERE d.host = ? ORDER BY d.id",
        (host(peer),),
    )


def got(peer: FakePeer, activity_id: str) -> int:
    return len(peer.received_ids(activity_id))


async def inbox_count(node: Node) -> int:
    return int((await node.rt.db.fetchone("SELECT count(*) AS n FROM inbox"))["n"])


async def test_blocked_and_unfollowed_peers_receive_nothing(tmp_path: Path) -> None:
    clock = FakeClock()
    node = await start_node(tmp_path, "Haarlem", host="127.0.0.60", clock=clock)
    good = await FakePeer("127.0.0.61").start()
    bad = await FakePeer("127.0.0.62").start()
    gone = await FakePeer("127.0.0.63").start()
    peers = [good, bad, gone]
    try:
        for peer in peers:
            peer.clock = clock
            await peer.follow(peer.actor("alice"), node.url, node.network_id, date=clock.now)
        await node.drain()

        # `gone` unfollows; `bad` is failing, so the first note waits in its queue.
        alice = gone.actors["alice"]
        follow = next(r.json["object"] for r in gone.received if r.json["type"] == "Accept")
        undo = gone.activity(alice, "Undo", follow)
        status, text = await gone.post(alice, node.url + "/inbox", undo, date=clock.now)
        assert status == 202, text
        await node.drain()
        bad.inbox_status = 500
        first, _ = await publish_note(node, "Before the block")
        await node.drain()
        assert got(good, first) == 1 and got(bad, first) == 1 and got(gone, first) == 0
        [queued] = [r for r in await deliveries_to(node, bad) if r["activity_id"] == first]
        assert (queued["state"], queued["attempts"]) == ("queued", 1)

        # The admin blocks bad's host while the node runs: what is queued for it is cancelled.
        rc = await asyncio.to_thread(
            cli.main, ["block", host(bad), "--reason", "spam", "--data", str(node.data)]
        )
        assert rc == 0
        [row] = [r for r in await deliveries_to(node, bad) if r["activity_id"] == first]
        assert (row["state"], row["last_error"]) == ("cancelled", "host blocked")

        bad.inbox_status = 202
        second, _ = await publish_note(node, "After the block")
        # Explicit targets too: following an actor on the blocked host sends nothing there.
        remote = await remote_db.get_actor(node.rt.db, bad.actors["alice"].id)
        assert remote is not None
        await node.rt.follows.follow(await node.network(), remote)
        await node.drain()  # before the clock moves: a POST signed now is verified now
        for _ in range(3):  # a day of retries would have come and gone
            clock.advance(hours=8)
            await node.drain()
        assert got(good, second) == 1
        assert got(bad, first) == 1 and got(bad, second) == 0
        assert got(gone, first) == 0 and got(gone, second) == 0
        # Nothing was even queued for it after the block (its last row is the first note).
        assert [r["activity_id"] for r in await deliveries_to(node, bad)][-1] == first
        assert [r.json["type"] for r in gone.received] == ["Accept"]  # its follow's answer only
        assert len(await deliveries_to(node, gone)) == 1
        assert {r.json["type"] for r in bad.received} == {"Accept", "Create"}

        # Nothing in either: the blocked host's signed POSTs are refused, whatever the inbox.
        mallory = bad.actor("mallory")
        before = await inbox_count(node)
        for path in ("/inbox", "/network/inbox"):
            like = bad.activity(mallory, "Like", node.network_id)
            status, text = await bad.post(mallory, node.url + path, like, date=clock.now)
            assert status == 403, text
            assert "blocked" in text
        assert await inbox_count(node) == before

        # Lifted: the host is welcome again (and its key is fetched as usual).
        rc = await asyncio.to_thread(cli.main, ["unblock", host(bad), "--data", str(node.data)])
        assert rc == 0
        like = bad.activity(mallory, "Like", node.network_id)
        status, text = await bad.post(mallory, node.url + "/inbox", like, date=clock.now)
        assert status == 202, text
        third, _ = await publish_note(node, "After the unblock")
        await wait_for(lambda: got(bad, third) == 1)
    finally:
        for peer in peers:
            await peer.stop()
        await node.stop()
