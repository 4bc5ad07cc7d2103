"""Real Kantine nodes on loopback for tests: real SQLite files, real signatures, real HTTP."""

from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.abc
import msgspec
from aiohttp import web

from node import commands, config
from node.app import RUNTIME, create_app
from node.clock import Clock, iso
from node.runtime import Runtime
from node.storage.actors import LocalActor, get_local
from protocol import vocab

__all__ = [
    "FakeClock",
    "Node",
    "free_port",
    "publish_about",
    "publish_delete",
    "publish_note",
    "restart_node",
    "start_node",
    "start_node_with",
    "wait_for",
]


class FakeClock:
    """A clock a test moves by hand: ``clock()`` returns ``clock.now``; ``advance`` moves it on."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        self.now += timedelta(seconds=seconds, **delta)
        return self.now


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    name: str
    data: Path
    settings: config.Settings
    app: web.Application
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return self.settings.base

    @property
    def rt(self) -> Runtime:
        return self.app[RUNTIME]

    @property
    def network_id(self) -> str:
        return self.url + "/network"

    @property
    def handle(self) -> str:
        return f"{self.settings.slug}@{self.settings.host}"

    async def network(self) -> LocalActor:
        actor = await get_local(self.rt.db, self.settings.slug)
        assert actor is not None
        return actor

    async def stop(self) -> None:
        await self.runner.cleanup()

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until inbox processing and deliveries are idle."""
        async with asyncio.timeout(timeout):
            while True:
                await self.rt.processor.idle()
                self.rt.delivery.wake()
                await asyncio.sleep(0.05)
                await self.rt.delivery.idle()
                counts = await self.rt.db.fetchone(
                    "SELECT count(*) AS n FROM deliveries WHERE state IN ('queued','inflight')"
                    " AND next_at <= strftime('%Y-%m-%dT%H:%M:%fZ','now','+1 second')"
                )
                pending = await self.rt.db.fetchone(
                    "SELECT count(*) AS n FROM inbox WHERE state = 'pending'"
                )
                if counts["n"] == 0 and pending["n"] == 0:
                    return

    async def drain(self, timeout: float = 10.0) -> None:
        """Like ``settle``, but "due" is judged by the node's own (possibly fake) clock."""
        async with asyncio.timeout(timeout):
            while True:
                await self.rt.processor.idle()
                self.rt.delivery.wake()
                await asyncio.sleep(0.05)
                await self.rt.delivery.idle()
                row = await self.rt.db.fetchone(
                    "SELECT count(*) AS n FROM deliveries WHERE state = 'inflight'"
                    " OR (state = 'queued' AND next_at <= ?)",
                    (iso(self.rt.clock()),),
                )
                pending = await self.rt.db.fetchone(
                    "SELECT count(*) AS n FROM inbox WHERE state = 'pending'"
                )
                if row["n"] == 0 and pending["n"] == 0:
                    return


async def start_node(
    tmp_path: Path,
    name: str,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    clock: Clock | None = None,
    workers: bool = True,
    connector: aiohttp.BaseConnector | None = None,
    resolver: aiohttp.abc.AbstractResolver | None = None,
    **overrides: Any,
) -> Node:
    """Init (if needed) and start a node serving ``http://host:port``.

    ``connector`` (e.g. ``node.http.make_connector(allow_private=False, is_allowed=...)``,
    built inside the running loop) or ``resolver`` (with the node's own connector, which
    follows ``dev``) decide where the node's fetches and deliveries may connect.
    """
    port = port or free_port(host)
    data = tmp_path / name
    if not (data / config.CONFIG_NAME).exists():
        rc = commands.init(
            _Args(
                data=str(data),
                url=f"http://{host}:{port}",
                name=name,
                slug=None,
                timezone="Europe/Amsterdam",
                dev=True,
            )
        )
        assert rc == 0
    settings = config.load(data)
    limits = overrides.pop("limits", None)
    if overrides:
        settings = msgspec.structs.replace(settings, **overrides)
    if limits:
        settings = msgspec.structs.replace(
            settings, limits=msgspec.structs.replace(settings.limits, **limits)
        )
    app = create_app(settings, clock=clock, workers=workers, connector=connector, resolver=resolver)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return Node(name, data, settings, app, runner, host, port)


#: The older name, kept for the tests that use it.
start_node_with = start_node


async def restart_node(node: Node, *, clock: Clock | None = None, **overrides: Any) -> Node:
    """Start a stopped node again: same data directory, host and port."""
    return await start_node(
        node.data.parent, node.name, host=node.host, port=node.port, clock=clock, **overrides
    )


async def publish_note(node: Node, text: str, *, kind: str = "Create") -> tuple[str, str]:
    """The network publishes a public Note to its followers; return (activity id, note id)."""
    fed = node.rt.federation
    note_id = fed.urls.object("notes", uuid.uuid4().hex)
    note = {
        "id": note_id,
        "type": "Note",
        "attributedTo": node.network_id,
        "content": text,
        "to": [vocab.AS_PUBLIC],
        "cc": [node.network_id + "/followers"],
    }
    return await publish_about(node, kind, note, note_id), note_id


async def publish_about(node: Node, kind: str, obj: Any, object_id: str) -> str:
    """The network publishes ``kind`` of ``obj`` (about ``object_id``) to its followers."""
    fed = node.rt.federation
    activity = {
        "@context": vocab.CONTEXT,
        "id": fed.urls.new_activity(),
        "type": kind,
        "actor": node.network_id,
        "object": obj,
        "to": [vocab.AS_PUBLIC],
        "cc": [node.network_id + "/followers"],
    }
    activity_id, _ = await fed.publish(await node.network(), activity, object_id=object_id)
    return activity_id


async def publish_delete(node: Node, object_id: str) -> str:
    """The network deletes one of its objects (a Tombstone), telling its followers."""
    tombstone = {"id": object_id, "type": "Tombstone"}
    return await publish_about(node, "Delete", tombstone, object_id)


class _Args:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll an async or sync predicate until it returns something truthy."""
    async with asyncio.timeout(timeout):
        while True:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            await asyncio.sleep(interval)
