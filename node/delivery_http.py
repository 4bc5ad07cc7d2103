"""A lean HTTP/1.1 POST client for deliveries, on asyncio protocols.

aiohttp's client costs the event loop most of a fan-out delivery (request and
response objects, stream readers, the connector's bookkeeping). A delivery needs
much less: one POST, the status line, ``Retry-After``, and a bounded read of the
body so the connection can be reused. This client does that and nothing else:

* the same SSRF guarantee as :func:`node.http.make_connector`, at connect time:
  names are resolved through :class:`node.http.SafeResolver` (refused addresses
  dropped), and the exact address each socket connects to is checked again, which
  covers IP literals; ``allow_private`` turns both off, as ``dev`` does;
* https through ``ssl.create_default_context()`` (certificate and name checked);
* a keep-alive pool per (scheme, host, port), a few idle connections each;
* a total timeout per request (connect included) and a cap on the body read.

Errors are :class:`OSError` (``DeliveryHTTPError`` for a malformed response,
:class:`node.http.UnsafeAddressError` for a refused address) or
:class:`TimeoutError`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from .http import Predicate, SafeResolver, UnsafeAddressError, _describe, is_public_address

__all__ = ["DeliveryClient", "DeliveryHTTPError"]

_MAX_HEAD = 64 * 1024
_SAFE_TARGET = "/?#[]@!$&'()*+,;=:%-._~"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00\r\n]")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


class DeliveryHTTPError(OSError):
    """The peer's answer was not a well-formed HTTP/1.1 response (or the request was bad)."""


class _Response:
    __slots__ = ("retry_after", "reusable", "status")

    def __init__(self, status: int, retry_after: str | None, reusable: bool) -> None:
        self.status, self.retry_after, self.reusable = status, retry_after, reusable


class _Conn(asyncio.Protocol):
    """One connection; one request at a time. Parses the response as it arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_body: int) -> None:
        self.loop = loop
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._buf = bytearray()
        self._waiter: asyncio.Future[_Response] | None = None
        self._got_bytes = False
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._retry_after: str | None = None
        self._keep = True
        self._mode = ""  # "" head not parsed, "len", "chunked", "eof", "done"
        self._remaining = 0
        self._body_read = 0
        self._chunk_state = 0  # 0 size line, 1 data, 2 CRLF after data, 3 trailers

    # -- asyncio callbacks ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            # Bytes nobody asked for: the connection is out of step, never reuse it.
            self._abort()
            return
        self._got_bytes = True
        self._buf += data
        try:
            self._parse()
        except DeliveryHTTPError as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        self.closed = True  # half-closed by the peer: never reused, even before connection_lost
        if self._mode == "eof" and self._waiter is not None and not self._waiter.done():
            self._keep = False
            self._complete()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if self._mode == "eof":
                self._keep = False
                self._complete()
            else:
                err = ConnectionResetError("connection closed before the response was complete")
                if exc is not None:
                    err.__cause__ = exc
                self._waiter.set_exception(err)

    # -- the request -----------------------------------------------------------

    def send(self, request: bytes) -> asyncio.Future[_Response]:
        assert self.transport is not None
        self._reset()
        self._buf.clear()
        self._got_bytes = False
        self._waiter = self.loop.create_future()
        self.transport.write(request)
        return self._waiter

    def _parse(self) -> None:
        buf = self._buf
        while True:
            if self._mode == "":
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > _MAX_HEAD:
                        raise DeliveryHTTPError("response head too large")
                    return
                head = bytes(buf[:end])
                del buf[: end + 4]
                if not self._head(head):
                    continue  # an interim 1xx response: the real one follows
            if self._mode == "len":
                take = min(self._remaining, len(buf))
                self._remaining -= take
                self._body_read += take
                del buf[:take]
                if self._remaining == 0:
                    self._complete()
                elif self._body_read >= self.max_body:
                    self._keep = False
                    self._complete()
                return
            if self._mode == "eof":
                self._body_read += len(buf)
                buf.clear()
                if self._body_read >= self.max_body:
                    self._keep = False
                    self._complete()
                return
            if self._mode == "chunked":
                if self._chunked(buf):
                    self._complete()
                elif self._body_read >= self.max_body:
                    self._keep = False
                    self._complete()
                return
            return

    def _head(self, head: bytes) -> bool:
        """Parse a response head; False for an interim (1xx) response to skip."""
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if (
            len(parts) < 2
            or not parts[0].startswith(b"HTTP/1.")
            or len(parts[1]) != 3
            or not parts[1].isdigit()  # int() alone takes "+20", "2_0"
        ):
            raise DeliveryHTTPError(f"bad status line {lines[0][:80]!r}")
        status = int(parts[1])
        if status < 100:
            raise DeliveryHTTPError(f"bad status {status}")
        if 100 <= status < 200 and status != 101:
            return False
        keep = parts[0] == b"HTTP/1.1"
        length: int | None = None
        chunked: bool | None = None  # None: no Transfer-Encoding
        retry_after: str | None = None
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise DeliveryHTTPError("bad header line")
            name = name.strip().lower()
            if name == b"content-length":
                value = value.strip()
                if not value.isdigit() or len(value) > 18:  # no sign, no "_", no huge number
                    raise DeliveryHTTPError("bad Content-Length")
                n = int(value)
                if length is not None and length != n:
                    raise DeliveryHTTPError("bad Content-Length")
                length = n
            elif name == b"transfer-encoding":
                # Only the final coding matters (RFC 9112 6.3): chunked, or read to EOF.
                chunked = value.rpartition(b",")[2].strip().lower() == b"chunked"
            elif name == b"connection":
                tokens = value.lower()
                if b"close" in tokens:
                    keep = False
                elif b"keep-alive" in tokens:
                    keep = True
            elif name == b"retry-after" and retry_after is None:
                retry_after = value.strip().decode("latin-1")
        self._status, self._retry_after, self._keep = status, retry_after, keep
        if status == 101:
            raise DeliveryHTTPError("unexpected protocol switch")
        if status in (204, 304):
            self._mode, self._remaining = "len", 0
        elif chunked:
            self._mode = "chunked"
            if length is not None:
                self._keep = False  # both framings: never trust this connection again
        elif chunked is False:
            self._mode, self._keep = "eof", False  # a coding we do not frame: read to EOF
        elif length is not None:
            self._mode, self._remaining = "len", length
        else:
            self._mode, self._keep = "eof", False
        return True

    def _chunked(self, buf: bytearray) -> bool:
        """Consume chunked framing from buf; True once the last chunk and trailers are read."""
        while True:
            if self._chunk_state == 0:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > 4096:
                        raise DeliveryHTTPError("bad chunk size line")
                    return False
                size_text = bytes(buf[:end]).split(b";", 1)[0].strip()
                del buf[: end + 2]
                if not _HEX.fullmatch(size_text):  # int(x, 16) alone takes "0x1", "+1", "1_0"
                    raise DeliveryHTTPError("bad chunk size")
                size = int(size_text, 16)
                if size == 0:
                    self._chunk_state = 3
                else:
                    self._remaining, self._chunk_state = size, 1
            elif self._chunk_state == 1:
                take = min(self._remaining, len(buf))
                self._remaining -= take
                self._body_read += take
                del buf[:take]
                if self._remaining:
                    return False
                self._chunk_state = 2
                if self._body_read >= self.max_body:
                    return False
            elif self._chunk_state == 2:
                if len(buf) < 2:
                    return False
                if buf[:2] != b"\r\n":
                    raise DeliveryHTTPError("bad chunk end")
                del buf[:2]
                self._chunk_state = 0
            else:  # trailers, up to an empty line
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > _MAX_HEAD:
                        raise DeliveryHTTPError("trailers too large")
                    return False
                del buf[: end + 2]
                if end == 0:
                    return True
                self._body_read += end + 2
                if self._body_read >= self.max_body:
                    return False

    def _complete(self) -> None:
        self._mode = "done"
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            reusable = self._keep and not self.closed and not self._buf
            waiter.set_result(_Response(self._status, self._retry_after, reusable))

    def _fail(self, exc: BaseException) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self._abort()

    def _abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class DeliveryClient:
    """POSTs deliveries; see the module docstring."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: AbstractResolver | None = None,
        is_allowed: Predicate | None = None,
        timeout: float = 10.0,
        max_body: int = 64 * 1024,
        idle_per_host: int = 4,
        idle_total: int = 512,
        keepalive: float = 15.0,
    ) -> None:
        inner = resolver if resolver is not None else aiohttp.ThreadedResolver()
        self._predicate: Predicate | None = None
        if allow_private:
            self._resolver: AbstractResolver = inner
        else:
            self._predicate = is_allowed if is_allowed is not None else is_public_address
            self._resolver = SafeResolver(inner, is_allowed=self._predicate)
        self.timeout = timeout
        self.max_body = max_body
        self.idle_per_host = idle_per_host
        self.idle_total = idle_total
        self.keepalive = keepalive
        self._idle: dict[tuple[str, str, int], list[_Conn]] = {}
        self._idle_count = 0
        self._last_sweep = time.monotonic()
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    @classmethod
    def like(cls, connector: object, **kwargs: object) -> DeliveryClient | None:
        """A client with the guard of a connector built by :func:`node.http.make_connector`
        (None for another connector, whose rules this client cannot know)."""
        guard = getattr(connector, "kantine_guard", None)
        if guard is None:
            return None
        return cls(**guard, **kwargs)  # type: ignore[arg-type]

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, str | None]:
        """POST ``body``; return (status, Retry-After). Raises OSError or TimeoutError."""
        scheme, host, port, authority, target = _split(url)
        head = [f"POST {target} HTTP/1.1\r\n", ""]
        for name, value in headers.items():
            lower = name.lower()
            if lower == "content-length":
                continue  # ours, from the body
            if lower == "host":
                authority = ""
            elif lower == "transfer-encoding":
                raise DeliveryHTTPError("Transfer-Encoding is not sent (framed by Content-Length)")
            if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
                raise DeliveryHTTPError(f"bad header {name[:100]!r}")
            head.append(f"{name}: {value}\r\n")
        if authority:
            head[1] = f"Host: {authority}\r\n"
        head.append(f"Content-Length: {len(body)}\r\n\r\n")
        try:
            request = "".join(head).encode("latin-1") + body
        except UnicodeEncodeError:
            raise DeliveryHTTPError("header value not encodable as latin-1") from None
        key = (scheme, host, port)
        conn: _Conn | None = None
        try:
            async with asyncio.timeout(self.timeout):
                conn = self._take(key)
                if conn is not None:
                    try:
                        resp = await conn.send(request)
                    except ConnectionError:
                        # The peer closed an idle connection as we reused it; nothing was
                        # answered, so send once more on a new connection.
                        if conn._got_bytes:
                            raise
                        conn._abort()
                        conn = None
                if conn is None:
                    conn = await self._connect(scheme, host, port)
                    resp = await conn.send(request)
        except BaseException:
            if conn is not None:
                conn._abort()
            raise
        self._give_back(key, conn, resp.reusable)
        return resp.status, resp.retry_after

    # -- connections -------------------------------------------------------------

    def _take(self, key: tuple[str, str, int]) -> _Conn | None:
        pool = self._idle.get(key)
        now = time.monotonic()
        while pool:
            conn = pool.pop()
            self._idle_count -= 1
            if (
                not conn.closed
                and conn.transport is not None
                and not conn.transport.is_closing()
                and now - conn.idle_since < self.keepalive
            ):
                return conn
            conn.close()
        return None

    def _give_back(self, key: tuple[str, str, int], conn: _Conn, reusable: bool) -> None:
        if not reusable or conn.closed or self._closed:
            conn.close()
            return
        now = time.monotonic()
        if now - self._last_sweep > self.keepalive:
            self._sweep(now)
        pool = self._idle.setdefault(key, [])
        if len(pool) >= self.idle_per_host or self._idle_count >= self.idle_total:
            conn.close()
            return
        conn.idle_since = now
        conn._waiter = None
        pool.append(conn)
        self._idle_count += 1

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        for key, pool in list(self._idle.items()):
            kept = [c for c in pool if not c.closed and now - c.idle_since < self.keepalive]
            for c in pool:
                if c not in kept:
                    c.close()
            self._idle_count -= len(pool) - len(kept)
            if kept:
                self._idle[key] = kept
            else:
                del self._idle[key]

    async def _addresses(self, host: str, port: int) -> list[tuple[int, str, int]]:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is not None:
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            return [(family, str(ip), port)]
        results = await self._resolver.resolve(host, port, socket.AF_UNSPEC)
        return [(r["family"], r["host"], r["port"]) for r in results]

    async def _connect(self, scheme: str, host: str, port: int) -> _Conn:
        loop = asyncio.get_running_loop()
        tls: ssl.SSLContext | None = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            tls = self._ssl
        last: OSError | None = None
        for family, address, to_port in await self._addresses(host, port):
            # Checked on the exact address the socket connects to (covers IP literals,
            # and stands behind the resolver), as node.http's socket factory does.
            if self._predicate is not None:
                try:
                    ip = ipaddress.ip_address(address)
                except ValueError:
                    ip = None
                if ip is None or not self._predicate(ip):
                    last = UnsafeAddressError(host, [address], _describe(ip, self._predicate))
                    continue
                # Connect to exactly the checked address, in canonical form (sock_connect
                # hands any other spelling to getaddrinfo, behind this check).
                address = str(ip)
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                await loop.sock_connect(sock, (address, to_port))
                _, conn = await loop.create_connection(
                    lambda: _Conn(loop, self.max_body),
                    sock=sock,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
            except OSError as exc:
                sock.close()
                last = exc
                continue
            except BaseException:
                sock.close()
                raise
            return conn
        if last is None:
            last = OSError(f"no address for {host}")
        raise last

    async def close(self) -> None:
        self._closed = True
        for pool in self._idle.values():
            for conn in pool:
                conn.close()
        self._idle.clear()
        self._idle_count = 0
        await asyncio.sleep(0)  # let the transports finish closing their sockets


def _split(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, authority, request-target) of an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError:  # "http://[::1/", a bad port...: an OSError like every other failure
        raise DeliveryHTTPError(f"bad URL {url[:200]!r}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DeliveryHTTPError(f"unsupported URL scheme in {url[:200]!r}")
    host = parts.hostname
    if not host:
        raise DeliveryHTTPError(f"no host in {url[:200]!r}")
    if explicit_port == 0:
        raise DeliveryHTTPError(f"bad port in {url[:200]!r}")
    port = explicit_port or (443 if scheme == "https" else 80)
    authority = parts.netloc.rpartition("@")[2]
    path = parts.path or "/"
    target = f"{path}?{parts.query}" if parts.query or url.endswith("?") else path
    if not target.isascii() or any(c <= " " or c == "\x7f" for c in target):
        target = quote(target, safe=_SAFE_TARGET)
    if not authority.isascii() or any(c <= " " or c in "/\\?#" for c in authority):
        raise DeliveryHTTPError(f"bad authority in {url[:200]!r}")
    return scheme, host, port, authority, target
