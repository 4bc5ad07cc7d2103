"""Three real networks on loopback follow each other; what one publishes reaches each follower once."""

from __future__ import annotations

from pathlib import Path

import msgspec

from nodes import Node, start_node, wait_for
from protocol import vocab


async def _follow(a: Node, b: Node) -> None:
    """``a``'s network follows ``b``'s network, through WebFinger, as the CLI does."""
    remote = await a.rt.follows.resolve(b.handle)
    await a.rt.follows.follow(await a.network(), remote)


async def _state(node: Node, remote: str, direction: str) -> str | None:
    row = await node.rt.db.fetchone(
        "SELECT state FROM follows WHERE remote = ? AND direction = ?", (remote, direction)
    )
    return row["state"] if row else None


async def _publish_note(node: Node, text: str) -> str:
    network = await node.network()
    fed = node.rt.federation
    note_id = fed.urls.object("notes", text.replace(" ", "-"))
    activity = {
        "@context": vocab.CONTEXT,
        "id": fed.urls.new_activity(),
        "type": "Create",
        "actor": node.network_id,
        "object": {
            "id": note_id,
            "type": "Note",
            "attributedTo": node.network_id,
            "content": text,
            "to": [vocab.AS_PUBLIC],
            "cc": [node.network_id + "/followers"],
        },
        "to": [vocab.AS_PUBLIC],
        "cc": [node.network_id + "/followers"],
    }
    activity_id, _ = await fed.publish(network, activity, object_id=note_id)
    return activity_id


async def _received(node: Node, activity_id: str) -> int:
    row = await node.rt.db.fetchone(
        "SELECT count(*) AS n FROM inbox WHERE activity_id = ?", (activity_id,)
    )
    return int(row["n"])


async def test_three_networks_follow_each_other(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2")
    b = await start_node(tmp_path, "Loosduinen", host="127.0.0.3")
    c = await start_node(tmp_path, "Haarlem", host="127.0.0.4")
    nodes = [a, b, c]
    try:
        for x in nodes:
            for y in nodes:
                if x is not y:
                    await _follow(x, y)
        for x in nodes:
            for y in nodes:
                if x is not y:
                    await wait_for(lambda x=x, y=y: _accepted(x, y))
        # Each network has two accepted followers, and its followers collection says so.
        for x in nodes:
            async with x.rt.session.get(x.network_id + "/followers") as resp:
                doc = msgspec.json.decode(await resp.read())
            assert doc["totalItems"] == 2

        activity_id = await _publish_note(a, "Open Coffee in Leeuwarden")
        await wait_for(lambda: _all_received([b, c], activity_id))
        await a.settle()
        assert await _received(b, activity_id) == 1
        assert await _received(c, activity_id) == 1
        assert await _received(a, activity_id) == 0
        row = await a.rt.db.fetchone(
            "SELECT count(*) AS n FROM deliveries d JOIN outbox o ON o.seq = d.outbox_seq"
            " WHERE o.activity_id = ? AND d.state = 'done'",
            (activity_id,),
        )
        assert row["n"] == 2

        # Undo: c stops following a; a's next publication reaches b only.
        remote_a = await c.rt.follows.resolve(a.handle)
        await c.rt.follows.unfollow(await c.network(), remote_a)
        await wait_for(lambda: _no_follower(a, c.network_id))
        second = await _publish_note(a, "Second meetup")
        await wait_for(lambda: _all_received([b], second))
        await a.settle()
        assert await _received(c, second) == 0
        targets = await a.rt.db.fetchall(
            "SELECT d.inbox_url FROM deliveries d JOIN outbox o ON o.seq = d.outbox_seq"
            " WHERE o.activity_id = ?",
            (second,),
        )
        assert [t["inbox_url"] for t in targets] == [b.url + "/inbox"]
    finally:
        for x in nodes:
            await x.stop()


async def _accepted(x: Node, y: Node) -> bool:
    return await _state(x, y.network_id, "out") == "accepted" and (
        await _state(y, x.network_id, "in") == "accepted"
    )


async def _all_received(nodes: list[Node], activity_id: str) -> bool:
    return all([await _received(n, activity_id) == 1 for n in nodes])


async def _no_follower(node: Node, remote: str) -> bool:
    return await _state(node, remote, "in") is None
