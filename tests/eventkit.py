"""Helpers for the meetup tests: members with roles, API calls, event look-ups on nodes and peers."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import msgspec

from node import cli
from node.clock import iso
from node.storage import actors as actors_db
from node.storage import events as events_db
from node.storage import objects as objects_db
from node.storage import tokens as tokens_db
from node.storage.actors import LocalActor
from nodes import Node
from peers import FakePeer, Received

__all__ = [
    "add_member",
    "answers",
    "api",
    "follow_network",
    "get_json",
    "kept",
    "participants",
    "run_cli",
]


async def add_member(node: Node, username: str, role: str = "member") -> tuple[LocalActor, str]:
    """A local member with ``role`` and an API token for them."""
    now = iso(node.rt.clock())
    actor = LocalActor.new(
        username, "member", f"/members/{username}", username.title(), now, role=role
    )

    def write(conn):  # type: ignore[no-untyped-def]
        actors_db.insert_local(conn, actor)
        return tokens_db.create(conn, username, now)

    token = await node.rt.db.write(write)
    return actor, token


async def api(
    node: Node, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            node.url + path,
            headers=headers,
            data=None if body is None else msgspec.json.encode(body),
        ) as resp,
    ):
        raw = await resp.read()
        return resp.status, (msgspec.json.decode(raw) if raw else None)


async def get_json(url: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Accept": "application/activity+json"}) as resp,
    ):
        return resp.status, msgspec.json.decode(await resp.read())


async def run_cli(*argv: str) -> int:
    """Run ``kantine …`` as its own process would (its own event loop, in a thread)."""
    return await asyncio.to_thread(cli.main, list(argv))


async def follow_network(follower: Node, followed: Node) -> None:
    remote = await follower.rt.follows.resolve(followed.handle)
    await follower.rt.follows.follow(await follower.network(), remote)

    async def accepted() -> bool:
        row = await follower.rt.db.fetchone(
            "SELECT state FROM follows WHERE remote = ? AND direction = 'out'",
            (followed.network_id,),
        )
        return row is not None and row["state"] == "accepted"

    from nodes import wait_for

    await wait_for(accepted)


async def kept(node: Node, object_id: str) -> dict[str, Any] | None:
    """The copy of an object a node keeps (None if it has none, or deleted it)."""
    row = await objects_db.get(node.rt.db, object_id)
    return row.document if row else None


async def participants(node: Node, event_id: str) -> dict[str, str]:
    rows = await events_db.list_participants(
        node.rt.db, event_id, ("pending", "accepted", "waitlist", "rejected", "left")
    )
    return {p.actor: p.state for p in rows}


def answers(peer: FakePeer, username: str, kind: str | None = None) -> list[Received]:
    """What reached a peer actor's inbox (verified), optionally of one activity type."""
    return [
        r
        for r in peer.received
        if r.path == f"/users/{username}/inbox"
        and r.error is None
        and (kind is None or r.json.get("type") == kind)
    ]
