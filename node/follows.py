"""Follows between actors: outgoing (follow, unfollow), incoming (Follow, Accept, Reject, Undo).

State rules, as data (STYLE pattern 8): an incoming ``Follow`` starts ``accepted``
unless the followed actor approves manually (then ``pending``); an approval or
a rejection moves ``pending`` on; ``Undo`` removes the row. An outgoing follow
starts ``pending`` and is moved by the peer's ``Accept`` or ``Reject``.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from protocol import validation, vocab, webfinger, wire
from protocol.errors import OwnershipError, RemoteProtocolError

from .clock import iso
from .federation import Federation
from .processor import Outcome
from .storage import actors as actors_db
from .storage import follows as follows_db
from .storage import inbox as inbox_db
from .storage import objects as objects_db
from .storage import remote as remote_db
from .storage.actors import LocalActor

__all__ = ["TRANSITIONS", "FollowService"]

log = logging.getLogger("kantine.follows")

#: (current state, event) -> next state; ``None`` deletes the relation.
TRANSITIONS: dict[tuple[str | None, str], str | None] = {
    (None, "follow_auto"): "accepted",
    (None, "follow_manual"): "pending",
    ("pending", "follow_auto"): "accepted",
    ("pending", "follow_manual"): "pending",
    ("accepted", "follow_auto"): "accepted",
    ("accepted", "follow_manual"): "accepted",
    ("rejected", "follow_auto"): "accepted",
    ("rejected", "follow_manual"): "pending",
    ("pending", "approve"): "accepted",
    ("pending", "reject"): "rejected",
    ("accepted", "reject"): "rejected",
    ("pending", "accept_received"): "accepted",
    ("accepted", "accept_received"): "accepted",
    ("pending", "reject_received"): "rejected",
    ("accepted", "reject_received"): "rejected",
    ("pending", "undo"): None,
    ("accepted", "undo"): None,
    ("rejected", "undo"): None,
}


class FollowService:
    """Everything about follows, for the processor, the CLI and the API."""

    def __init__(self, fed: Federation) -> None:
        self.fed = fed
        self.db = fed.db

    # -- resolving targets ----------------------------------------------------------

    async def resolve(self, target: str) -> remote_db.RemoteActor:
        """A handle (``name@host``) or an actor URL -> the remote actor, fetched and cached."""
        if target.startswith(("https://", "http://")):
            return await self.fed.remote_actor(target, refresh=True)
        user, host = webfinger.parse_acct(target)
        scheme = (
            "http"
            if self.fed.settings.dev and self.fed.settings.url.startswith("http:")
            else "https"
        )
        assert self.fed.fetcher is not None
        document = await self.fed.fetcher.fetch_webfinger(user, host, scheme=scheme)
        jrd = webfinger.parse_jrd(msgspec.json.encode(document))
        href = jrd.self_link()
        if href is None:
            raise RemoteProtocolError(f"{target} has no ActivityPub actor (no self link)")
        return await self.fed.remote_actor(href, refresh=True)

    # -- outgoing -------------------------------------------------------------------

    def _activity(self, actor: LocalActor, kind: str, obj: Any, to: list[str]) -> dict[str, Any]:
        return {
            "@context": vocab.CONTEXT,
            "id": self.fed.urls.new_activity(),
            "type": kind,
            "actor": self.fed.actor_id(actor),
            "object": obj,
            "to": to,
            "cc": [],
            "published": iso(self.fed.clock()).replace(".000000Z", "Z"),
        }

    async def follow(self, local: LocalActor, remote: remote_db.RemoteActor) -> str:
        activity = self._activity(local, "Follow", remote.id, [remote.id])
        now = iso(self.fed.clock())
        await self.db.write(
            lambda c: follows_db.upsert(
                c, local.username, remote.id, "out", "pending", activity["id"], now
            )
        )
        await self.fed.publish(
            local, activity, to_followers=False, targets=[(remote.inbox, remote.host)], public=False
        )
        return activity["id"]

    async def unfollow(self, local: LocalActor, remote: remote_db.RemoteActor) -> str | None:
        existing = await follows_db.get(self.db, local.username, remote.id, "out")
        if existing is None:
            return None
        follow = {
            "id": existing.activity_id,
            "type": "Follow",
            "actor": self.fed.actor_id(local),
            "object": remote.id,
        }
        activity = self._activity(local, "Undo", follow, [remote.id])
        await self.db.write(lambda c: follows_db.delete(c, local.username, remote.id, "out"))
        await self.fed.publish(
            local, activity, to_followers=False, targets=[(remote.inbox, remote.host)], public=False
        )
        return activity["id"]

    async def answer(self, local: LocalActor, remote_id: str, approve: bool) -> str:
        """Approve or reject a pending incoming follow (manual approval)."""
        existing = await follows_db.get(self.db, local.username, remote_id, "in")
        if existing is None:
            raise LookupError(f"no follow request from {remote_id}")
        event = "approve" if approve else "reject"
        nxt = TRANSITIONS.get((existing.state, event))
        if nxt is None:
            raise LookupError(f"the follow from {remote_id} is {existing.state}; cannot {event}")
        now = iso(self.fed.clock())
        await self.db.write(
            lambda c: follows_db.set_state(c, local.username, remote_id, "in", nxt, now)
        )
        remote = await self.fed.remote_actor(remote_id)
        return await self._reply(
            local, remote, existing.activity_id, "Accept" if approve else "Reject"
        )

    async def _reply(
        self, local: LocalActor, remote: remote_db.RemoteActor, follow_id: str, kind: str
    ) -> str:
        follow = {
            "id": follow_id,
            "type": "Follow",
            "actor": remote.id,
            "object": self.fed.actor_id(local),
        }
        activity = self._activity(local, kind, follow, [remote.id])
        await self.fed.publish(
            local, activity, to_followers=False, targets=[(remote.inbox, remote.host)], public=False
        )
        return activity["id"]

    # -- incoming -------------------------------------------------------------------

    async def on_follow(self, item: inbox_db.InboxItem, doc: dict[str, Any]) -> Outcome:
        target = wire.first_id(doc.get("object"))
        local = await self.fed.local_by_iri(target) if target else None
        if local is None:
            return Outcome.discard(f"Follow of {target}, which is not a local actor")
        remote = await self.fed.remote_actor(item.actor)
        settings = self.fed.settings
        # DESIGN (Follow): networks auto-accept networks unless in manual-approval or
        # allowlist mode; in a closed co-operative every membership is decided by an admin.
        manual = local.manually_approves or (
            local.kind == "network" and (settings.manual_approval or settings.allowlist_mode)
        )
        existing = await follows_db.get(self.db, local.username, remote.id, "in")
        event = "follow_manual" if manual else "follow_auto"
        nxt = TRANSITIONS[(existing.state if existing else None, event)]
        assert nxt is not None
        now = iso(self.fed.clock())
        await self.db.write(
            lambda c: follows_db.upsert(
                c, local.username, remote.id, "in", nxt, item.activity_id, now
            )
        )
        if nxt == "accepted":
            await self._reply(local, remote, item.activity_id, "Accept")
            return Outcome.done(f"{remote.id} now follows {local.username}")
        log.info("follow request from %s to %s awaits approval", remote.id, local.username)
        return Outcome.done("awaiting approval")

    async def _outgoing_for(
        self, item: inbox_db.InboxItem, doc: dict[str, Any]
    ) -> follows_db.Follow | None:
        obj = doc.get("object")
        follow_id = wire.first_id(obj)
        found = await follows_db.get_by_activity(self.db, follow_id) if follow_id else None
        embedded_follow = isinstance(obj, dict) and wire.type_names(obj.get("type")) in (
            (),
            ("Follow",),
        )
        if found is None and isinstance(obj, dict) and embedded_follow:
            # Some servers embed a Follow with their own id; match on (local actor, remote).
            # (An answer to a Join or an Offer is not about a follow: it is left to the content.)
            local = await self.fed.local_by_iri(wire.first_id(obj.get("actor")) or "")
            if local is not None:
                found = await follows_db.get(self.db, local.username, item.actor, "out")
        if found is None or found.direction != "out":
            return None
        if found.remote != item.actor:
            raise OwnershipError(f"{item.actor} answered a follow addressed to {found.remote}")
        return found

    async def on_accept(self, item: inbox_db.InboxItem, doc: dict[str, Any]) -> Outcome:
        return await self._answered(item, doc, "accept_received")

    async def on_reject(self, item: inbox_db.InboxItem, doc: dict[str, Any]) -> Outcome:
        return await self._answered(item, doc, "reject_received")

    async def _answered(self, item: inbox_db.InboxItem, doc: dict[str, Any], event: str) -> Outcome:
        found = await self._outgoing_for(item, doc)
        if found is None:
            return Outcome.discard("answer to no follow of ours")
        nxt = TRANSITIONS.get((found.state, event))
        if nxt is None:
            return Outcome.discard(f"follow is {found.state}")
        now = iso(self.fed.clock())
        await self.db.write(
            lambda c: follows_db.set_state(c, found.local, found.remote, "out", nxt, now)
        )
        return Outcome.done(f"follow of {found.remote} is {nxt}")

    async def on_undo(self, item: inbox_db.InboxItem, doc: dict[str, Any]) -> Outcome:
        obj = doc.get("object")
        inner_id = wire.first_id(obj)
        existing = await follows_db.get_by_activity(self.db, inner_id) if inner_id else None
        if (
            existing is None
            and isinstance(obj, dict)
            and "Follow" in wire.type_names(obj.get("type"))
        ):
            local = await self.fed.local_by_iri(wire.first_id(obj.get("object")) or "")
            if local is not None:
                existing = await follows_db.get(self.db, local.username, item.actor, "in")
        if existing is None or existing.direction != "in":
            return Outcome.discard("Undo of nothing we know")
        if existing.remote != item.actor:
            raise OwnershipError(f"{item.actor} cannot undo a follow by {existing.remote}")
        await self.db.write(lambda c: follows_db.delete(c, existing.local, existing.remote, "in"))
        return Outcome.done(f"{item.actor} unfollowed {existing.local}")

    async def on_actor_deleted(self, item: inbox_db.InboxItem, doc: dict[str, Any]) -> Outcome:
        target = wire.first_id(doc.get("object"))
        if target != item.actor:
            return Outcome.discard("Delete of an object we do not keep")
        now = iso(self.fed.clock())

        def forget(conn):  # type: ignore[no-untyped-def]
            follows_db.delete_remote(conn, item.actor)
            remote_db.delete_actor(conn, item.actor)
            objects_db.delete_by_author(conn, item.actor, now)

        await self.db.write(forget)
        return Outcome.done(f"forgot deleted actor {item.actor} and what it authored")

    async def on_actor_updated(self, item: inbox_db.InboxItem, doc: dict[str, Any]) -> Outcome:
        obj = doc.get("object")
        if wire.first_id(obj) != item.actor or not isinstance(obj, dict):
            return Outcome.discard("Update of an object we do not keep")
        if not validation.same_origin(item.actor, wire.first_id(obj) or ""):
            return Outcome.discard("Update of an actor on another origin")
        await self.fed.remote_actor(item.actor, refresh=True)
        return Outcome.done("actor refreshed")

    async def local_actor(self, username: str) -> LocalActor:
        found = await actors_db.get_local(self.db, username)
        if found is None:
            raise LookupError(f"no local actor {username!r}")
        return found
