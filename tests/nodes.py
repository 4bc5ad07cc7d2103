"""Real Kantine nodes on loopback for tests: real SQLite files, real signatures, real HTTP."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from node import commands, config
from node.app import RUNTIME, create_app
from node.clock import Clock
from node.runtime import Runtime
from node.storage.actors import LocalActor, get_local

__all__ = ["Node", "free_port", "start_node", "wait_for"]


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


async def start_node(
    tmp_path: Path,
    name: str,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    clock: Clock | None = None,
    workers: bool = True,
    **overrides: Any,
) -> Node:
    """Init (if needed) and start a node serving ``http://host:port``."""
    port = port or free_port(host)
    data = tmp_path / name
    if not (data / config.CONFIG_NAME).exists():
        rc = commands.init(
            _Args(data=str(data), url=f"http://{host}:{port}", name=name, slug=None,
                  timezone="Europe/Amsterdam", dev=True)
        )
        assert rc == 0
    settings = config.load(data)
    if overrides:
        limits = overrides.pop("limits", None)
        settings = msgspec.structs.replace(settings, **overrides)
        if limits:
            settings = msgspec.structs.replace(
                settings, limits=msgspec.structs.replace(settings.limits, **limits)
            )
    app = create_app(settings, clock=clock, workers=workers)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return Node(name, data, settings, app, runner, host, port)


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
