"""Remote content coming in: Create, Update, Delete and Announce of events, proposals and notes.

Rules (DESIGN.md, "The signer must own what it says"):
- a Create/Update is taken from the actor that authors the object (``attributedTo``
  on the actor's origin), or from a group the node follows that Announces it with
  the author's FEP-8b32 proof embedded; anything else is fetched from its origin,
  never trusted;
- content is kept only from actors some local actor follows, or when it is
  addressed to a local actor or collection;
- non-public content is kept with visibility ``cooperative`` and stays off
  public pages, feeds and calendars.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from protocol import addressing, validation, wire
from protocol.errors import OwnershipError, RemoteProtocolError

from ..clock import iso
from ..cooperative import Cooperative
from ..processor import Gate, Handlers, Outcome
from ..storage import follows as follows_db
from ..storage import objects as objects_db
from ..storage.inbox import InboxItem

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["CONTENT_TYPES", "Service", "stored_from_document"]

log = logging.getLogger("kantine.ingest")

#: Object types kept from other servers.
CONTENT_TYPES = frozenset({"Event", "Proposal", "Note", "Article", "Page"})


def _utc(value: Any) -> str | None:
    """An RFC 3339 time as the stored UTC fixed-width form, or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return iso(moment)


def stored_from_document(
    doc: dict[str, Any], *, local: bool, visibility: str, origin_actor: str | None, now: str
) -> objects_db.StoredObject:
    """A row of the objects table from an object document."""
    kind = wire.type_names(doc.get("type"))[0]
    object_id = doc["id"]
    author = wire.first_id(doc.get("attributedTo")) or wire.first_id(doc.get("actor")) or ""
    status = doc.get("eventStatus") if kind == "Event" else doc.get("status")
    return objects_db.StoredObject(
        id=object_id,
        type=kind,
        author=author,
        local=local,
        visibility=visibility,
        host=validation.host_of(object_id),
        origin_actor=origin_actor,
        audience=wire.first_id(doc.get("audience")),
        name=str(doc.get("name") or "")[:500],
        start_time=_utc(doc.get("startTime")),
        end_time=_utc(doc.get("endTime")),
        status=status if isinstance(status, str) else None,
        series=wire.first_id(doc.get("series")),
        raw=msgspec.json.encode(doc),
        published=_utc(doc.get("published")) or now,
        updated=_utc(doc.get("updated")) or now,
    )


def _same_origin(actor: str, iri: str) -> bool:
    """``validation.same_origin(actor, iri)``; an ``iri`` that starts with the actor's
    (normalised) origin and a "/" has exactly that origin, and needs no parse of its own
    (object ids are new on every activity, so a parse of each would miss every cache)."""
    return (isinstance(iri, str) and iri.startswith(validation.origin(actor) + "/")) or (
        validation.same_origin(actor, iri)
    )


class Service:
    """Keeps what followed actors publish; drops what they delete."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.fed = rt.federation
        self.db = rt.db

    def handlers(self) -> Handlers:
        return {
            "Create": [self.on_create],
            "Update": [self.on_update],
            "Delete": [self.on_delete],
            "Announce": [self.on_announce],
        }

    def gates(self) -> dict[str, list[Gate]]:
        return {"Create": [self.unrelated]}

    async def unrelated(self, item: InboxItem, doc: dict[str, Any]) -> Outcome | None:
        """A Create that concerns no one here ends before the Create handlers run (and
        before any of them fetches its object), as Mastodon's ``Create#perform`` skips
        what is neither related to local activity nor from a followed account.

        It concerns us when its actor is followed or on a co-operative host, or when
        the activity or its embedded object is addressed to anything local (a project
        here relays what is addressed to it). Every Create handler acts only on such
        activities: a new one that does not must widen this rule.
        """
        sender = item.actor
        if any(self.rt.urls.is_local(iri) for iri in addressing.audience(doc)):
            return None
        obj = doc.get("object")
        if isinstance(obj, dict) and any(
            self.rt.urls.is_local(iri) for iri in addressing.audience(obj)
        ):
            return None
        if await follows_db.followed_by_anyone(self.db, sender):
            return None
        if await Cooperative(self.db, self.rt.settings.slug).includes(validation.host_of(sender)):
            return None
        return Outcome.ignore(f"{sender} is not followed and nothing in it is addressed to us")

    # -- helpers --------------------------------------------------------------

    async def _welcome(self, sender: str, doc: dict[str, Any]) -> bool:
        """Content is kept from followed actors, from actors on co-operative hosts (their
        members' co-operative content comes straight from them), or when addressed to
        something local."""
        if await follows_db.followed_by_anyone(self.db, sender):
            return True
        if await Cooperative(self.db, self.rt.settings.slug).includes(validation.host_of(sender)):
            return True
        return any(self.rt.urls.is_local(iri) for iri in addressing.audience(doc))

    async def _object(self, activity: dict[str, Any]) -> dict[str, Any]:
        """The embedded object, or the object fetched from its origin when given as an IRI."""
        obj = activity.get("object")
        if isinstance(obj, dict):
            return obj
        object_id = wire.first_id(obj)
        if object_id is None:
            raise RemoteProtocolError("activity has no object")
        return await self._fetch(object_id)

    async def _fetch(self, object_id: str) -> dict[str, Any]:
        """The document at ``object_id``, as its own origin serves it."""
        assert self.fed.fetcher is not None
        result = await self.fed.fetcher.fetch_json(object_id)
        fetched = wire.parse_json(result.body)
        if not isinstance(fetched, dict) or fetched.get("id") != object_id:
            raise RemoteProtocolError(f"fetched {object_id} but got another document")
        # A redirect (an open one, or a moved page) must not let another origin speak for it.
        if not validation.same_origin(object_id, result.url):
            raise OwnershipError(f"{object_id} was served from another origin ({result.url})")
        return fetched

    def _visibility(self, activity: dict[str, Any], obj: dict[str, Any]) -> str:
        public = addressing.is_publicly_addressed(obj) or addressing.is_publicly_addressed(activity)
        return "public" if public else "cooperative"

    async def keep(
        self, sender: str, activity: dict[str, Any], obj: dict[str, Any], *, update: bool
    ) -> Outcome:
        kinds = wire.type_names(obj.get("type"))
        if not kinds or kinds[0] not in CONTENT_TYPES:
            return Outcome.ignore(f"{kinds[0] if kinds else 'untyped'} objects are not kept")
        object_id = wire.first_id(obj)
        if object_id is None:
            return Outcome.discard("object has no id")
        author = wire.first_id(obj.get("attributedTo")) or sender
        if not _same_origin(author, object_id):
            return Outcome.discard(f"object {object_id} does not live on its author's origin")
        if not _same_origin(sender, object_id):
            return Outcome.discard(f"{sender} may not speak for {object_id}")
        if not await self._welcome(sender, activity):
            return Outcome.ignore(f"{sender} is not followed and did not address us")
        existing = await objects_db.get(self.db, object_id, include_deleted=True)
        if existing is not None and existing.deleted_at is not None:
            return Outcome.discard(f"{object_id} was deleted")
        if existing is not None and existing.local:
            return Outcome.discard(f"{object_id} is ours")
        if existing is not None and not validation.same_origin(existing.author, author):
            return Outcome.discard(f"{sender} cannot change {existing.author}'s object")
        now = iso(self.rt.clock())
        row = stored_from_document(
            obj,
            local=False,
            visibility=self._visibility(activity, obj),
            origin_actor=sender,
            now=now,
        )
        await self.db.write(lambda c: objects_db.save(c, row))
        return Outcome.done(f"{'updated' if update else 'kept'} {row.type} {object_id}")

    # -- handlers -------------------------------------------------------------

    async def on_create(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        obj = await self._object(doc)
        return await self.keep(item.actor, doc, obj, update=False)

    async def on_update(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        obj = doc.get("object")
        if isinstance(obj, dict) and not set(wire.type_names(obj.get("type"))) & CONTENT_TYPES:
            return Outcome.discard("not a content update")
        obj = await self._object(doc)
        return await self.keep(item.actor, doc, obj, update=True)

    async def on_delete(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        object_id = wire.first_id(doc.get("object"))
        if object_id is None:
            return Outcome.discard("Delete of nothing")
        existing = await objects_db.get(self.db, object_id)
        if existing is None or existing.local:
            return Outcome.discard(f"Delete of {object_id}, which we do not keep")
        if not validation.same_origin(item.actor, object_id):
            return Outcome.discard(f"{item.actor} cannot delete {object_id}")
        now = iso(self.rt.clock())
        await self.db.write(lambda c: objects_db.delete(c, object_id, now))
        return Outcome.done(f"deleted {object_id}")

    async def on_announce(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        """A followed group relays an activity: verify the author's proof, or fetch from origin."""
        if not await follows_db.followed_by_anyone(self.db, item.actor):
            return Outcome.discard(f"Announce from {item.actor}, which nobody here follows")
        inner = doc.get("object")
        if isinstance(inner, dict) and "proof" in inner:
            owner = await self.fed.verify_proof(inner)
            inner_actor = wire.first_id(inner.get("actor")) or owner
            if owner != inner_actor:
                return Outcome.discard("the embedded activity's proof is not by its actor")
            kinds = wire.type_names(inner.get("type"))
            if "Create" in kinds or "Update" in kinds:
                obj = inner.get("object")
                if not isinstance(obj, dict):
                    return Outcome.discard("announced activity has no embedded object")
                return await self._keep_relayed(inner_actor, inner, obj, item.actor)
            return Outcome.discard(f"announced {kinds[0] if kinds else 'activity'} is not acted on")
        # No proof: never trust the embedded copy; fetch the announced object from its origin.
        target = wire.first_id(inner)
        if target is None:
            return Outcome.discard("Announce of nothing")
        fetched = await self._fetch(target)
        kinds = wire.type_names(fetched.get("type"))
        if kinds and kinds[0] in ("Create", "Update") and isinstance(fetched.get("object"), dict):
            fetched_actor = wire.first_id(fetched.get("actor")) or ""
            return await self._keep_relayed(fetched_actor, fetched, fetched["object"], item.actor)
        author = wire.first_id(fetched.get("attributedTo")) or ""
        return await self._keep_relayed(
            author, {"to": fetched.get("to"), "cc": fetched.get("cc")}, fetched, item.actor
        )

    async def _keep_relayed(
        self, author: str, activity: dict[str, Any], obj: dict[str, Any], relay: str
    ) -> Outcome:
        if not addressing.is_publicly_addressed(activity) and not addressing.is_publicly_addressed(
            obj
        ):
            # Non-public objects are never relayed onward and are kept only from their author.
            return Outcome.discard(
                "non-public content arrives from its author, not through a relay"
            )
        return await self._keep_from(author, activity, obj, relay)

    async def _keep_from(
        self, author: str, activity: dict[str, Any], obj: dict[str, Any], relay: str
    ) -> Outcome:
        kinds = wire.type_names(obj.get("type"))
        object_id = wire.first_id(obj)
        if not kinds or kinds[0] not in CONTENT_TYPES or object_id is None:
            return Outcome.discard("relayed object is not content we keep")
        if not validation.same_origin(author, object_id):
            return Outcome.discard(f"relayed {object_id} does not live on its author's origin")
        existing = await objects_db.get(self.db, object_id, include_deleted=True)
        if existing is not None and (existing.deleted_at is not None or existing.local):
            return Outcome.discard(f"{object_id} is deleted or ours")
        now = iso(self.rt.clock())
        row = stored_from_document(
            obj, local=False, visibility="public", origin_actor=relay, now=now
        )
        await self.db.write(lambda c: objects_db.save(c, row))
        return Outcome.done(f"kept relayed {row.type} {object_id}")
