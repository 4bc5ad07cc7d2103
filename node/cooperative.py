"""The co-operative: which hosts may see ``cooperative`` content, and where it is delivered.

A host is in the co-operative when its network actor has an accepted follow with
ours, in either direction (network to network; a person's follow does not count).
So manual approval of network follows decides who is in.
"""

from __future__ import annotations

from typing import Any

from .storage import follows as follows_db
from .storage.db import Database

__all__ = ["Cooperative"]


#: network -> (the partner rows a snapshot gave, their hosts): asked for every activity.
_HOSTS: dict[str, tuple[list[Any], frozenset[str]]] = {}


class Cooperative:
    """Answers co-operative questions for one node (its network actor is ``network``)."""

    def __init__(self, db: Database, network: str) -> None:
        self.db, self.network = db, network

    async def partners(self) -> list[tuple[str, str, str]]:
        """``(actor id, host, best inbox)`` of each partner network."""
        rows = await follows_db.partner_networks(self.db, self.network)
        return [(r["id"], r["host"], r["shared_inbox"] or r["inbox"]) for r in rows]

    async def hosts(self) -> frozenset[str]:
        rows = await follows_db.partner_networks(self.db, self.network)
        last = _HOSTS.get(self.network)
        if last is not None and last[0] is rows:  # the same snapshot as last time
            return last[1]
        hosts = frozenset(r["host"] for r in rows)
        _HOSTS[self.network] = (rows, hosts)
        return hosts

    async def includes(self, host: str) -> bool:
        return host in await self.hosts()

    async def targets(self) -> list[tuple[str, str]]:
        """Delivery targets for cooperative content: each partner network's (shared) inbox."""
        return [(inbox, host) for _, host, inbox in await self.partners()]
