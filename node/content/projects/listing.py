"""What a member reads: the co-operative calendar (one list of meetups) and the follow feed."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from protocol import wire

from ...clock import iso
from ...storage import objects as objects_db
from ...storage import projects as projects_db
from ...storage.actors import LocalActor
from ...storage.objects import StoredObject

if TYPE_CHECKING:
    from ...runtime import Runtime

__all__ = ["Listing", "event_summary", "object_summary", "visible_to"]


def visible_to(viewer: LocalActor | None) -> tuple[str, ...]:
    """Visibilities a viewer may see: the public everything public; a signed-in member all of it."""
    if viewer is None:
        return ("public",)
    return ("public", "cooperative", "network")


def _place(location: Any) -> str | None:
    for place in wire.as_list(location):
        if isinstance(place, dict):
            name = place.get("name")
            address = place.get("address")
            if isinstance(name, str) and name.strip():
                return name.strip()
            if isinstance(address, dict) and isinstance(address.get("streetAddress"), str):
                return str(address["streetAddress"])
        elif isinstance(place, str):
            return place
    return None


def event_summary(obj: StoredObject) -> dict[str, Any]:
    """A calendar entry: the event's times (as published, with their offset), place and origin."""
    doc = obj.document
    return {
        "id": obj.id,
        "name": obj.name or doc.get("name") or "",
        "startTime": doc.get("startTime"),
        "endTime": doc.get("endTime"),
        "timezone": doc.get("timezone"),
        "status": obj.status,
        "location": _place(doc.get("location")),
        "url": wire.first_id(doc.get("url")) or obj.id,
        "attributedTo": obj.author,
        "audience": obj.audience,
        "host": obj.host,
        "local": obj.local,
        "visibility": obj.visibility,
    }


def object_summary(obj: StoredObject) -> dict[str, Any]:
    """A feed entry: the object's kind, author, text and origin."""
    doc = obj.document
    entry = {
        "id": obj.id,
        "type": obj.type,
        "name": obj.name or None,
        "content": doc.get("content") if isinstance(doc.get("content"), str) else None,
        "attributedTo": obj.author,
        "announcedBy": obj.origin_actor if obj.origin_actor != obj.author else None,
        "audience": obj.audience,
        "published": obj.published,
        "host": obj.host,
        "local": obj.local,
        "visibility": obj.visibility,
    }
    if obj.type == "Event":
        entry["startTime"] = doc.get("startTime")
    return entry


class Listing:
    """The calendar and the feed, for the API and for later web pages."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def calendar(
        self,
        viewer: LocalActor | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 100,
    ) -> list[StoredObject]:
        """Events starting from ``start`` (default: now), local and received, ``viewer`` may see."""
        return await objects_db.listing(
            self.rt.db,
            type="Event",
            visibilities=visible_to(viewer),
            starts_after=iso(start or self.rt.clock()),
            starts_before=iso(end) if end else None,
            limit=limit,
        )

    async def stream(
        self, project: LocalActor, viewer: LocalActor | None = None, *, limit: int = 50
    ) -> list[StoredObject]:
        """What participants addressed to a project hosted here, newest first."""
        return await objects_db.listing(
            self.rt.db,
            audience=self.rt.federation.actor_id(project),
            visibilities=visible_to(viewer),
            limit=limit,
            newest_first=True,
        )

    async def feed(
        self, member: LocalActor, *, before: str | None = None, limit: int = 50
    ) -> list[StoredObject]:
        """What ``member`` follows, or the network follows, or its projects here carry."""
        member_id = self.rt.federation.actor_id(member)
        projects = await projects_db.projects_of(self.rt.db, member_id)
        return await projects_db.feed(
            self.rt.db,
            followers=(member.username, self.rt.settings.slug),
            audiences=tuple(self.rt.urls.project(p) for p in projects),
            visibilities=visible_to(member),
            before=before,
            limit=limit,
        )
