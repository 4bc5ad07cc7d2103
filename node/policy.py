"""Federation policy: who may talk to us (blocklist, allowlist mode)."""

from __future__ import annotations

import time
import weakref

from protocol.errors import RemoteProtocolError

from .config import Settings
from .storage import hosts as hosts_db
from .storage.db import Database

__all__ = ["Blocked", "check_host_allowed", "host_allowed"]


class Blocked(RemoteProtocolError):
    """The host is blocked, or not on the allowlist of a closed co-operative."""

    status_hint = 403


async def host_allowed(db: Database, settings: Settings, host: str) -> bool:
    if await hosts_db.is_blocked(db, host):
        return False
    return not settings.allowlist_mode or await hosts_db.is_allowed(db, host)


#: How long the inbox trusts its copy of the block and allow lists. Writes made by this
#: process apply at once; the CLI's (another process) within this many seconds.
POLICY_TTL = 1.0


class _PolicyCache:
    __slots__ = ("allowed", "blocked", "generation", "loaded_at")

    def __init__(self) -> None:
        self.blocked: frozenset[str] = frozenset()
        self.allowed: frozenset[str] = frozenset()
        self.generation = -1
        self.loaded_at = -POLICY_TTL


_caches: weakref.WeakKeyDictionary[Database, _PolicyCache] = weakref.WeakKeyDictionary()


async def _policy(db: Database) -> _PolicyCache:
    cache = _caches.get(db)
    if cache is None:
        cache = _caches[db] = _PolicyCache()
    now = time.monotonic()
    if cache.generation != hosts_db.policy_generation or now - cache.loaded_at > POLICY_TTL:
        generation = hosts_db.policy_generation
        cache.blocked, cache.allowed = await hosts_db.policy_sets(db)
        cache.generation, cache.loaded_at = generation, now
    return cache


async def check_host_allowed(db: Database, settings: Settings, *hosts: str) -> None:
    """Raise ``Blocked`` (403) unless every one of ``hosts`` may talk to this node.

    The inbox calls this for every request, so the lists are held in memory (see
    ``POLICY_TTL``) rather than read from the database each time.
    """
    cache = await _policy(db)
    for host in hosts:
        if host in cache.blocked:
            raise Blocked(f"host {host} is blocked")
        if settings.allowlist_mode and host not in cache.allowed:
            raise Blocked(f"host {host} is not on this closed co-operative's allowlist")
