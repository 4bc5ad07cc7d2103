"""SSRF-safe client networking: refuse private and reserved addresses when the socket connects.

Two guards, both at connect time, never in a pre-check of the URL:

* :class:`SafeResolver` wraps the real resolver and drops every resolved
  address the predicate refuses; when none is left it raises
  :class:`UnsafeAddressError`.  Each redirect hop and each new connection
  resolves again, so DNS answers that change (rebinding) are caught too.
* aiohttp's ``TCPConnector`` does **not** consult the resolver for IP-literal
  hosts (``http://127.0.0.1/``, ``http://[::1]/``), so :func:`make_connector`
  also installs a ``socket_factory`` that checks the exact address every socket
  is about to connect to.  That covers literals and is a second line behind
  the resolver.

:class:`UnsafeAddressError` subclasses :class:`OSError`, the error type both
hooks are allowed to raise: aiohttp wraps it in
:class:`aiohttp.ClientConnectorError` (``ClientConnectorDNSError`` when the
resolver refused), with our error as ``os_error`` and ``__cause__``.  Use
:func:`unsafe_address_cause` to find it.

A session built on such a connector must not set ``trust_env=True`` unless the
proxy itself is on an allowed address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

__all__ = [
    "BLOCKED_IPV4",
    "BLOCKED_IPV6",
    "FakeResolver",
    "IPAddress",
    "SafeResolver",
    "UnsafeAddressError",
    "address_problem",
    "is_public_address",
    "make_connector",
    "unsafe_address_cause",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Predicate = Callable[[IPAddress], bool]

_v4 = ipaddress.IPv4Network
_v6 = ipaddress.IPv6Network

#: IPv4 ranges we never connect to, with the name used in error messages.
BLOCKED_IPV4: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_v4("0.0.0.0/8"), "unspecified / this network"),
    (_v4("10.0.0.0/8"), "private"),
    (_v4("100.64.0.0/10"), "shared address space (CGNAT)"),
    (_v4("127.0.0.0/8"), "loopback"),
    (_v4("169.254.0.0/16"), "link-local"),
    (_v4("172.16.0.0/12"), "private"),
    (_v4("192.0.0.0/24"), "IETF protocol assignments"),
    (_v4("192.0.2.0/24"), "documentation"),
    (_v4("192.88.99.0/24"), "6to4 relay anycast"),
    (_v4("192.168.0.0/16"), "private"),
    (_v4("198.18.0.0/15"), "benchmarking"),
    (_v4("198.51.100.0/24"), "documentation"),
    (_v4("203.0.113.0/24"), "documentation"),
    (_v4("224.0.0.0/4"), "multicast"),
    (_v4("240.0.0.0/4"), "reserved / broadcast"),
)

#: IPv6 ranges refused inside global unicast (2000::/3); everything outside
#: 2000::/3 is refused too, except the prefixes that embed an IPv4 address.
BLOCKED_IPV6: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_v6("2001::/23"), "IETF protocol assignments (Teredo, ORCHID, benchmarking)"),
    (_v6("2001:db8::/32"), "documentation"),
    (_v6("3fff::/20"), "documentation"),
)

_GLOBAL_UNICAST = _v6("2000::/3")
_MAPPED = _v6("::ffff:0:0/96")
_NAT64 = _v6("64:ff9b::/96")
_SIXTOFOUR = _v6("2002::/16")
_V6_NAMES: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_v6("::/128"), "unspecified"),
    (_v6("::1/128"), "loopback"),
    (_v6("fe80::/10"), "link-local"),
    (_v6("fc00::/7"), "unique local (private)"),
    (_v6("fec0::/10"), "site-local"),
    (_v6("ff00::/8"), "multicast"),
)


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried by an IPv4-mapped, NAT64 or 6to4 address."""
    if ip in _MAPPED:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _SIXTOFOUR:
        return ip.sixtofour
    return None


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be connected to (a range name), or None if it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        inner = _embedded_v4(ip)
        if inner is not None:
            problem = address_problem(inner)
            return None if problem is None else f"{problem} ({inner} embedded in IPv6)"
        if ip not in _GLOBAL_UNICAST:
            for net, name in _V6_NAMES:
                if ip in net:
                    return name
            return "reserved (outside IPv6 global unicast)"
        for net, name in BLOCKED_IPV6:
            if ip in net:
                return name
        return None
    for net4, name in BLOCKED_IPV4:
        if ip in net4:
            return name
    return None


def is_public_address(ip: IPAddress) -> bool:
    """The default predicate: True for globally routable unicast addresses."""
    return address_problem(ip) is None


class UnsafeAddressError(OSError):
    """A connection to a refused (private, loopback, reserved...) address was blocked."""

    def __init__(self, host: str, addresses: list[str], reason: str = "") -> None:
        self.host = host
        self.addresses = addresses
        shown = ", ".join(addresses)
        detail = f" ({reason})" if reason else ""
        super().__init__(f"refused to connect to {host} at {shown}{detail}")


def unsafe_address_cause(exc: BaseException) -> UnsafeAddressError | None:
    """Find the :class:`UnsafeAddressError` behind an aiohttp connection error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, UnsafeAddressError):
            return current
        seen.add(id(current))
        if isinstance(current, aiohttp.ClientConnectorError):
            current = current.os_error
        else:
            current = current.__cause__ or current.__context__
    return None


def _parse(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _describe(ip: IPAddress | None, is_allowed: Predicate) -> str:
    if ip is None:
        return "not an IP address"
    problem = address_problem(ip)
    if problem is not None:
        return problem
    return "refused by policy" if not is_allowed(ip) else ""


class SafeResolver(AbstractResolver):
    """Wraps a resolver; drops resolved addresses the predicate refuses."""

    def __init__(
        self, inner: AbstractResolver, *, is_allowed: Predicate = is_public_address
    ) -> None:
        self._inner = inner
        self._is_allowed = is_allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        kept: list[ResolveResult] = []
        refused: list[str] = []
        reasons: list[str] = []
        for result in results:
            ip = _parse(result["host"])
            if ip is not None and self._is_allowed(ip):
                kept.append(result)
            else:
                refused.append(result["host"])
                reasons.append(_describe(ip, self._is_allowed))
        if not kept:
            raise UnsafeAddressError(host, refused, "; ".join(dict.fromkeys(reasons)))
        return kept

    async def close(self) -> None:
        await self._inner.close()


def _guarded_socket_factory(is_allowed: Predicate) -> Callable[[Any], socket.socket]:
    """A socket factory that refuses to create a socket for a refused address."""

    def factory(addr_info: Any) -> socket.socket:
        family, type_, proto, _, address = addr_info
        host = str(address[0])
        ip = _parse(host)
        if ip is None or not is_allowed(ip):
            raise UnsafeAddressError(host, [host], _describe(ip, is_allowed))
        return socket.socket(family=family, type=type_, proto=proto)

    return factory


def _split_target(target: str) -> tuple[str, int | None]:
    """``"127.0.0.2"``, ``"127.0.0.2:8080"`` or ``"[::1]:8080"`` -> (ip, port)."""
    if target.startswith("["):
        ip, _, rest = target[1:].partition("]")
        return ip, int(rest[1:]) if rest.startswith(":") else None
    if target.count(":") == 1:
        ip, _, port = target.partition(":")
        return ip, int(port)
    return target, None


class FakeResolver(AbstractResolver):
    """Test resolver: maps host names to (loopback) addresses, optionally to a port.

    ``mapping`` values are ``"ip"`` or ``"ip:port"`` (``"[v6]:port"``); with a
    port every connection to that name goes to that port.  Unmapped names go
    to ``fallback`` or fail like an unknown name.
    """

    def __init__(
        self, mapping: Mapping[str, str], fallback: AbstractResolver | None = None
    ) -> None:
        self._mapping = {name.lower().rstrip("."): _split_target(t) for name, t in mapping.items()}
        for ip, _ in self._mapping.values():
            ipaddress.ip_address(ip)  # a typo in a test rig should fail loudly
        self._fallback = fallback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        target = self._mapping.get(host.lower().rstrip("."))
        if target is None:
            if self._fallback is not None:
                return await self._fallback.resolve(host, port, family)
            raise socket.gaierror(socket.EAI_NONAME, f"FakeResolver: unknown host {host}")
        ip, mapped_port = target
        is_v6 = ":" in ip
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port if mapped_port is None else mapped_port,
                family=socket.AF_INET6 if is_v6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        if self._fallback is not None:
            await self._fallback.close()


def make_connector(
    *,
    allow_private: bool,
    resolver: AbstractResolver | None = None,
    is_allowed: Predicate | None = None,
    limit: int = 100,
    limit_per_host: int = 8,
    **kwargs: Any,
) -> aiohttp.TCPConnector:
    """Build the connector for the node's outgoing session (must run inside the event loop).

    ``allow_private`` (the node's ``dev`` setting) turns the refusal off.
    ``is_allowed`` replaces :func:`is_public_address` (tests use it to allow one
    loopback address and forbid another).  Extra keyword arguments go to
    :class:`aiohttp.TCPConnector`.
    """
    inner = resolver if resolver is not None else aiohttp.ThreadedResolver()
    connector: aiohttp.TCPConnector
    if allow_private:
        connector = aiohttp.TCPConnector(
            resolver=inner, limit=limit, limit_per_host=limit_per_host, **kwargs
        )
    else:
        predicate = is_allowed if is_allowed is not None else is_public_address
        connector = aiohttp.TCPConnector(
            resolver=SafeResolver(inner, is_allowed=predicate),
            socket_factory=_guarded_socket_factory(predicate),
            limit=limit,
            limit_per_host=limit_per_host,
            **kwargs,
        )
    # The same rules, for clients that connect on their own (node.delivery_http).
    connector.kantine_guard = {  # type: ignore[attr-defined]
        "allow_private": allow_private,
        "resolver": inner,
        "is_allowed": is_allowed,
    }
    return connector
