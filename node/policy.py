"""Federation policy: who may talk to us (blocklist, allowlist mode)."""

from __future__ import annotations

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


async def check_host_allowed(db: Database, settings: Settings, host: str) -> None:
    """Raise ``Blocked`` (403) unless ``host`` may talk to this node."""
    if await hosts_db.is_blocked(db, host):
        raise Blocked(f"host {host} is blocked")
    if settings.allowlist_mode and not await hosts_db.is_allowed(db, host):
        raise Blocked(f"host {host} is not on this closed co-operative's allowlist")
