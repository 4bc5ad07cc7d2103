"""What a stored ``Event`` says, read defensively: a peer's document is never trusted.

Every text is capped and stripped of control characters, HTML is cleaned, URLs must be
http(s), numbers must be numbers, and times must carry an offset. The IANA ``timezone``
is used when it names a real zone; otherwise times stay in UTC.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from markupsafe import Markup

from protocol import wire

from ..storage.objects import StoredObject
from ..web.sanitize import clean_html, safe_url, text

__all__ = ["STATUSES", "EventFacts", "read_event", "zone_named"]

#: The event statuses we know (FEP-8a8e / schema.org); anything else counts as scheduled.
STATUSES = ("EventScheduled", "EventCancelled", "EventPostponed", "EventMovedOnline")
#: Characters of description kept for calendars and pages.
MAX_DESCRIPTION = 8000
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}$")
_TAG = re.compile(r"<[^>]*>")


def zone_named(name: object) -> ZoneInfo | None:
    """The IANA zone ``name`` names, or None (never a path, never an error)."""
    if not isinstance(name, str) or len(name) > 64 or not _ZONE_NAME.match(name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000_000:
        return None
    return value


def _coordinate(value: object, limit: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(str(value)) if isinstance(value, str) and len(value) < 30 else None
        except ValueError:
            return None
    if value is None or not -limit <= float(value) <= limit:
        return None
    return float(value)


def plain(markup: object, limit: int = MAX_DESCRIPTION) -> str:
    """HTML as plain text (paragraphs kept as blank lines), control characters gone, capped."""
    body = re.sub(r"(?i)<br\s*/?>", "\n", str(markup or ""))
    body = re.sub(r"(?i)</p\s*>", "\n\n", body)
    body = html.unescape(_TAG.sub("", body))
    lines = [text(line, limit) for line in body.splitlines()]
    flat = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class EventFacts:
    """An event as pages, calendars and feeds show it; every field already made safe."""

    id: str
    name: str
    start: datetime  # aware: in ``zone`` when there is one, else UTC
    end: datetime | None
    zone: str | None  # the IANA zone, when the event names a real one
    status: str
    description: Markup
    description_text: str
    place_name: str = ""
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    online: str | None = None
    url: str | None = None
    capacity: int | None = None
    participants: int | None = None
    remaining: int | None = None
    waitlist: bool = False
    join_mode: str = "free"
    external_url: str | None = None
    organizers: tuple[str, ...] = ()
    attributed_to: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cancelled(self) -> bool:
        return self.status == "EventCancelled"

    @property
    def where(self) -> str:
        """The place on one line (name and address), for calendars."""
        return ", ".join(p for p in (self.place_name, self.address) if p)


def _address(value: object) -> str:
    if isinstance(value, str):
        return text(value, 200)
    if not isinstance(value, dict):
        return ""
    code_city = " ".join(
        text(value.get(k), 80) for k in ("postalCode", "addressLocality") if value.get(k)
    )
    parts = [text(value.get("streetAddress"), 120), code_city]
    parts += [text(value.get(k), 80) for k in ("addressRegion", "addressCountry")]
    return text(", ".join(p for p in parts if p), 300)


def _locations(doc: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for place in wire.as_list(doc.get("location"))[:5]:
        if isinstance(place, str):
            found.setdefault("place_name", text(place, 200))
            continue
        if not isinstance(place, dict):
            continue
        kinds = wire.type_names(place.get("type"))
        if "VirtualLocation" in kinds:
            url = safe_url(place.get("url"))
            if url and url.startswith(("http://", "https://")):
                found.setdefault("online", url)
            continue
        if "place_name" not in found and (place.get("name") or place.get("address")):
            found["place_name"] = text(place.get("name"), 200)
            found["address"] = _address(place.get("address"))
            found["latitude"] = _coordinate(place.get("latitude"), 90)
            found["longitude"] = _coordinate(place.get("longitude"), 180)
    return found


def read_event(row: StoredObject) -> EventFacts | None:
    """The facts of a stored ``Event`` (None when it has no usable start time)."""
    try:
        doc = row.document
    except msgspec.DecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    start = _time(doc.get("startTime"))
    if start is None:
        return None
    end = _time(doc.get("endTime"))
    if end is not None and end <= start:
        end = None
    zone = zone_named(doc.get("timezone"))
    where: tzinfo = zone or UTC
    status = doc.get("eventStatus")
    content = doc.get("content")
    description = clean_html(content, MAX_DESCRIPTION) if isinstance(content, str) else Markup("")
    capacity = _count(doc.get("maximumAttendeeCapacity"))
    participants = _count(doc.get("participantCount"))
    remaining = _count(doc.get("remainingAttendeeCapacity"))
    if remaining is None and capacity is not None and participants is not None:
        remaining = max(capacity - participants, 0)
    join_mode = doc.get("joinMode")
    external = safe_url(doc.get("externalParticipationUrl"))
    organizers = tuple(
        i for i in (wire.first_id(o) for o in wire.as_list(doc.get("organizers"))[:20]) if i
    )
    return EventFacts(
        id=row.id,
        name=text(doc.get("name") or row.name, 200) or "…",
        start=start.astimezone(where),
        end=end.astimezone(where) if end else None,
        zone=getattr(zone, "key", None),
        status=status if status in STATUSES else "EventScheduled",
        description=description,
        description_text=plain(content) if isinstance(content, str) else "",
        url=safe_url(wire.first_id(doc.get("url")) or row.id),
        capacity=capacity,
        participants=participants,
        remaining=remaining,
        waitlist=doc.get("waitlist") is True,
        join_mode=join_mode
        if join_mode in ("free", "restricted", "invite", "external")
        else "free",
        external_url=external if external and external.startswith("http") else None,
        organizers=organizers,
        attributed_to=row.author,
        published=_time(doc.get("published")),
        updated=_time(doc.get("updated")),
        **_locations(doc),
    )
