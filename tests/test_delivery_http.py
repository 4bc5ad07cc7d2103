"""The lean delivery client against real servers on loopback: framing, reuse, limits, SSRF."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from node.delivery_http import DeliveryClient, DeliveryHTTPError
from node.http import FakeResolver, UnsafeAddressError, make_connector

ServerFactory = Callable[..., Awaitable[TestServer]]
#: Writes the answer to one request (``n``: its index on its connection); False closes.
Answer = Callable[[int, asyncio.StreamWriter], Awaitable[bool]]
Serve = Callable[..., Awaitable["RawServer"]]
Client = Callable[..., DeliveryClient]

BODY = b'{"type": "Create"}'
ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


def only_127_0_0_1(ip: object) -> bool:
    return str(ip) == "127.0.0.1"


class RawServer:
    """A loopback server that reads HTTP/1.1 requests and writes hand-crafted answers."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.received = asyncio.Event()  # a request arrived
        self.hung_up = asyncio.Event()  # a client closed its side
        self.finished = asyncio.Event()  # a connection's handler is done (socket closed)
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1") -> RawServer:
        self._server = await asyncio.start_server(self._serve, host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        await asyncio.gather(*self._tasks)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.append(writer)
        self.connections += 1
        try:
            n = 0
            while (request := await _read_request(reader)) is not None:
                self.requests.append(request)
                self.received.set()
                if not await self.answer(n, writer):
                    return
                n += 1
            self.hung_up.set()
        except ConnectionError:
            self.hung_up.set()
        finally:
            writer.close()
            self.finished.set()


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One request (head and Content-Length body); None at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ConnectionResetError("request cut short") from exc
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + await reader.readexactly(length)


def reply(*answers: bytes, close: bool = False) -> Answer:
    """Answer the n-th request on a connection with ``answers[n]`` (the last one repeats)."""

    async def answer(n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(answers[min(n, len(answers) - 1)])
        await writer.drain()
        return not close

    return answer


async def never(n: int, writer: asyncio.StreamWriter) -> bool:
    return True  # read on, answer nothing


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[RawServer] = []

    async def start(answer: Answer, host: str = "127.0.0.1") -> RawServer:
        server = await RawServer(answer).start(host)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    clients: list[DeliveryClient] = []

    def make(**kwargs: object) -> DeliveryClient:
        kwargs.setdefault("allow_private", True)
        kwargs.setdefault("timeout", 5.0)
        made = DeliveryClient(**kwargs)  # type: ignore[arg-type]
        clients.append(made)
        return made

    yield make
    for made in clients:
        await made.close()


def url(server: RawServer, path: str = "/inbox") -> str:
    return f"http://127.0.0.1:{server.port}{path}"


# -- responses -------------------------------------------------------------------


async def test_aiohttp_server_gets_the_body_and_answers_202(
    aiohttp_server: ServerFactory, client: Client
) -> None:
    seen: list[tuple[bytes, str, object]] = []

    async def inbox(request: web.Request) -> web.Response:
        assert request.transport is not None
        seen.append((await request.read(), request.content_type, request.transport))
        return web.Response(status=202, text="accepted")

    app = web.Application()
    app.router.add_post("/inbox", inbox)
    server = await aiohttp_server(app, host="127.0.0.1")
    deliver = client()
    target = f"http://127.0.0.1:{server.port}/inbox"
    headers = {"Content-Type": "application/activity+json"}
    assert await deliver.post(target, BODY, headers) == (202, None)
    assert await deliver.post(target, BODY, headers) == (202, None)
    assert [(body, ctype) for body, ctype, _ in seen] == [(BODY, "application/activity+json")] * 2
    assert seen[0][2] is seen[1][2]  # one connection for both


async def test_202_with_content_length(serve: Serve, client: Client) -> None:
    server = await serve(reply(b"HTTP/1.1 202 Accepted\r\nContent-Length: 6\r\n\r\nthanks"))
    assert await client().post(url(server), BODY, {}) == (202, None)


async def test_retry_after_is_returned(serve: Serve, client: Client) -> None:
    server = await serve(
        reply(b"HTTP/1.1 503 Busy\r\nRetry-After:  120 \r\nContent-Length: 4\r\n\r\nbusy")
    )
    assert await client().post(url(server), BODY, {}) == (503, "120")


async def test_chunked_response_is_framed_exactly(serve: Serve, client: Client) -> None:
    pieces = [
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r",
        b"\n5;name=value\r\nhel",
        b"lo\r\n6\r\n world\r",
        b"\n0\r\nX-Trailer: yes\r",
        b"\n\r\n",
    ]

    async def in_pieces(n: int, writer: asyncio.StreamWriter) -> bool:
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.005)
        return True

    server = await serve(in_pieces)
    deliver = client()
    assert await deliver.post(url(server), BODY, {}) == (202, None)
    assert await deliver.post(url(server), BODY, {}) == (202, None)
    assert server.connections == 1  # the framing ended exactly where the next answer starts


async def test_interim_100_continue_is_skipped(serve: Serve, client: Client) -> None:
    server = await serve(reply(b"HTTP/1.1 100 Continue\r\n\r\n" + ACCEPTED))
    deliver = client()
    assert await deliver.post(url(server), BODY, {}) == (202, None)
    assert await deliver.post(url(server), BODY, {}) == (202, None)
    assert server.connections == 1


async def test_response_without_length_is_read_to_eof_and_not_reused(
    serve: Serve, client: Client
) -> None:
    server = await serve(reply(b"HTTP/1.1 200 OK\r\n\r\nread until the end", close=True))
    deliver = client()
    assert await deliver.post(url(server), BODY, {}) == (200, None)
    assert await deliver.post(url(server), BODY, {}) == (200, None)
    assert server.connections == 2


async def test_no_content_status_has_no_body(serve: Serve, client: Client) -> None:
    server = await serve(reply(b"HTTP/1.1 204 No Content\r\n\r\n"))
    deliver = client()
    assert await deliver.post(url(server), BODY, {}) == (204, None)
    assert await deliver.post(url(server), BODY, {}) == (204, None)
    assert server.connections == 1


@pytest.mark.parametrize(
    "head",
    [
        b"HTTX/1.1 200 OK",
        b"HTTP/1.1 2000 OK",
        b"HTTP/1.1 +20 OK",
        b"HTTP/1.1 2_0 OK",
        b"HTTP/1.1  200 OK",
        b"HTTP/1.1 OK",
        b"<html>",
        b"HTTP/1.1 200 OK\r\nContent-Length: +5",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6",
        b"HTTP/1.1 200 OK\r\nno colon here",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c",
    ],
)
async def test_malformed_response_head_is_a_delivery_error(
    serve: Serve, client: Client, head: bytes
) -> None:
    server = await serve(reply(head + b"\r\n\r\n"))
    with pytest.raises(DeliveryHTTPError) as info:
        await client().post(url(server), BODY, {})
    assert isinstance(info.value, OSError)


@pytest.mark.parametrize(
    "body",
    [b"0x5\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n", b"zz\r\n"],
    ids=["0x-size", "no-crlf-after-data", "not-hex"],
)
async def test_malformed_chunked_body_is_a_delivery_error(
    serve: Serve, client: Client, body: bytes
) -> None:
    server = await serve(reply(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body))
    with pytest.raises(DeliveryHTTPError):
        await client().post(url(server), BODY, {})


async def test_other_transfer_coding_is_read_to_eof_and_not_reused(
    serve: Serve, client: Client
) -> None:
    answer = b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b..."
    server = await serve(reply(answer, close=True))
    deliver = client()
    assert await deliver.post(url(server), BODY, {}) == (202, None)
    assert await deliver.post(url(server), BODY, {}) == (202, None)
    assert server.connections == 2


async def test_body_cut_short_is_a_connection_error(serve: Serve, client: Client) -> None:
    server = await serve(reply(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", close=True))
    with pytest.raises(ConnectionError):
        await client().post(url(server), BODY, {})


# -- connection reuse ----------------------------------------------------------------


async def test_keep_alive_reuses_one_connection(serve: Serve, client: Client) -> None:
    server = await serve(reply(ACCEPTED))
    deliver = client()
    for _ in range(3):
        assert await deliver.post(url(server), BODY, {}) == (202, None)
    assert server.connections == 1
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n",
        ACCEPTED + b"HTTP/1.1 200 OK\r\n",  # more than was asked for: out of step
    ],
    ids=["connection-close", "http-1.0", "extra-bytes"],
)
async def test_connection_not_reused(serve: Serve, client: Client, answer: bytes) -> None:
    server = await serve(reply(answer))
    deliver = client()
    assert (await deliver.post(url(server), BODY, {}))[0] == 202
    assert (await deliver.post(url(server), BODY, {}))[0] == 202
    assert server.connections == 2


async def test_peer_closing_an_idle_connection_is_not_an_error(
    serve: Serve, client: Client
) -> None:
    server = await serve(reply(ACCEPTED, close=True))  # keep-alive promised, then closed
    deliver = client()
    assert await deliver.post(url(server), BODY, {}) == (202, None)
    await asyncio.wait_for(server.finished.wait(), 2)
    await asyncio.sleep(0.05)  # let the FIN reach the idle connection
    assert await deliver.post(url(server), BODY, {}) == (202, None)
    assert server.connections == 2


async def test_reused_connection_closed_unanswered_is_sent_again(
    serve: Serve, client: Client
) -> None:
    async def once_per_connection(n: int, writer: asyncio.StreamWriter) -> bool:
        if n > 0:
            return False  # closed as the request came in, as an idle timeout races it
        writer.write(ACCEPTED)
        await writer.drain()
        return True

    server = await serve(once_per_connection)
    deliver = client()
    assert await deliver.post(url(server), BODY, {}) == (202, None)
    assert await deliver.post(url(server), BODY, {}) == (202, None)
    assert server.connections == 2
    assert len(server.requests) == 3


async def test_reused_connection_closed_mid_answer_is_not_sent_again(
    serve: Serve, client: Client
) -> None:
    async def half_answer(n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(ACCEPTED if n == 0 else b"HTTP/1.1 202 Acc")
        await writer.drain()
        return n == 0

    server = await serve(half_answer)
    deliver = client()
    assert await deliver.post(url(server), BODY, {}) == (202, None)
    with pytest.raises(ConnectionError):
        await deliver.post(url(server), BODY, {})
    assert len(server.requests) == 2  # the peer may have acted on it: never sent twice


async def test_new_connection_closed_unanswered_is_an_error(serve: Serve, client: Client) -> None:
    server = await serve(reply(b"", close=True))
    with pytest.raises(ConnectionError):
        await client().post(url(server), BODY, {})
    assert len(server.requests) == 1


async def test_idle_per_host_bounds_the_pool(serve: Serve, client: Client) -> None:
    server = await serve(reply(ACCEPTED))
    deliver = client(idle_per_host=1)
    posts = [deliver.post(url(server), BODY, {}) for _ in range(3)]
    assert await asyncio.gather(*posts) == [(202, None)] * 3
    assert server.connections == 3
    for _ in range(3):
        await deliver.post(url(server), BODY, {})
    assert server.connections == 3  # the one kept connection served these


# -- the request ----------------------------------------------------------------------


async def test_request_bytes_are_exact(serve: Serve, client: Client) -> None:
    server = await serve(reply(ACCEPTED))
    deliver = client()
    target = f"http://user:secret@127.0.0.1:{server.port}/users/ana/inbox?a=1&b=%20#frag"
    headers = {
        "Content-Type": "application/activity+json",
        "Signature": 'keyId="k",signature="c2ln"',
        "Content-Length": "999",  # replaced by the real length
    }
    await deliver.post(target, BODY, headers)
    await deliver.post(f"http://127.0.0.1:{server.port}/x", b"", {"Host": "social.example"})
    assert server.requests == [
        b"POST /users/ana/inbox?a=1&b=%20 HTTP/1.1\r\n"
        + f"Host: 127.0.0.1:{server.port}\r\n".encode()
        + b"Content-Type: application/activity+json\r\n"
        b'Signature: keyId="k",signature="c2ln"\r\n'
        + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
        + BODY,
        b"POST /x HTTP/1.1\r\nHost: social.example\r\nContent-Length: 0\r\n\r\n",
    ]


async def test_unsafe_characters_in_the_path_are_escaped(serve: Serve, client: Client) -> None:
    server = await serve(reply(ACCEPTED))
    await client().post(url(server, "/in box/é?q=ü"), BODY, {})
    assert server.requests[0].startswith(b"POST /in%20box/%C3%A9?q=%C3%BC HTTP/1.1\r\n")


async def test_ipv6_loopback(serve: Serve, client: Client) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = await serve(reply(ACCEPTED), host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    assert await client().post(f"http://[::1]:{server.port}/", BODY, {}) == (202, None)
    assert f"Host: [::1]:{server.port}\r\n".encode() in server.requests[0]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Note": "a\r\nInjected: 1"},
        {"X-Note": "a\nInjected: 1"},
        {"X-Note": "a\x00b"},
        {"X-Note\r\nInjected": "1"},
        {"Injected: 1\r\nX-Note": "1"},
        {"X Note": "1"},
        {"": "1"},
        {"Transfer-Encoding": "chunked"},
        {"X-Note": "snowman ☃"},
    ],
)
async def test_bad_headers_are_refused_before_anything_is_sent(
    serve: Serve, client: Client, headers: dict[str, str]
) -> None:
    server = await serve(reply(ACCEPTED))
    deliver = client()
    with pytest.raises(DeliveryHTTPError):
        await deliver.post(url(server), BODY, headers)
    assert await deliver.post(url(server), BODY, {"X-Note": "fine"}) == (202, None)
    assert server.connections == 1
    assert len(server.requests) == 1
    assert b"Injected" not in server.requests[0]


@pytest.mark.parametrize(
    "target",
    [
        "ftp://127.0.0.1/inbox",
        "http:///inbox",
        "http://[::1/inbox",
        "http://h:99999/",
        "http://h:0/",
    ],
)
async def test_bad_urls_are_delivery_errors(client: Client, target: str) -> None:
    with pytest.raises(DeliveryHTTPError):
        await client().post(target, BODY, {})


# -- limits -----------------------------------------------------------------------


async def _wait_for(task: asyncio.Task[object], limit: float = 5.0) -> None:
    """Wait for ``task`` without letting a hang pass as the TimeoutError under test."""
    done, _ = await asyncio.wait({task}, timeout=limit)
    if not done:
        task.cancel()
        pytest.fail("the client hung")


async def test_silent_server_times_out_and_the_socket_is_closed(
    serve: Serve, client: Client
) -> None:
    server = await serve(never)
    task = asyncio.create_task(client(timeout=0.3).post(url(server), BODY, {}))
    await _wait_for(task)
    assert isinstance(task.exception(), TimeoutError)
    await asyncio.wait_for(server.hung_up.wait(), 2)


async def test_cancelled_post_closes_its_socket(serve: Serve, client: Client) -> None:
    server = await serve(never)
    task = asyncio.create_task(client().post(url(server), BODY, {}))
    await asyncio.wait_for(server.received.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(server.hung_up.wait(), 2)


def _endless(head: bytes, piece: bytes) -> Answer:
    async def answer(n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(head)
        while True:  # until the client hangs up (drain raises)
            writer.write(piece)
            await writer.drain()

    return answer


@pytest.mark.parametrize(
    ("head", "piece"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n", b"x" * 65536),
        (b"HTTP/1.1 200 OK\r\n\r\n", b"x" * 65536),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"8000\r\n" + b"x" * 32768 + b"\r\n",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n",
            b"X-T: y\r\n" * 4096,
        ),
    ],
    ids=["content-length", "to-eof", "chunked", "endless-trailers"],
)
async def test_body_read_is_capped(serve: Serve, client: Client, head: bytes, piece: bytes) -> None:
    server = await serve(_endless(head, piece))
    deliver = client(max_body=100_000, timeout=3.0)
    task = asyncio.create_task(deliver.post(url(server), BODY, {}))
    await _wait_for(task)
    assert task.result() == (200, None)
    await asyncio.wait_for(server.hung_up.wait(), 2)  # the rest was not read: connection dropped


# -- SSRF ----------------------------------------------------------------------------


class ListResolver(AbstractResolver):
    """Answers every name with a fixed list of IPv4 addresses."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        pass


async def test_ip_literal_refused_and_never_connected(serve: Serve, client: Client) -> None:
    server = await serve(reply(ACCEPTED))
    with pytest.raises(UnsafeAddressError) as info:
        await client(allow_private=False).post(url(server), BODY, {})
    assert "loopback" in str(info.value)
    # A connection attempted by the refused POST would have been accepted before this one.
    assert await client().post(url(server), BODY, {}) == (202, None)
    assert server.connections == 1


@pytest.mark.parametrize("host", ["[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "127.1"])
async def test_other_private_literals_are_refused(client: Client, host: str) -> None:
    with pytest.raises(UnsafeAddressError):
        await client(allow_private=False).post(f"http://{host}:9/", BODY, {})


async def test_name_resolving_to_a_private_address_is_refused(serve: Serve, client: Client) -> None:
    server = await serve(reply(ACCEPTED))
    resolver = FakeResolver({"sneaky.test": "127.0.0.1"})
    with pytest.raises(UnsafeAddressError) as info:
        await client(allow_private=False, resolver=resolver).post(
            f"http://sneaky.test:{server.port}/inbox", BODY, {}
        )
    assert info.value.addresses == ["127.0.0.1"]
    assert await client().post(url(server), BODY, {}) == (202, None)
    assert server.connections == 1


async def test_the_resolver_refuses_every_private_answer_before_connecting(client: Client) -> None:
    resolver = ListResolver(["127.0.0.1", "10.0.0.5"])
    with pytest.raises(UnsafeAddressError) as info:
        await client(allow_private=False, resolver=resolver).post("http://evil.test/", BODY, {})
    assert info.value.host == "evil.test"
    assert info.value.addresses == ["127.0.0.1", "10.0.0.5"]  # SafeResolver names them all


async def test_the_check_is_on_the_exact_address(serve: Serve, client: Client) -> None:
    allowed = await serve(reply(ACCEPTED))
    other = await serve(reply(ACCEPTED), host="127.0.0.2")
    resolver = FakeResolver({"ok.test": "127.0.0.1", "other.test": "127.0.0.2"})
    deliver = client(allow_private=False, resolver=resolver, is_allowed=only_127_0_0_1)
    assert await deliver.post(url(allowed), BODY, {}) == (202, None)
    assert await deliver.post(f"http://ok.test:{allowed.port}/", BODY, {}) == (202, None)
    with pytest.raises(UnsafeAddressError):
        await deliver.post(f"http://127.0.0.2:{other.port}/", BODY, {})
    with pytest.raises(UnsafeAddressError):
        await deliver.post(f"http://other.test:{other.port}/", BODY, {})
    assert other.connections == 0
    assert b"Host: ok.test:" in allowed.requests[1]


async def test_allow_private_connects(serve: Serve, client: Client) -> None:
    server = await serve(reply(ACCEPTED, close=True))
    deliver = client(allow_private=True, resolver=FakeResolver({"sneaky.test": "127.0.0.1"}))
    assert await deliver.post(url(server), BODY, {}) == (202, None)
    assert await deliver.post(f"http://sneaky.test:{server.port}/", BODY, {}) == (202, None)
    assert server.connections == 2


async def test_like_a_guarded_connector_keeps_its_rules(serve: Serve) -> None:
    allowed = await serve(reply(ACCEPTED))
    other = await serve(reply(ACCEPTED), host="127.0.0.2")
    connector = make_connector(
        allow_private=False,
        resolver=FakeResolver({"other.test": "127.0.0.2"}),
        is_allowed=only_127_0_0_1,
    )
    deliver = DeliveryClient.like(connector, timeout=2.5)
    try:
        assert deliver is not None
        assert deliver.timeout == 2.5
        assert await deliver.post(url(allowed), BODY, {}) == (202, None)
        with pytest.raises(UnsafeAddressError):
            await deliver.post(f"http://other.test:{other.port}/", BODY, {})
        with pytest.raises(UnsafeAddressError):
            await deliver.post(f"http://127.0.0.2:{other.port}/", BODY, {})
        assert other.connections == 0
    finally:
        await connector.close()
        if deliver is not None:
            await deliver.close()


async def test_like_a_dev_connector_allows_private(serve: Serve) -> None:
    server = await serve(reply(ACCEPTED))
    connector = make_connector(allow_private=True)
    deliver = DeliveryClient.like(connector)
    try:
        assert deliver is not None
        assert await deliver.post(url(server), BODY, {}) == (202, None)
    finally:
        await connector.close()
        if deliver is not None:
            await deliver.close()


async def test_like_a_plain_connector_is_none() -> None:
    connector = aiohttp.TCPConnector()
    try:
        assert DeliveryClient.like(connector) is None
    finally:
        await connector.close()


async def test_default_rules_refuse_loopback_through_like() -> None:
    connector = make_connector(allow_private=False)
    deliver = DeliveryClient.like(connector)
    try:
        assert deliver is not None
        with pytest.raises(UnsafeAddressError):
            await deliver.post("http://localhost:9/inbox", BODY, {})
    finally:
        await connector.close()
        if deliver is not None:
            await deliver.close()
