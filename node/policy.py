"""Federation policy: who may talk to us (blocklist, allowlist mode, actor blocks), and bounds.

Decisions are logged on ``kantine.policy``. The checks here are used by the inbox
(before anything is stored), by publishing and the delivery worker (nothing goes
to a blocked or, in allowlist mode, unlisted host), by the fetcher (nothing is
fetched from such a host, and one incoming activity may cause at most
``max_fetches_per_activity`` fetches) and by authorized fetch (node/guards.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import weakref
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from protocol.errors import PayloadTooLarge, RemoteProtocolError

from .config import Settings
from .fetcher import FetchError
from .storage import hosts as hosts_db
from .storage import moderation as moderation_db
from .storage.db import Database

__all__ = [
    "Blocked",
    "FetchBudget",
    "FetchGuard",
    "check_actor_allowed",
    "check_host_allowed",
    "check_strings",
    "fetch_budget",
    "host_allowed",
    "longest_string",
    "refusal",
]

log = logging.getLogger("kantine.policy")


class Blocked(RemoteProtocolError):
    """The host is blocked, or not on the allowlist of a closed co-operative."""

    status_hint = 403


#: How long the inbox trusts its copy of the block and allow lists. Writes made by this
#: process apply at once; the CLI's (another process) within this many seconds.
POLICY_TTL = 1.0


class _PolicyCache:
    __slots__ = ("actors", "allowed", "blocked", "generation", "loaded_at", "loading")

    def __init__(self) -> None:
        self.blocked: frozenset[str] = frozenset()
        self.allowed: frozenset[str] = frozenset()
        self.actors: frozenset[str] = frozenset()  # remote actors blocked node-wide
        self.generation: tuple[int, int] = (-1, -1)
        self.loaded_at = -POLICY_TTL
        #: The reload under way (one at a time: every request that needs it waits for it).
        self.loading: asyncio.Future[None] | None = None


_caches: weakref.WeakKeyDictionary[Database, _PolicyCache] = weakref.WeakKeyDictionary()


async def _policy(db: Database) -> _PolicyCache:
    """The lists, never older than ``POLICY_TTL`` nor than this process's last change.

    The inbox asks on every request. The lists are reloaded in the background once half
    of ``POLICY_TTL`` has passed, while requests go on using the copy in hand; a request
    waits only when the copy is too old (or stale after a change made here), and then
    for the one reload under way rather than starting its own (reads queue behind the
    processor's on the shared readers, and a burst of requests would each reload).
    """
    cache = _caches.get(db)
    if cache is None:
        cache = _caches[db] = _PolicyCache()
    while True:
        generation = (hosts_db.policy_generation, moderation_db.generation)
        age = time.monotonic() - cache.loaded_at
        if cache.generation == generation and age <= POLICY_TTL:
            if age > POLICY_TTL / 2 and cache.loading is None:
                _start_reload(db, cache)
            return cache
        loading = cache.loading
        if loading is None or loading.done():
            loading = _start_reload(db, cache)
        await asyncio.shield(loading)


def _start_reload(db: Database, cache: _PolicyCache) -> asyncio.Future[None]:
    loading = asyncio.ensure_future(_reload(db, cache))
    cache.loading = loading

    def done(fut: asyncio.Future[None]) -> None:
        if cache.loading is fut:
            cache.loading = None
        if not fut.cancelled():
            fut.exception()  # retrieved here; the waiters see it too

    loading.add_done_callback(done)
    return loading


async def _reload(db: Database, cache: _PolicyCache) -> None:
    # Generation and time are taken before the reads: a change made while they run
    # leaves the copy stale, and the next request reloads again.
    generation = (hosts_db.policy_generation, moderation_db.generation)
    started = time.monotonic()
    blocked, allowed = await hosts_db.policy_sets(db)
    actors = await moderation_db.blocked_actors(db)
    cache.blocked, cache.allowed, cache.actors = blocked, allowed, actors
    cache.generation, cache.loaded_at = generation, started


def _refusal(cache: _PolicyCache, settings: Settings, host: str) -> str | None:
    if host == settings.host:  # the node itself is never refused
        return None
    if host in cache.blocked:
        return f"host {host} is blocked"
    if settings.allowlist_mode and host not in cache.allowed:
        return f"host {host} is not on this closed co-operative's allowlist"
    return None


async def host_allowed(db: Database, settings: Settings, host: str) -> bool:
    """Whether ``host`` may talk to us and be talked to (not blocked; listed in allowlist mode)."""
    return _refusal(await _policy(db), settings, host) is None


async def check_host_allowed(db: Database, settings: Settings, *hosts: str) -> None:
    """Raise ``Blocked`` (403) unless every one of ``hosts`` may talk to this node.

    The inbox calls this for every request, so the lists are held in memory (see
    ``POLICY_TTL``) rather than read from the database each time.
    """
    cache = await _policy(db)
    for host in hosts:
        reason = _refusal(cache, settings, host)
        if reason is not None:
            log.info("refused: %s", reason)
            raise Blocked(reason)


async def check_actor_allowed(db: Database, settings: Settings, *actors: str) -> None:
    """Raise ``Blocked`` (403) if any of ``actors`` is blocked, or its host is refused."""
    cache = await _policy(db)
    for actor in actors:
        if actor in cache.actors:
            log.info("refused: actor %s is blocked", actor)
            raise Blocked(f"actor {actor} is blocked")
        reason = _refusal(cache, settings, _host(actor))
        if reason is not None:
            log.info("refused: %s", reason)
            raise Blocked(reason)


async def refusal(db: Database, settings: Settings, actor: str) -> str | None:
    """Why ``actor`` (or its host) is refused now, or None; for work stored before a block."""
    cache = await _policy(db)
    if actor in cache.actors:
        return f"actor {actor} is blocked"
    return _refusal(cache, settings, _host(actor))


@lru_cache(maxsize=4096)  # the same few actors on every request
def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


# -- fetches ------------------------------------------------------------------------


class FetchBudget:
    """How many more remote fetches the work in hand (one incoming activity) may cause."""

    __slots__ = ("left", "limit", "spent")

    def __init__(self, limit: int) -> None:
        self.limit, self.left, self.spent = limit, limit, 0

    def spend(self, url: str) -> None:
        if self.left <= 0:
            raise FetchError(
                f"fetch budget exhausted: one activity may cause at most {self.limit} fetches",
                url=url,
            )
        self.left -= 1
        self.spent += 1


_budget: contextvars.ContextVar[FetchBudget | None] = contextvars.ContextVar(
    "kantine_fetch_budget", default=None
)


class fetch_budget:  # a function to its callers: ``with fetch_budget(5) as budget:``
    """Bound the fetches made inside this block (and tasks it starts) to ``limit``.

    A plain context manager (the inbox enters one per request), not a generator.
    """

    __slots__ = ("budget", "token")

    def __init__(self, limit: int) -> None:
        self.budget = FetchBudget(limit)

    def __enter__(self) -> FetchBudget:
        self.token = _budget.set(self.budget)
        return self.budget

    def __exit__(self, *exc_info: object) -> None:
        _budget.reset(self.token)


class FetchGuard:
    """The fetcher's check before every GET (and every redirect hop): policy, then budget.

    A blocked host, or an unlisted one in allowlist mode, is never fetched from; the
    fetch budget of the activity being handled (if any) pays one fetch.
    """

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings

    async def __call__(self, url: str, *, redirect: bool = False) -> None:
        host = _host(url)
        reason = _refusal(await _policy(self.db), self.settings, host)
        if reason is not None:
            log.info("fetch of %s refused: %s", url, reason)
            raise FetchError(f"refused by policy: {reason}", url=url)
        budget = _budget.get()
        if budget is not None and not redirect:  # a redirect is part of the fetch it ends
            try:
                budget.spend(url)
            except FetchError:
                log.info("fetch of %s refused: budget of %d fetches spent", url, budget.limit)
                raise


# -- document bounds -------------------------------------------------------------------


def longest_string(value: Any) -> int:
    """The length of the longest string (value or object key) in a decoded JSON document."""
    longest = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            longest = max(longest, len(item))
        elif isinstance(item, dict):
            for key, inner in item.items():
                longest = max(longest, len(key))
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    return longest


def check_strings(document: Any, limit: int) -> None:
    """Raise ``PayloadTooLarge`` (413) if any string in ``document`` is over ``limit`` characters."""
    if longest_string(document) > limit:
        raise PayloadTooLarge(f"a string in the document is longer than {limit} characters")
