"""Signed, bounded GETs of remote JSON documents: actors, objects, keys and WebFinger.

Limits (see DESIGN.md, Fetching): one deadline of ``timeout`` seconds covers
the whole fetch (every hop, headers and body); at most ``max_bytes`` of body
are read, counted while streaming, whatever ``Content-Length`` says; at most
``max_redirects`` redirects, followed by hand so each hop is signed again and
resolved again (the session's connector refuses private addresses, see
:mod:`node.http`); only ``http``/``https`` targets and no https -> http
downgrade; the answer must be 2xx with a JSON media type.

Every failure is a :class:`FetchError`, a
:class:`~protocol.errors.RemoteProtocolError` with ``status_hint`` 502 (Bad
Gateway: the peer, or the way to it, failed us) and ``status`` set to the
peer's HTTP status when there was one (404 and 410 callers may treat as gone).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec
from yarl import URL

from node.http import unsafe_address_cause
from protocol import vocab
from protocol.errors import RemoteProtocolError

__all__ = [
    "DEFAULT_ACCEPT",
    "JSON_CONTENT_TYPES",
    "FetchError",
    "FetchResult",
    "Fetcher",
    "GuardFunc",
    "SignFunc",
]

DEFAULT_ACCEPT = f"{vocab.ACTIVITY_JSON}, {vocab.LD_JSON}"
#: Media types (parameters ignored) a fetched document may have.
JSON_CONTENT_TYPES = frozenset(
    {"application/activity+json", "application/ld+json", "application/json", vocab.JRD_JSON}
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")
_ACCT_USER = re.compile(r"[^\s/?#@%]+")

#: ``sign(method, url, headers) -> headers to add`` (Date, Host, Signature...).
SignFunc = Callable[[str, str, Mapping[str, str]], Mapping[str, str]]
#: ``await guard(url, redirect=...)`` before each request; raises ``FetchError`` to refuse it
#: (the node's policy: blocked hosts, allowlist mode, the per-activity fetch budget).
GuardFunc = Callable[..., Awaitable[None]]


class FetchError(RemoteProtocolError):
    """A remote document could not be fetched; ``status`` is the peer's HTTP status, if any."""

    status_hint = 502

    def __init__(self, reason: str, status: int | None = None, *, url: str | None = None) -> None:
        super().__init__(f"{reason} ({url})" if url else reason)
        self.reason = reason
        self.status = status
        self.url = url


@dataclass(frozen=True)
class FetchResult:
    """A fetched document: the final URL after redirects, status, raw body, media type."""

    url: str
    status: int
    body: bytes
    content_type: str


def _brief(exc: BaseException, limit: int = 200) -> str:
    """An exception's message, shortened: aiohttp quotes peer bytes in some of them."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def _check_target(url: URL) -> URL:
    if url.scheme not in ("http", "https") or not url.host:
        raise FetchError("only absolute http(s) URLs are fetched", url=str(url))
    if url.user is not None or url.password is not None:
        raise FetchError("credentials in URL", url=str(url))
    return url.with_fragment(None)


def _redirect_target(current: URL, location: str | None, status: int) -> URL:
    if not location:
        raise FetchError("redirect without Location", status, url=str(current))
    try:
        target = current.join(URL(location))
    except (ValueError, TypeError) as exc:
        raise FetchError("malformed redirect Location", status, url=str(current)) from exc
    if current.scheme == "https" and target.scheme == "http":
        raise FetchError(f"redirect downgrades https to {target}", status, url=str(current))
    return _check_target(target)


class Fetcher:
    """Fetches remote JSON through the node's (SSRF-safe) client session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        sign: SignFunc | None = None,
        timeout: float = 10.0,
        max_bytes: int = 1 << 20,
        max_redirects: int = 3,
        user_agent: str = "Kantine/0.1",
        guard: GuardFunc | None = None,
    ) -> None:
        self._session = session
        self._guard = guard
        self._sign = sign
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._user_agent = user_agent

    async def fetch_json(self, url: str, *, accept: str = DEFAULT_ACCEPT) -> FetchResult:
        """GET ``url`` (signed), following redirects; raise :class:`FetchError` on any failure."""
        try:
            target = _check_target(URL(url))
        except (ValueError, TypeError) as exc:
            raise FetchError("malformed URL", url=url) from exc
        if self._guard is not None:
            await self._guard(str(target), redirect=False)
        try:
            async with asyncio.timeout(self._timeout):
                return await self._follow(target, accept)
        except TimeoutError as exc:
            raise FetchError(f"timed out after {self._timeout:g} s", url=url) from exc

    async def fetch_webfinger(
        self, acct_user: str, host: str, *, scheme: str = "https"
    ) -> dict[str, Any]:
        """GET ``{scheme}://{host}/.well-known/webfinger?resource=acct:{user}@{host}``; the JRD as a dict."""
        if scheme not in ("http", "https"):
            raise FetchError(f"unsupported scheme {scheme!r}")
        if not _HOST.fullmatch(host):
            raise FetchError(f"invalid host {host!r}")
        if not _ACCT_USER.fullmatch(acct_user):
            raise FetchError(f"invalid account name {acct_user!r}")
        url = URL(f"{scheme}://{host}/.well-known/webfinger").with_query(
            resource=f"acct:{acct_user}@{host}"
        )
        result = await self.fetch_json(str(url), accept=vocab.JRD_JSON)
        try:
            document = msgspec.json.decode(result.body)
        except msgspec.DecodeError as exc:
            raise FetchError(f"malformed JSON: {exc}", result.status, url=result.url) from exc
        if not isinstance(document, dict):
            raise FetchError("WebFinger answer is not a JSON object", result.status, url=result.url)
        return document

    def _headers(self, url: URL, accept: str) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": self._user_agent}
        if self._sign is not None:
            headers.update(self._sign("GET", str(url), dict(headers)))
        return headers

    async def _follow(self, url: URL, accept: str) -> FetchResult:
        for _ in range(self._max_redirects + 1):
            try:
                async with self._session.get(
                    url,
                    headers=self._headers(url, accept),
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=self._timeout),
                ) as response:
                    if response.status in _REDIRECTS:
                        url = _redirect_target(
                            url, response.headers.get("Location"), response.status
                        )
                        if self._guard is not None:
                            await self._guard(str(url), redirect=True)
                        continue
                    return await self._accept(url, response)
            except TimeoutError:
                raise
            except aiohttp.ClientError as exc:
                unsafe = unsafe_address_cause(exc)
                if unsafe is not None:
                    raise FetchError(f"refused: {unsafe}", url=str(url)) from exc
                raise FetchError(f"request failed: {_brief(exc)}", url=str(url)) from exc
        raise FetchError(f"more than {self._max_redirects} redirects", url=str(url))

    async def _accept(self, url: URL, response: aiohttp.ClientResponse) -> FetchResult:
        try:
            return await self._read(url, response)
        except FetchError:
            response.close()  # never drain what we refused; drop the connection
            raise

    async def _read(self, url: URL, response: aiohttp.ClientResponse) -> FetchResult:
        status = response.status
        if not 200 <= status <= 299:
            raise FetchError(f"HTTP {status}", status, url=str(url))
        content_type = response.content_type
        if content_type not in JSON_CONTENT_TYPES:
            raise FetchError(f"unexpected content type {content_type!r}", status, url=str(url))
        declared = response.content_length
        if declared is not None and declared > self._max_bytes:
            raise FetchError(
                f"body of {declared} bytes exceeds {self._max_bytes}", status, url=str(url)
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > self._max_bytes:
                raise FetchError(f"body exceeds {self._max_bytes} bytes", status, url=str(url))
            chunks.append(chunk)
        return FetchResult(str(url), status, b"".join(chunks), content_type)
