"""The per-request time limit: a request (its body read included) over ``request_timeout`` gets 408.

The limit is kept by one watchdog per app (node/guards.py ``Guards``), not a timer per
request: a slow client is answered within the limit plus a tenth of it.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from node.appkeys import SETTINGS
from node.guards import Guards
from nodes import start_node


async def _slow_post(host: str, port: int, path: str) -> tuple[bytes, float]:
    """POST announcing 100 bytes of body and sending 10; return (the answer, seconds taken)."""
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/activity+json"
        '\r\nContent-Length: 100\r\n\r\n{"type": "'.encode()
    )
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), 10)
    took = time.monotonic() - started
    writer.close()
    return answer, took


async def test_a_slow_client_gets_408_and_the_node_serves_on(tmp_path: Path) -> None:
    node = await start_node(tmp_path, "slow", workers=False, limits={"request_timeout": 0.3})
    try:
        answer, took = await _slow_post(node.host, node.port, "/inbox")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), head
        assert json.loads(body) == {"error": "request took longer than 0.3 s"}
        assert 0.3 <= took < 1.5, took
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                async with http.get(f"http://{node.host}:{node.port}/healthz") as resp:
                    assert resp.status == 200
        guards = next(m for m in node.app.middlewares if isinstance(m, Guards))
        assert not guards._deadlines and not guards._expired  # nothing left behind
    finally:
        await node.stop()


async def test_requests_within_the_limit_are_never_cut(tmp_path: Path) -> None:
    node = await start_node(tmp_path, "quick", workers=False, limits={"request_timeout": 0.2})
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(20):  # over several watchdog rounds
                async with http.get(f"http://{node.host}:{node.port}/healthz") as resp:
                    assert resp.status == 200
                await asyncio.sleep(0.03)
    finally:
        await node.stop()


def _request(seconds: float) -> web.Request:
    app = web.Application()
    app[SETTINGS] = SimpleNamespace(  # type: ignore[assignment]
        limits=SimpleNamespace(request_timeout=seconds), authorized_fetch=False
    )
    return make_mocked_request("GET", "/healthz", app=app)


async def test_the_watchdog_answers_408_and_leaves_the_task_uncancelled() -> None:
    guards = Guards()

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.Response(text="late")

    started = time.monotonic()
    response = await guards(_request(0.1), slow)
    assert response.status == 408
    assert time.monotonic() - started < 1.0
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    assert not guards._deadlines and not guards._expired


async def test_a_cancellation_from_elsewhere_is_not_a_408() -> None:
    guards = Guards()
    entered = asyncio.Event()

    async def waits(request: web.Request) -> web.StreamResponse:
        entered.set()
        await asyncio.sleep(5)
        return web.Response(text="late")

    task = asyncio.create_task(guards(_request(30), waits))
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not guards._deadlines and not guards._expired
