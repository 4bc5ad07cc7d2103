"""Authorized fetch: GETs of actors, objects and collections must be signed by a welcome actor.

The instance actor, WebFinger and NodeInfo stay open, so two nodes in this mode can
still meet and follow each other (as Mastodon's secure mode does).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from node import cli
from nodes import Node, start_node, wait_for
from peers import FakeActor, FakePeer


async def _get(url: str, signer: FakeActor | None = None) -> int:
    headers = {"Accept": "application/activity+json"}
    if signer is not None:
        headers |= signer.sign("GET", url, None)
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        await resp.read()
        return resp.status


async def test_unsigned_gets_are_refused_except_discovery_and_the_instance_actor(
    tmp_path: Path,
) -> None:
    node = await start_node(tmp_path, "Enschede", host="127.0.0.85", authorized_fetch=True)
    peer = await FakePeer("127.0.0.86").start()
    blocked = await FakePeer("127.0.0.87").start()
    try:
        alice, mallory = peer.actor("alice"), blocked.actor("mallory")
        base = node.url
        for path in ("/network", "/network/outbox", "/network/followers", "/network/following"):
            assert await _get(base + path) == 401, path
            assert await _get(base + path, alice) == 200, path
        # Left open: the instance actor (and so its key), discovery, NodeInfo, health.
        for path in (
            "/actor",
            f"/.well-known/webfinger?resource=acct:{node.handle}",
            "/.well-known/nodeinfo",
            "/nodeinfo/2.1",
            "/healthz",
        ):
            assert await _get(base + path) == 200, path

        # Asking for a web page does not get the ActivityStreams document around the rule.
        async with (
            aiohttp.ClientSession() as session,
            session.get(base + "/network", headers={"Accept": "text/html"}) as resp,
        ):
            assert resp.status == 401 or resp.content_type == "text/html"

        # A signature that does not verify counts as none: 401.
        forged = alice.sign("GET", base + "/network", None)
        forged["Signature"] = forged["Signature"].replace('signature="', 'signature="AAAA')
        async with (
            aiohttp.ClientSession() as session,
            session.get(base + "/network", headers=forged) as resp,
        ):
            assert resp.status == 401

        # A blocked host's actor, or a blocked actor, signs in vain: 403.
        rc = await asyncio.to_thread(
            cli.main, ["block", f"{blocked.host}:{blocked.port}", "--data", str(node.data)]
        )
        assert rc == 0
        assert await _forbidden(base + "/network", mallory)
        rc = await asyncio.to_thread(cli.main, ["block-actor", alice.id, "--data", str(node.data)])
        assert rc == 0
        assert await _forbidden(base + "/network", alice)
        bob = peer.actor("bob")  # the same host's other actors are still welcome
        assert await _get(base + "/network", bob) == 200
    finally:
        await peer.stop()
        await blocked.stop()
        await node.stop()


async def _forbidden(url: str, signer: FakeActor) -> bool:
    """403 within the policy cache's lifetime (the CLI wrote from another process)."""

    async def check() -> bool:
        return await _get(url, signer) == 403

    return bool(await wait_for(check, timeout=5))


async def _state(node: Node, remote: str, direction: str) -> str | None:
    row = await node.rt.db.fetchone(
        "SELECT state FROM follows WHERE remote = ? AND direction = ?", (remote, direction)
    )
    return row["state"] if row else None


async def test_two_authorized_fetch_nodes_still_follow_each_other(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Hengelo", host="127.0.0.88", authorized_fetch=True)
    b = await start_node(tmp_path, "Almelo", host="127.0.0.89", authorized_fetch=True)
    try:
        for x, y in ((a, b), (b, a)):
            remote = await x.rt.follows.resolve(y.handle)  # WebFinger, then a signed GET
            await x.rt.follows.follow(await x.network(), remote)
        for x, y in ((a, b), (b, a)):
            await wait_for(lambda x=x, y=y: _both_accepted(x, y))
        # Each fetched the other's network actor with a signed GET, and the answer counted.
        assert await _get(b.network_id) == 401
    finally:
        await a.stop()
        await b.stop()


async def _both_accepted(x: Node, y: Node) -> bool:
    return (
        await _state(x, y.network_id, "out") == "accepted"
        and await _state(y, x.network_id, "in") == "accepted"
    )
