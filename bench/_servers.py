"""Helper servers the benchmarks run in separate processes (loopback only).

    python bench/_servers.py actors --port P --docs FILE   serve {path: document} as activity+json
    python bench/_servers.py hello  --port P               aiohttp hello-world POST endpoint
    python bench/_servers.py sink   --ports FILE --control P
        one minimal HTTP/1.1 listener per port in FILE (one port a line): never verifies,
        answers every POST 202 at once; GET http://127.0.0.1:{control}/stats reports counts
        and the monotonic time of the last answer (CLOCK_MONOTONIC is system-wide on Linux),
        POST /reset clears them.

Each prints ``ready`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

HOST = "127.0.0.1"


async def _actors(port: int, docs_text: str) -> None:
    from aiohttp import web

    docs = {path: json.dumps(doc).encode() for path, doc in json.loads(docs_text).items()}
    hits: Counter[str] = Counter()

    async def get(request: web.Request) -> web.Response:
        body = docs.get(request.path)
        if body is None:
            raise web.HTTPNotFound()
        hits[request.path] += 1
        return web.Response(body=body, content_type="application/activity+json")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(dict(hits))

    app = web.Application()
    app.router.add_get("/_stats", stats)
    app.router.add_get("/{tail:.*}", get)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


def _hello(port: int) -> None:
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="Hello, world")

    app = web.Application()
    app.router.add_post("/{tail:.*}", hello)
    app.router.add_get("/healthz", lambda r: hello(r))

    async def ready(app: web.Application) -> None:
        print("ready", flush=True)

    app.on_startup.append(ready)
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


class _SinkStats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.posts = 0
        self.last = 0.0
        self.first = 0.0
        self.ports: Counter[int] = Counter()
        self.schemes: Counter[str] = Counter()


_RESPONSE = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


class _Sink(asyncio.Protocol):
    def __init__(self, port: int, stats: _SinkStats) -> None:
        self.port, self.stats = port, stats
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            length = 0
            at = head.find(b"\ncontent-length:")
            if at >= 0:
                line_end = head.find(b"\r", at + 1)
                length = int(head[at + 16 : line_end if line_end > 0 else None].strip())
            total = end + 4 + length
            if len(self.buf) < total:
                return
            self.buf = self.buf[total:]
            st = self.stats
            st.posts += 1
            st.ports[self.port] += 1
            st.schemes["rfc9421" if b"\nsignature-input:" in head else "cavage"] += 1
            now = time.monotonic()
            if not st.first:
                st.first = now
            st.last = now
            assert self.transport is not None
            self.transport.write(_RESPONSE)


async def _sink(ports: list[int], control: int) -> None:
    from aiohttp import web

    loop = asyncio.get_running_loop()
    stats = _SinkStats()
    servers = []
    for port in ports:
        servers.append(
            await loop.create_server(lambda p=port: _Sink(p, stats), HOST, port, backlog=1024)
        )

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "posts": stats.posts,
                "first": stats.first,
                "last": stats.last,
                "distinct_ports": len(stats.ports),
                "max_per_port": max(stats.ports.values(), default=0),
                "schemes": dict(stats.schemes),
            }
        )

    async def reset(request: web.Request) -> web.Response:
        stats.reset()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/stats", get_stats)
    app.router.add_post("/reset", reset)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, control).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["actors", "hello", "sink"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--docs")
    parser.add_argument("--ports")
    parser.add_argument("--control", type=int)
    args = parser.parse_args()
    if args.role == "hello":
        _hello(args.port)
    elif args.role == "actors":
        asyncio.run(_actors(args.port, Path(args.docs).read_text()))
    else:
        ports = [int(line) for line in Path(args.ports).read_text().split()]
        asyncio.run(_sink(ports, args.control))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
