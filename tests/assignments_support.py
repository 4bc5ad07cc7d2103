"""Helpers for the assignments and visibility tests: members, tokens, partner networks, API calls."""

from __future__ import annotations

from typing import Any

import aiohttp

from node.clock import iso
from node.storage import actors as actors_db
from node.storage import tokens as tokens_db
from node.storage.actors import LocalActor
from nodes import Node, wait_for

__all__ = ["add_member", "api", "inbox_count", "partners", "received"]


async def add_member(node: Node, username: str, role: str = "member") -> tuple[LocalActor, str]:
    """A local member with an API token (straight into storage, as `kantine member add` would)."""
    now = iso(node.rt.clock())
    actor = LocalActor.new(username, "member", f"/members/{username}", username.title(), now)
    actor.role = role

    def write(conn):  # type: ignore[no-untyped-def]
        actors_db.insert_local(conn, actor)
        return tokens_db.create(conn, username, now, "test")

    token = await node.rt.db.write(write)
    return actor, token


async def partners(follower: Node, followed: Node) -> None:
    """``follower``'s network follows ``followed``'s; once accepted the two are partners."""
    remote = await follower.rt.follows.resolve(followed.handle)
    await follower.rt.follows.follow(await follower.network(), remote)

    async def accepted() -> bool:
        row = await follower.rt.db.fetchone(
            "SELECT state FROM follows WHERE remote = ? AND direction = 'out'",
            (followed.network_id,),
        )
        return bool(row) and row["state"] == "accepted"

    await wait_for(accepted)


async def api(
    session: aiohttp.ClientSession,
    node: Node,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.request(method, node.url + path, json=body, headers=headers) as resp:
        data = await resp.json(content_type=None) if resp.content_length != 0 else None
        return resp.status, data


async def inbox_count(node: Node, host: str) -> int:
    """Activities ``node`` received from actors on ``host``."""
    row = await node.rt.db.fetchone("SELECT count(*) AS n FROM inbox WHERE host = ?", (host,))
    return int(row["n"])


async def received(node: Node, object_id: str) -> Any:
    return await node.rt.db.fetchone(
        "SELECT visibility, status, local, deleted_at FROM objects WHERE id = ?", (object_id,)
    )
