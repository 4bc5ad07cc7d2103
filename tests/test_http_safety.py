"""SSRF safety: the address classifier, the guarded resolver and the connector, on loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from node.http import (
    FakeResolver,
    SafeResolver,
    UnsafeAddressError,
    address_problem,
    is_public_address,
    make_connector,
    unsafe_address_cause,
)

ServerFactory = Callable[..., Awaitable[TestServer]]

REFUSED = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "this network"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "link-local"),  # cloud metadata
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.8", "IETF"),
    ("192.0.2.1", "documentation"),
    ("192.88.99.1", "6to4"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::127.0.0.1", "reserved"),  # IPv4-compatible, deprecated
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.1.2.3", "private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:100.64.0.1", "CGNAT"),
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ("64:ff9b:1::1", "reserved"),  # local-use NAT64
    ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
    ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
    ("fe80::1", "link-local"),
    ("fe80::1%1", "link-local"),
    ("fec0::1", "site-local"),
    ("fc00::1", "unique local"),
    ("fd12:3456:789a::1", "unique local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("2001::1", "Teredo"),
    ("2001:2::1", "benchmarking"),
    ("2001:10::1", "ORCHID"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("100::1", "reserved"),  # discard-only
    ("4000::1", "reserved"),
]

PUBLIC = [
    "1.1.1.1",
    "8.8.8.8",
    "9.255.255.255",
    "11.0.0.1",
    "100.63.255.255",
    "100.128.0.1",
    "172.15.255.255",
    "172.32.0.1",
    "192.169.0.1",
    "198.20.0.1",
    "223.255.255.254",
    "2606:4700:4700::1111",
    "2a00:1450:4001::1",
    "2001:4860::8888",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize(("address", "label"), REFUSED)
def test_refused_addresses(address: str, label: str) -> None:
    ip = ipaddress.ip_address(address)
    problem = address_problem(ip)
    assert problem is not None
    assert label.lower() in problem.lower()
    assert not is_public_address(ip)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None
    assert is_public_address(ipaddress.ip_address(address))


def test_embedded_address_is_named() -> None:
    problem = address_problem(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert problem is not None
    assert "127.0.0.1" in problem


# -- resolvers ---------------------------------------------------------------


class ListResolver(AbstractResolver):
    """Answers every name with a fixed list of addresses."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=a,
                port=port,
                family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                proto=0,
                flags=0,
            )
            for a in self.addresses
        ]

    async def close(self) -> None:
        self.closed = True


async def test_safe_resolver_refuses_when_every_address_is_private() -> None:
    resolver = SafeResolver(ListResolver(["127.0.0.1", "10.0.0.5"]))
    with pytest.raises(UnsafeAddressError) as info:
        await resolver.resolve("evil.example", 443)
    message = str(info.value)
    assert "evil.example" in message
    assert "127.0.0.1" in message
    assert "10.0.0.5" in message
    assert "loopback" in message
    assert isinstance(info.value, OSError)
    assert info.value.addresses == ["127.0.0.1", "10.0.0.5"]


async def test_safe_resolver_keeps_only_public_addresses() -> None:
    resolver = SafeResolver(ListResolver(["10.0.0.5", "8.8.8.8", "::1", "2606:4700::1"]))
    kept = await resolver.resolve("mixed.example", 443)
    assert [r["host"] for r in kept] == ["8.8.8.8", "2606:4700::1"]


async def test_safe_resolver_uses_the_predicate_and_closes_inner() -> None:
    inner = ListResolver(["127.0.0.1", "127.0.0.2"])
    resolver = SafeResolver(inner, is_allowed=lambda ip: str(ip) == "127.0.0.2")
    assert [r["host"] for r in await resolver.resolve("x.test", 80)] == ["127.0.0.2"]
    await resolver.close()
    assert inner.closed


async def test_fake_resolver_maps_names_and_ports() -> None:
    resolver = FakeResolver(
        {"alpha.test": "127.0.0.2", "beta.test": "127.0.0.3:8081", "six.test": "[::1]:9000"}
    )
    [alpha] = await resolver.resolve("Alpha.Test.", 443)
    assert (alpha["host"], alpha["port"], alpha["family"]) == ("127.0.0.2", 443, socket.AF_INET)
    [beta] = await resolver.resolve("beta.test", 80)
    assert (beta["host"], beta["port"]) == ("127.0.0.3", 8081)
    [six] = await resolver.resolve("six.test", 80)
    assert (six["host"], six["port"], six["family"]) == ("::1", 9000, socket.AF_INET6)
    with pytest.raises(OSError, match="unknown host"):
        await resolver.resolve("gamma.test", 80)


async def test_fake_resolver_fallback() -> None:
    fallback = ListResolver(["8.8.4.4"])
    resolver = FakeResolver({"alpha.test": "127.0.0.2"}, fallback=fallback)
    [other] = await resolver.resolve("elsewhere.example", 443)
    assert other["host"] == "8.8.4.4"
    await resolver.close()
    assert fallback.closed


def test_fake_resolver_rejects_a_malformed_target() -> None:
    with pytest.raises(ValueError):
        FakeResolver({"alpha.test": "localhost"})


# -- connector, against a real server on loopback ----------------------------


@pytest.fixture
async def server(aiohttp_server: ServerFactory) -> TestServer:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": request.host})

    app = web.Application()
    app.router.add_get("/", hello)
    return await aiohttp_server(app, host="127.0.0.1")


async def _session(**kwargs: object) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=make_connector(**kwargs))  # type: ignore[arg-type]


@pytest.fixture
async def strict() -> AsyncIterator[aiohttp.ClientSession]:
    resolver = FakeResolver({"sneaky.test": "127.0.0.1", "public.test": "8.8.8.8"})
    session = await _session(allow_private=False, resolver=resolver)
    yield session
    await session.close()


async def test_ip_literal_is_refused_at_connect(
    server: TestServer, strict: aiohttp.ClientSession
) -> None:
    with pytest.raises(aiohttp.ClientConnectorError) as info:
        await strict.get(f"http://127.0.0.1:{server.port}/")
    cause = unsafe_address_cause(info.value)
    assert cause is not None
    assert "127.0.0.1" in str(cause)
    assert "loopback" in str(cause)


async def test_ipv6_literal_is_refused_at_connect(strict: aiohttp.ClientSession) -> None:
    with pytest.raises(aiohttp.ClientConnectorError) as info:
        await strict.get("http://[::1]:9/")
    assert unsafe_address_cause(info.value) is not None


async def test_hostname_resolving_to_loopback_is_refused(
    server: TestServer, strict: aiohttp.ClientSession
) -> None:
    with pytest.raises(aiohttp.ClientConnectorDNSError) as info:
        await strict.get(f"http://sneaky.test:{server.port}/")
    cause = unsafe_address_cause(info.value)
    assert cause is not None
    assert cause.host == "sneaky.test"
    assert cause.addresses == ["127.0.0.1"]


async def test_redirect_to_a_private_address_is_refused(
    aiohttp_server: ServerFactory, server: TestServer
) -> None:
    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.1:{server.port}/")

    app = web.Application()
    app.router.add_get("/", bounce)
    outer = await aiohttp_server(app, host="127.0.0.2")
    session = await _session(allow_private=False, is_allowed=lambda ip: str(ip) == "127.0.0.2")
    async with session:
        with pytest.raises(aiohttp.ClientConnectorError) as info:
            await session.get(f"http://127.0.0.2:{outer.port}/")
        assert unsafe_address_cause(info.value) is not None
        assert "127.0.0.1" in str(unsafe_address_cause(info.value))


async def test_allowed_address_connects(aiohttp_server: ServerFactory) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/", hello)
    srv = await aiohttp_server(app, host="127.0.0.2")
    resolver = FakeResolver({"alpha.test": "127.0.0.2"})
    session = await _session(
        allow_private=False, resolver=resolver, is_allowed=lambda ip: str(ip) == "127.0.0.2"
    )
    async with session:
        for url in (f"http://127.0.0.2:{srv.port}/", f"http://alpha.test:{srv.port}/"):
            async with session.get(url) as response:
                assert await response.json() == {"ok": True}


async def test_allow_private_disables_the_refusal(server: TestServer) -> None:
    resolver = FakeResolver({"sneaky.test": "127.0.0.1"})
    session = await _session(allow_private=True, resolver=resolver)
    async with session:
        for host in ("127.0.0.1", "sneaky.test"):
            async with session.get(f"http://{host}:{server.port}/") as response:
                assert response.status == 200


def test_unsafe_address_cause_is_none_for_other_errors() -> None:
    assert unsafe_address_cause(ValueError("x")) is None
    err = UnsafeAddressError("h", ["10.0.0.1"], "private")
    assert unsafe_address_cause(err) is err
    assert str(err) == "refused to connect to h at 10.0.0.1 (private)"
