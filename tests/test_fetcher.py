"""The fetcher against real aiohttp servers on loopback: limits, redirects, signing, SSRF."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from node.fetcher import DEFAULT_ACCEPT, Fetcher, FetchError, FetchResult
from node.http import FakeResolver, make_connector
from protocol import vocab
from protocol.errors import RemoteProtocolError

ServerFactory = Callable[..., Awaitable[TestServer]]
MiB = 1 << 20
AP = vocab.ACTIVITY_JSON

LOG = web.AppKey("log", list[tuple[str, dict[str, str]]])
STATE = web.AppKey("state", dict[str, Any])


def _json(data: Any = None, content_type: str = AP, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps({"type": "Person"} if data is None else data).encode(),
        status=status,
        headers={"Content-Type": content_type},
    )


routes = web.RouteTableDef()


@web.middleware
async def record(request: web.Request, handler: Any) -> web.StreamResponse:
    request.app[LOG].append((request.path_qs, dict(request.headers)))
    return await handler(request)


@routes.get("/json")
async def plain(request: web.Request) -> web.Response:
    return _json(content_type=request.query.get("ct", AP))


@routes.get("/status/{code}")
async def status(request: web.Request) -> web.Response:
    return _json({"error": "x"}, status=int(request.match_info["code"]))


@routes.get("/hop/{n}")
async def hop(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    await asyncio.sleep(float(request.query.get("sleep", "0")))
    if n == 0:
        return _json({"id": str(request.url)})
    suffix = f"?{request.query_string}" if request.query_string else ""
    raise web.HTTPFound(f"/hop/{n - 1}{suffix}")


@routes.get("/to")
async def redirect_to(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently(request.query["location"])


@routes.get("/noloc")
async def no_location(request: web.Request) -> web.Response:
    return web.Response(status=302)


@routes.get("/huge")
async def huge(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": AP})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(32):
        await response.write(b" " * (64 * 1024))
    await response.write_eof()
    return response


@routes.get("/endless")
async def endless(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    response = web.StreamResponse(headers={"Content-Type": AP})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(1024):  # 64 MiB if nobody stops us
        await response.write(b" " * (64 * 1024))
        state["written"] = state.get("written", 0) + 64 * 1024
    state["finished"] = True
    await response.write_eof()
    return response


@routes.get("/sized/{size}")
async def sized(request: web.Request) -> web.Response:
    return web.Response(body=b" " * int(request.match_info["size"]), headers={"Content-Type": AP})


@routes.get("/slow-head")
async def slow_head(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return _json()


@routes.get("/slow-body")
async def slow_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": AP})
    await response.prepare(request)
    for _ in range(50):
        await response.write(b" ")
        await asyncio.sleep(0.1)
    return response


@routes.get("/.well-known/webfinger")
async def webfinger(request: web.Request) -> web.Response:
    resource = request.query["resource"]
    if resource.startswith("acct:broken@"):
        return web.Response(body=b"{not json", content_type=vocab.JRD_JSON)
    if resource.startswith("acct:list@"):
        return _json([], content_type=vocab.JRD_JSON)
    return _json({"subject": resource, "links": []}, content_type=vocab.JRD_JSON)


def make_app() -> web.Application:
    app = web.Application(middlewares=[record])
    app[LOG] = []
    app[STATE] = {}
    app.add_routes(routes)
    return app


@pytest.fixture
async def server(aiohttp_server: ServerFactory) -> TestServer:
    return await aiohttp_server(make_app(), host="127.0.0.1")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    resolver = FakeResolver({"alpha.test": "127.0.0.1"})
    async with aiohttp.ClientSession(
        connector=make_connector(allow_private=True, resolver=resolver)
    ) as s:
        yield s


def url(server: TestServer, path: str, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{server.port}{path}"


class Signer:
    """A sign callback that records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def __call__(self, method: str, url: str, headers: Mapping[str, str]) -> Mapping[str, str]:
        self.calls.append((method, url, dict(headers)))
        return {"Signature": f'keyId="k",signature="{len(self.calls)}"'}


# -- success -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [AP, vocab.LD_JSON, "application/json; charset=utf-8", vocab.JRD_JSON, "Application/JSON"],
)
async def test_fetches_json(
    server: TestServer, session: aiohttp.ClientSession, content_type: str
) -> None:
    target = url(server, "/json")
    result = await Fetcher(session).fetch_json(str(URL(target).with_query(ct=content_type)))
    assert result.status == 200
    assert result.body == b'{"type": "Person"}'
    assert result.content_type == content_type.split(";")[0].lower()
    assert result.url.startswith(target)


async def test_sends_accept_user_agent_and_signature(
    server: TestServer, session: aiohttp.ClientSession
) -> None:
    signer = Signer()
    await Fetcher(session, sign=signer, user_agent="Kantine/test").fetch_json(url(server, "/json"))
    [(_path, headers)] = server.app[LOG]
    assert headers["Accept"] == DEFAULT_ACCEPT
    assert headers["User-Agent"] == "Kantine/test"
    assert headers["Signature"] == 'keyId="k",signature="1"'
    assert signer.calls == [
        ("GET", url(server, "/json"), {"Accept": DEFAULT_ACCEPT, "User-Agent": "Kantine/test"})
    ]


async def test_body_of_exactly_the_limit_is_accepted(
    server: TestServer, session: aiohttp.ClientSession
) -> None:
    result = await Fetcher(session).fetch_json(url(server, f"/sized/{MiB}"))
    assert len(result.body) == MiB


# -- redirects ---------------------------------------------------------------


@pytest.mark.parametrize("hops", [1, 2, 3])
async def test_follows_redirects_and_signs_each_hop(
    server: TestServer, session: aiohttp.ClientSession, hops: int
) -> None:
    signer = Signer()
    result = await Fetcher(session, sign=signer).fetch_json(url(server, f"/hop/{hops}"))
    assert result.url == url(server, "/hop/0")
    expected = [url(server, f"/hop/{n}") for n in range(hops, -1, -1)]
    assert [(m, u) for m, u, _ in signer.calls] == [("GET", u) for u in expected]
    sent = [headers["Signature"] for _, headers in server.app[LOG]]
    assert sent == [f'keyId="k",signature="{i}"' for i in range(1, hops + 2)]


async def test_too_many_redirects(server: TestServer, session: aiohttp.ClientSession) -> None:
    signer = Signer()
    with pytest.raises(FetchError, match="more than 3 redirects"):
        await Fetcher(session, sign=signer).fetch_json(url(server, "/hop/4"))
    assert len(signer.calls) == 4
    with pytest.raises(FetchError, match="more than 1 redirects"):
        await Fetcher(session, max_redirects=1).fetch_json(url(server, "/hop/2"))


async def test_redirect_to_another_host_is_signed_for_that_host(
    server: TestServer, session: aiohttp.ClientSession
) -> None:
    signer = Signer()
    target = url(server, "/json", host="alpha.test")
    result = await Fetcher(session, sign=signer).fetch_json(url(server, f"/to?location={target}"))
    assert result.url == target
    assert signer.calls[1][1] == target


@pytest.mark.parametrize(
    "location", ["ftp://127.0.0.1/x", "file:///etc/passwd", "javascript:alert(1)", "http://"]
)
async def test_redirect_to_a_non_http_target_is_refused(
    server: TestServer, session: aiohttp.ClientSession, location: str
) -> None:
    with pytest.raises(FetchError, match="http"):
        await Fetcher(session).fetch_json(url(server, "/to?") + f"location={location}")


async def test_redirect_without_location(
    server: TestServer, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(FetchError, match="without Location") as info:
        await Fetcher(session).fetch_json(url(server, "/noloc"))
    assert info.value.status == 302


def test_https_to_http_downgrade_is_refused() -> None:
    from node.fetcher import _redirect_target

    with pytest.raises(FetchError, match="downgrades"):
        _redirect_target(URL("https://a.example/x"), "http://a.example/y", 301)
    assert _redirect_target(URL("http://a.example/x"), "/y#frag", 302) == URL("http://a.example/y")


# -- refusals ----------------------------------------------------------------


@pytest.mark.parametrize("code", [400, 401, 403, 404, 410, 500, 503])
async def test_non_2xx_is_an_error_with_the_status(
    server: TestServer, session: aiohttp.ClientSession, code: int
) -> None:
    with pytest.raises(FetchError) as info:
        await Fetcher(session).fetch_json(url(server, f"/status/{code}"))
    assert info.value.status == code
    assert f"HTTP {code}" in str(info.value)
    assert isinstance(info.value, RemoteProtocolError)
    assert info.value.status_hint == 502


@pytest.mark.parametrize("content_type", ["text/html", "application/xml", "text/plain", ""])
async def test_wrong_content_type(
    server: TestServer, session: aiohttp.ClientSession, content_type: str
) -> None:
    with pytest.raises(FetchError, match="content type"):
        await Fetcher(session).fetch_json(
            str(URL(url(server, "/json")).with_query(ct=content_type))
        )


async def test_streamed_body_over_the_limit(
    server: TestServer, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(FetchError, match="exceeds"):
        await Fetcher(session).fetch_json(url(server, "/huge"))
    with pytest.raises(FetchError, match="exceeds 1000 "):
        await Fetcher(session, max_bytes=1000).fetch_json(url(server, "/sized/1001"))


async def test_declared_length_over_the_limit_is_refused_before_reading(
    server: TestServer, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(FetchError, match=f"body of {2 * MiB} bytes exceeds"):
        await Fetcher(session).fetch_json(url(server, f"/sized/{2 * MiB}"))


async def test_reading_stops_at_the_limit(
    server: TestServer, session: aiohttp.ClientSession
) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="exceeds"):
        await Fetcher(session).fetch_json(url(server, "/endless"))
    assert time.monotonic() - started < 3
    await asyncio.sleep(0.05)
    assert not server.app[STATE].get("finished"), "the fetcher read the whole stream"


async def test_lying_content_length_reads_no_more_than_declared(
    session: aiohttp.ClientSession,
) -> None:
    """A peer declaring 2 bytes and sending 2 MiB: the extra bytes are never taken.

    aiohttp may return the two bytes or fail on the garbage it then reads as a
    next response; either way no more than declared is returned and the error
    stays short.
    """

    async def liar(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/activity+json\r\n"
            b"Content-Length: 2\r\n\r\n{}" + b"x" * (2 * MiB)
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    raw = await asyncio.start_server(liar, "127.0.0.1", 0)
    port = raw.sockets[0].getsockname()[1]
    try:
        try:
            result = await Fetcher(session).fetch_json(f"http://127.0.0.1:{port}/")
        except FetchError as exc:
            assert len(str(exc)) < 500
        else:
            assert result.body == b"{}"
    finally:
        raw.close()
        await raw.wait_closed()


@pytest.mark.parametrize("path", ["/slow-head", "/slow-body", "/hop/3?sleep=0.2"])
async def test_timeout_covers_the_whole_fetch(
    aiohttp_server: ServerFactory, session: aiohttp.ClientSession, path: str
) -> None:
    srv = await aiohttp_server(make_app(), host="127.0.0.1")
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 0\.5 s"):
        await Fetcher(session, timeout=0.5).fetch_json(url(srv, path))
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    "bad", ["ftp://example.com/x", "/relative", "mailto:a@b", "http://user:pw@example.com/", ""]
)
async def test_malformed_or_unsupported_urls(session: aiohttp.ClientSession, bad: str) -> None:
    with pytest.raises(FetchError):
        await Fetcher(session).fetch_json(bad)


async def test_connection_refused_is_a_fetch_error(session: aiohttp.ClientSession) -> None:
    with pytest.raises(FetchError, match="request failed"):
        await Fetcher(session).fetch_json("http://127.0.0.1:9/")


# -- SSRF through the fetcher ------------------------------------------------


async def test_private_addresses_are_refused(server: TestServer) -> None:
    resolver = FakeResolver({"sneaky.test": "127.0.0.1"})
    connector = make_connector(allow_private=False, resolver=resolver)
    async with aiohttp.ClientSession(connector=connector) as strict:
        fetcher = Fetcher(strict)
        for host in ("127.0.0.1", "sneaky.test"):
            with pytest.raises(FetchError, match=r"refused: .*127\.0\.0\.1.*loopback") as info:
                await fetcher.fetch_json(url(server, "/json", host=host))
            assert info.value.status is None
    assert server.app[LOG] == []


@pytest.mark.parametrize("target_host", ["127.0.0.1", "inside.test"])
async def test_redirect_to_a_private_address_is_refused(
    aiohttp_server: ServerFactory, server: TestServer, target_host: str
) -> None:
    outer = await aiohttp_server(make_app(), host="127.0.0.2")
    resolver = FakeResolver({"outer.test": "127.0.0.2", "inside.test": "127.0.0.1"})
    connector = make_connector(
        allow_private=False, resolver=resolver, is_allowed=lambda ip: str(ip) == "127.0.0.2"
    )
    inside = url(server, "/json", host=target_host)
    signer = Signer()
    async with aiohttp.ClientSession(connector=connector) as strict:
        fetcher = Fetcher(strict, sign=signer)
        ok = await fetcher.fetch_json(url(outer, "/json", host="outer.test"))
        assert ok.status == 200
        with pytest.raises(FetchError, match=r"refused: .*127\.0\.0\.1"):
            await fetcher.fetch_json(url(outer, f"/to?location={inside}", host="outer.test"))
    assert len(outer.app[LOG]) == 2
    assert server.app[LOG] == []
    assert signer.calls[-1][1] == inside


# -- WebFinger ---------------------------------------------------------------


async def test_webfinger(server: TestServer, session: aiohttp.ClientSession) -> None:
    signer = Signer()
    host = f"alpha.test:{server.port}"
    jrd = await Fetcher(session, sign=signer).fetch_webfinger("alice", host, scheme="http")
    assert jrd == {"subject": f"acct:alice@{host}", "links": []}
    [(path, headers)] = server.app[LOG]
    assert path.startswith("/.well-known/webfinger?resource=acct")
    assert headers["Accept"] == vocab.JRD_JSON
    assert signer.calls[0][1].startswith(f"http://{host}/.well-known/webfinger?resource=")


@pytest.mark.parametrize(("user", "reason"), [("broken", "malformed JSON"), ("list", "object")])
async def test_webfinger_bad_documents(
    server: TestServer, session: aiohttp.ClientSession, user: str, reason: str
) -> None:
    with pytest.raises(FetchError, match=reason):
        await Fetcher(session).fetch_webfinger(user, f"127.0.0.1:{server.port}", scheme="http")


@pytest.mark.parametrize(
    ("user", "host", "scheme"),
    [
        ("alice", "evil.example/path", "https"),
        ("alice", "a.example?x=1", "https"),
        ("alice", "user@a.example", "https"),
        ("al/ice", "a.example", "https"),
        ("alice@b.example", "a.example", "https"),
        ("", "a.example", "https"),
        ("alice", "a.example", "ftp"),
    ],
)
async def test_webfinger_rejects_malformed_input(
    session: aiohttp.ClientSession, user: str, host: str, scheme: str
) -> None:
    with pytest.raises(FetchError):
        await Fetcher(session).fetch_webfinger(user, host, scheme=scheme)


def test_fetch_result_is_frozen() -> None:
    result = FetchResult("http://a/", 200, b"{}", AP)
    with pytest.raises(AttributeError):
        result.status = 201  # type: ignore[misc]
