"""Helpers for the projects and member-follow tests: members with tokens, API calls."""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec

from node.clock import iso
from node.storage import actors as actors_db
from node.storage import tokens as tokens_db
from node.storage.actors import LocalActor
from nodes import Node

__all__ = ["add_member", "api", "state_of"]


async def add_member(node: Node, username: str, role: str = "member") -> tuple[LocalActor, str]:
    """A member actor at /members/{username} with an API token (as `kantine member add` would)."""
    now = iso(node.rt.clock())
    actor = LocalActor.new(
        username, "member", f"/members/{username}", username.title(), now, role=role
    )

    def write(conn):  # type: ignore[no-untyped-def]
        actors_db.insert_local(conn, actor)
        return tokens_db.create(conn, username, now, "test")

    token = await node.rt.db.write(write)
    return actor, token


async def api(
    node: Node, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    """Call the node's JSON API; return (status, decoded body)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = msgspec.json.encode(body) if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, node.url + path, data=data, headers=headers) as resp,
    ):
        return resp.status, msgspec.json.decode(await resp.read())


async def state_of(node: Node, local: str, remote: str, direction: str) -> str | None:
    row = await node.rt.db.fetchone(
        "SELECT state FROM follows WHERE local = ? AND remote = ? AND direction = ?",
        (local, remote, direction),
    )
    return row["state"] if row else None
