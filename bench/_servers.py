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
import select
import socket
import sys
import threading
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


def _count(stats: _SinkStats, port: int, head: bytes) -> None:
    stats.posts += 1
    stats.ports[port] += 1
    stats.schemes["rfc9421" if b"\nsignature-input:" in head else "cavage"] += 1
    now = time.monotonic()
    if not stats.first:
        stats.first = now
    stats.last = now


def _answer(buf: bytes, stats: _SinkStats, port: int, sock: socket.socket) -> bytes:
    """Answer every complete request in ``buf`` with a 202; return what is left over."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return buf
        head = buf[:end].lower()
        length = 0
        at = head.find(b"\ncontent-length:")
        if at >= 0:
            line_end = head.find(b"\r", at + 1)
            length = int(head[at + 16 : line_end if line_end > 0 else None].strip())
        total = end + 4 + length
        if len(buf) < total:
            return buf
        buf = buf[total:]
        _count(stats, port, head)
        sock.send(_RESPONSE)  # 45 bytes into an empty socket buffer: never short


def _sink(ports: list[int], control: int) -> None:
    """One epoll loop over every listening port (no asyncio: the sink should cost the
    two cores as little as possible, they are shared with the node under test)."""
    stats = _SinkStats()
    _serve_control(control, stats)
    poller = select.epoll()
    listeners: dict[int, tuple[socket.socket, int]] = {}
    for port in ports:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, port))
        listener.listen(1024)
        listener.setblocking(False)
        poller.register(listener.fileno(), select.EPOLLIN)
        listeners[listener.fileno()] = (listener, port)
    conns: dict[int, list] = {}  # fd -> [socket, port, unparsed bytes]
    print("ready", flush=True)
    while True:
        for fd, _ in poller.poll():
            found = listeners.get(fd)
            if found is not None:
                listener, port = found
                while True:
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        break
                    conn.setblocking(False)
                    poller.register(conn.fileno(), select.EPOLLIN)
                    conns[conn.fileno()] = [conn, port, b""]
                continue
            entry = conns.get(fd)
            if entry is None:
                continue
            conn = entry[0]
            try:
                data = conn.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                poller.unregister(fd)
                conn.close()
                del conns[fd]
                continue
            entry[2] = _answer(entry[2] + data, stats, entry[1], conn)


def _serve_control(port: int, stats: _SinkStats) -> None:
    """GET /stats and POST /reset, on a thread of their own."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Control(BaseHTTPRequestHandler):
        def _json(self, value: object) -> None:
            body = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._json(
                {
                    "posts": stats.posts,
                    "first": stats.first,
                    "last": stats.last,
                    "distinct_ports": len(stats.ports),
                    "max_per_port": max(stats.ports.values(), default=0),
                    "schemes": dict(stats.schemes),
                }
            )

        def do_POST(self) -> None:
            stats.reset()
            self._json({"ok": True})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((HOST, port), Control)
    threading.Thread(target=server.serve_forever, daemon=True).start()


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
        _sink(ports, args.control)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
