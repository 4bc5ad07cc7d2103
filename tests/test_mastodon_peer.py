"""A follower that speaks like Mastodon follows the network and verifies what it receives."""

from __future__ import annotations

from pathlib import Path

from nodes import start_node, wait_for
from peers import FakePeer
from test_federation_nodes import _publish_note


async def test_mastodon_like_follower_gets_signed_deliveries(tmp_path: Path) -> None:
    node = await start_node(tmp_path, "Haarlem", host="127.0.0.2")
    peer = await FakePeer("127.0.0.5").start()
    try:
        alice = peer.actor("alice")
        follow = peer.activity(alice, "Follow", node.network_id)
        status, text = await peer.post(alice, node.url + "/inbox", follow)
        assert status == 202, text

        # The Accept arrives, signed by the network's own key, verified independently.
        accept = await wait_for(lambda: [r for r in peer.received if r.json["type"] == "Accept"])
        assert accept[0].error is None, accept[0].error
        assert accept[0].key_id == node.network_id + "#main-key"
        assert accept[0].json["object"]["id"] == follow["id"]
        assert accept[0].path == "/users/alice/inbox"

        activity_id = await _publish_note(node, "Meetup at the library")
        note = await wait_for(lambda: [r for r in peer.received if r.json["id"] == activity_id])
        assert note[0].error is None, note[0].error
        assert note[0].path == "/inbox"  # the shared inbox
        assert note[0].headers["Content-Type"] == "application/activity+json"
        assert "proof" in note[0].json  # FEP-8b32 travels with it
    finally:
        await peer.stop()
        await node.stop()
