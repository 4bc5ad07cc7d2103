"""Our members' RSVPs to other nodes' meetups: ``Join``/``Leave`` out, the answers in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from protocol import models, validation, vocab, wire
from protocol.errors import RemoteProtocolError

from ..clock import iso
from ..processor import Outcome
from ..storage import events as events_db
from ..storage import objects as objects_db
from ..storage.actors import LocalActor
from ..storage.events import ACTIVE
from ..storage.inbox import InboxItem
from ..storage.remote import RemoteActor

if TYPE_CHECKING:
    from .events import Service

__all__ = ["OutgoingRsvps"]


class OutgoingRsvps:
    """Sends members' Joins and Leaves to the actor an event is attributed to; records answers."""

    def __init__(self, events: Service) -> None:
        self.rt = events.rt
        self.db = events.db
        self.fed = events.fed
        self.urls = events.urls

    async def join(self, member: LocalActor, event_iri: str) -> str:
        member_iri = self.fed.actor_id(member)
        existing = await events_db.participant(self.db, event_iri, member_iri)
        if existing is not None and existing.state in ("accepted", "waitlist"):
            return existing.state
        organiser = await self._organiser_of(event_iri)
        join = self._activity(member, "Join", event_iri, organiser.id)
        now = iso(self.rt.clock())
        await self.db.write(
            lambda c: events_db.upsert_participant(
                c, event_iri, member_iri, "pending", join["id"], now
            )
        )
        await self._send(member, join, organiser)
        return "pending"

    async def leave(self, member: LocalActor, event_iri: str) -> str | None:
        member_iri = self.fed.actor_id(member)
        existing = await events_db.participant(self.db, event_iri, member_iri)
        if existing is None or existing.state not in ACTIVE:
            return None
        organiser = await self._organiser_of(event_iri)
        leave = self._activity(member, "Leave", event_iri, organiser.id)
        now = iso(self.rt.clock())
        await self.db.write(lambda c: events_db.set_state(c, event_iri, member_iri, "left", now))
        await self._send(member, leave, organiser)
        return existing.state

    async def _send(self, member: LocalActor, activity: dict[str, Any], to: RemoteActor) -> None:
        await self.fed.publish(
            member, activity, to_followers=False, targets=[(to.inbox, to.host)], public=False
        )

    def _activity(
        self, member: LocalActor, kind: str, event_iri: str, organiser: str
    ) -> dict[str, Any]:
        cls = models.Join if kind == "Join" else models.Leave
        return models.to_dict(
            cls(
                context=vocab.CONTEXT,
                id=self.urls.new_activity(),
                actor=self.fed.actor_id(member),
                object=event_iri,
                to=[organiser],
                cc=[],
                published=self.rt.clock().replace(microsecond=0),
            )
        )

    async def _organiser_of(self, event_iri: str) -> RemoteActor:
        """The remote actor an event is attributed to (its inbox takes the RSVPs)."""
        stored = await objects_db.get(self.db, event_iri)
        if stored is not None and not stored.local:
            doc = stored.document
        else:
            assert self.fed.fetcher is not None
            result = await self.fed.fetcher.fetch_json(event_iri)
            doc = msgspec.json.decode(result.body)
        if not isinstance(doc, dict) or doc.get("id") != event_iri:
            raise RemoteProtocolError(f"{event_iri} did not give the event")
        if "Event" not in wire.type_names(doc.get("type")):
            raise RemoteProtocolError(f"{event_iri} is not an Event")
        organiser = wire.first_id(doc.get("attributedTo"))
        if organiser is None or not validation.same_origin(organiser, event_iri):
            raise RemoteProtocolError(f"{event_iri} is not attributed to an actor on its origin")
        return await self.fed.remote_actor(organiser)

    # -- answers --------------------------------------------------------------------------

    async def on_accept(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        return await self._answered(item, doc, "accepted")

    async def on_tentative_accept(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        return await self._answered(item, doc, "waitlist")

    async def on_reject(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        return await self._answered(item, doc, "rejected")

    async def _answered(self, item: InboxItem, doc: dict[str, Any], state: str) -> Outcome:
        """Another node answered one of our members' Joins: record the RSVP's state."""
        obj = doc.get("object")
        found = await events_db.by_join(self.db, wire.first_id(obj) or "")
        if found is None and isinstance(obj, dict) and "Join" in wire.type_names(obj.get("type")):
            event, actor = wire.first_id(obj.get("object")), wire.first_id(obj.get("actor"))
            if event and actor:
                found = await events_db.participant(self.db, event, actor)
        if found is None or not self.urls.is_local(found.actor) or self.urls.is_local(found.event):
            return Outcome.discard("answer to no RSVP of our members")
        if not validation.same_origin(item.actor, found.event):
            return Outcome.discard(f"{item.actor} cannot answer for {found.event}")
        now = iso(self.rt.clock())
        await self.db.write(lambda c: events_db.set_state(c, found.event, found.actor, state, now))
        return Outcome.done(f"{found.actor} is {state} for {found.event}")
