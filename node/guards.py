"""Request guards: per-request time limit, rate limits (429 + Retry-After), authorized fetch.

``Guards`` is one middleware that applies, in this order:

- the time limit: a request (its body read included) that takes longer than
  ``limits.request_timeout`` is answered ``408`` — slow clients cannot hold a handler.
  One watchdog per app checks the requests in flight a few times per limit, rather
  than a timer per request, so the answer comes within ``request_timeout`` plus a
  tenth of it (at most one second);
- rate limits: the JSON API (``/api/``) and sign-in paths per client
  address; the inbox applies its own limits (per client address before the body is
  read, per signer's host once the signature header is parsed) through ``Limiters``;
- authorized fetch: with ``authorized_fetch`` on, every GET of an
  actor, object or collection must carry a valid HTTP signature by an actor that is
  not blocked and whose host is not refused; the instance actor (``/actor``, whose
  key is in the same document), WebFinger and the rest of ``/.well-known/``,
  NodeInfo, ``/healthz`` and ``/metrics`` stay open, so two such nodes can still meet.
  Web pages (a GET asking for HTML) are not ActivityStreams documents and are left to
  the pages, which show non-public content to signed-in members only.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from protocol import httpsig
from protocol.errors import SignatureError

from .api.auth import optional_member
from .appkeys import DB, FEDERATION, LIMITERS, SETTINGS
from .config import Settings
from .middlewares import json_error
from .policy import check_actor_allowed, fetch_budget
from .ratelimit import RateLimited, RateLimiter, retry_after_header

__all__ = [
    "EXEMPT_PATHS",
    "EXEMPT_PREFIXES",
    "SIGNIN_PATHS",
    "Guards",
    "Limiters",
    "client_address",
    "rate_limited_response",
]

log = logging.getLogger("kantine.policy")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Paths authorized fetch leaves open (exactly these) ...
EXEMPT_PATHS = frozenset({"/actor", "/healthz", "/metrics", "/"})
#: ... and everything under these (the API has its own bearer tokens).
EXEMPT_PREFIXES = ("/.well-known/", "/nodeinfo/", "/api/", "/static/", "/feeds/")
#: Where people sign in (POSTs to these count against the sign-in limit).
SIGNIN_PATHS = ("/signin", "/login", "/api/v1/login")
_AS_TYPES = ("application/activity+json", "application/ld+json", "application/json")


class Limiters:
    """The node's rate limiters, one per limit in ``[limits]``; the clock is injectable."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        limits = settings.limits
        size = limits.rate_limit_keys
        self.clock = clock
        self.by_scope = {
            "inbox host": RateLimiter(limits.inbox_per_host_per_minute, max_keys=size),
            "inbox address": RateLimiter(limits.inbox_per_ip_per_minute, max_keys=size),
            "api": RateLimiter(limits.api_per_ip_per_minute, max_keys=size),
            "sign-in": RateLimiter(limits.signin_per_ip_per_minute, max_keys=size),
        }

    def check(self, scope: str, key: str) -> None:
        """Spend one token of ``key`` under ``scope``; raise ``RateLimited`` (429) if none is left."""
        wait = self.by_scope[scope].take(key, now=self.clock())
        if wait is not None:
            raise RateLimited(scope, key, wait)


def client_address(request: web.Request) -> str:
    """The client's address: the peer's, or (``behind_proxy``) the one our proxy appended."""
    if request.app[SETTINGS].behind_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return request.remote or "unknown"


def rate_limited_response(exc: RateLimited) -> web.Response:
    response = json_error(429, exc.reason)
    response.headers["Retry-After"] = retry_after_header(exc.retry_after)
    return response


class Guards:
    """The request guards as one middleware: time limit, then rate limits, then authorized fetch."""

    __middleware_version__ = 1  # aiohttp: a new-style middleware, ``(request, handler)``
    __slots__ = ("_deadlines", "_expired", "_watch", "_watch_loop")

    def __init__(self) -> None:
        #: The requests in flight: their task -> (deadline on the loop's clock, the limit).
        self._deadlines: dict[asyncio.Task[Any], tuple[float, float]] = {}
        #: Tasks the watchdog cancelled for running over, until their handler unwinds.
        self._expired: set[asyncio.Task[Any]] = set()
        self._watch: asyncio.TimerHandle | None = None
        self._watch_loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        settings = request.app[SETTINGS]
        seconds = settings.limits.request_timeout
        task = asyncio.current_task()
        assert task is not None
        loop = task.get_loop()
        self._deadlines[task] = (loop.time() + seconds, seconds)
        if self._watch is None or self._watch_loop is not loop:
            self._watch = loop.call_later(_watch_interval(seconds), self._check, loop)
            self._watch_loop = loop
        cancelling = task.cancelling()
        try:
            response = _rate_limit(request)
            if response is not None:
                return response
            if (
                not settings.authorized_fetch
                or request.method not in ("GET", "HEAD")
                or _exempt(request.path)
            ):
                return await handler(request)
            return await _authorized_fetch(request, handler, settings)
        except asyncio.CancelledError:
            if task not in self._expired:
                raise
            self._expired.discard(task)
            # Ours, unless another cancellation is pending too (how ``asyncio.timeout``
            # tells its own apart).
            if task.uncancel() > cancelling:
                raise
            log.info(
                "%s %s from %s took over %g s: 408",
                request.method,
                request.path,
                request.remote,
                seconds,
            )
            return json_error(408, f"request took longer than {seconds:g} s")
        finally:
            del self._deadlines[task]
            if task in self._expired:  # cancelled, but the handler finished anyway
                self._expired.discard(task)
                task.uncancel()

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        """The watchdog: cancel the requests past their deadline; run again while any is in flight."""
        self._watch = None
        if not self._deadlines:
            return
        now = loop.time()
        shortest = math.inf
        for task, (deadline, seconds) in self._deadlines.items():
            shortest = min(shortest, seconds)
            if deadline <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        self._watch = loop.call_later(_watch_interval(shortest), self._check, loop)


def _watch_interval(seconds: float) -> float:
    """How often the watchdog looks: a tenth of the limit, between 10 ms and 1 s."""
    return max(0.01, min(1.0, seconds / 10))


def _rate_limit(request: web.Request) -> web.Response | None:
    """429 for the JSON API and sign-in paths over their limit per client address, else None."""
    path = request.path
    scope = None
    if path.startswith(SIGNIN_PATHS) and request.method == "POST":
        scope = "sign-in"
    elif path.startswith("/api/"):
        scope = "api"
    if scope is None:
        return None
    address = client_address(request)
    try:
        request.app[LIMITERS].check(scope, address)
    except RateLimited as exc:
        log.info("%s %s from %s: 429 (%s)", request.method, path, address, scope)
        return rate_limited_response(exc)
    return None


def _exempt(path: str) -> bool:
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)


def _wants_page(accept: str) -> bool:
    """A browser's GET (HTML asked for, no ActivityStreams type named): the web page answers,
    and applies visibility itself; authorized fetch covers the ActivityStreams documents."""
    accept = accept.lower()
    return "text/html" in accept and not any(t in accept for t in _AS_TYPES)


async def _authorized_fetch(
    request: web.Request, handler: Handler, settings: Settings
) -> web.StreamResponse:
    """A GET of an actor, object or collection while ``authorized_fetch`` is on."""
    if _wants_page(request.headers.get("Accept", "")):
        response = await handler(request)
        if response.content_type not in _AS_TYPES:
            return response
        # No page here, so the ActivityStreams document would go out: not unsigned.
    if "Authorization" in request.headers and await optional_member(request) is not None:
        return await handler(request)  # a local member with a valid bearer token
    if "Signature" not in request.headers and "Signature-Input" not in request.headers:
        raise SignatureError("authorized fetch is on: sign the GET")
    fed, db = request.app[FEDERATION], request.app[DB]
    url = settings.base + request.path_qs
    signed = httpsig.parse_signature(request.method, url, request.headers, None)
    # A blocked signer is refused before its key is looked up (or fetched).
    await check_actor_allowed(db, settings, signed.key_id.split("#", 1)[0])
    with fetch_budget(settings.limits.max_fetches_per_activity):
        _, owner = await fed.verify_request(
            request.method, url, request.headers, None, signed=signed
        )
    await check_actor_allowed(db, settings, owner)
    return await handler(request)
