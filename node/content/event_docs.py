"""Meetups as data: the editable spec, input parsing, the RSVP rules and the published Event."""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from protocol import models

from ..clock import from_iso
from ..storage.events import LocalEvent

__all__ = [
    "ANSWERS",
    "EventSpec",
    "PlaceSpec",
    "SpecError",
    "api_view",
    "build_event",
    "parse_place",
    "parse_time",
    "rsvp_answer",
    "summary_text",
    "validate_spec",
    "zone",
]

JoinMode = Literal["free", "restricted", "invite", "external"]

#: RSVP state -> the activity that tells the person (``pending`` waits for an organiser).
ANSWERS = {"accepted": "Accept", "waitlist": "TentativeAccept", "rejected": "Reject"}


class SpecError(ValueError):
    """A meetup's fields do not make sense (a user error: CLI exit 1, API 400)."""


class PlaceSpec(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Where a meetup happens: a name and a postal address (schema.org terms)."""

    name: str | None = None
    street_address: str | None = None
    postal_code: str | None = None
    address_locality: str | None = None
    address_region: str | None = None
    address_country: str | None = None


class EventSpec(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What an organiser decides about a meetup, apart from its times (stored as JSON)."""

    title: str
    timezone: str
    description: str = ""
    place: PlaceSpec | None = None
    online: str | None = None
    capacity: int | None = None
    waitlist: bool = False
    join_mode: JoinMode = "free"
    external_url: str | None = None
    organizers: list[str] = []
    visibility: Literal["public", "cooperative", "network"] = "public"


# -- input ---------------------------------------------------------------------------

_POSTCODE_CITY = re.compile(r"^(?P<code>\d{4,5}(?:\s?[A-Za-z]{2})?)\s+(?P<city>\S.*)$")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SpecError(f"unknown time zone {name!r}") from exc


def parse_time(text: str, timezone: str) -> datetime:
    """An ISO 8601 time; one without an offset is wall time in ``timezone``."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise SpecError(f"not an ISO 8601 time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(timezone))
    return moment


def parse_place(text: str) -> PlaceSpec:
    """``"De Kantine, Oosterstraat 1, 8911 AA Leeuwarden"`` -> name, street, postal code, city."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise SpecError("--place is empty")
    place = PlaceSpec(name=parts[0])
    rest = parts[1:]
    if rest:
        found = _POSTCODE_CITY.match(rest[-1])
        if found:
            place.postal_code = found["code"].upper()
            place.address_locality = found["city"]
            rest = rest[:-1]
        elif len(rest) >= 2 or not any(ch.isdigit() for ch in rest[-1]):
            place.address_locality = rest[-1]
            rest = rest[:-1]
    if rest:
        place.street_address = ", ".join(rest)
    return place


def validate_spec(spec: EventSpec, start: datetime, end: datetime | None) -> None:
    """Raise ``SpecError`` unless the meetup is coherent."""
    if not spec.title.strip() or len(spec.title) > 200:
        raise SpecError("a meetup needs a title of at most 200 characters")
    zone(spec.timezone)
    if start.tzinfo is None or (end is not None and end.tzinfo is None):
        raise SpecError("times need a time zone")
    if end is not None and end <= start:
        raise SpecError("the end must come after the start")
    if spec.capacity is not None and spec.capacity < 1:
        raise SpecError("the capacity must be at least 1")
    for label, url in (("online link", spec.online), ("external link", spec.external_url)):
        if url is not None and not re.match(r"^https?://[^\s/?#@]+(?:[/?#]\S*)?$", url):
            raise SpecError(f"the {label} must be an http(s) URL, got {url!r}")
    if spec.join_mode == "external" and spec.external_url is None:
        raise SpecError("join mode 'external' needs an external participation URL")


# -- the RSVP rules ----------------------------------------------------------------------


def rsvp_answer(
    *,
    status: str,
    past: bool,
    join_mode: str,
    accepted: int,
    capacity: int | None,
    waitlist: bool,
    welcome: bool = True,
) -> tuple[str, str | None]:
    """The state a new Join gets, and the reason told with a Reject or TentativeAccept."""
    if status == "EventCancelled":
        return "rejected", "the meetup is cancelled"
    if past:
        return "rejected", "the meetup is over"
    if not welcome:
        return "rejected", "the meetup is not open to your network"
    if join_mode in ("invite", "external"):
        return "rejected", "the meetup is closed for RSVPs here"
    if join_mode == "restricted":
        return "pending", None
    if capacity is None or accepted < capacity:
        return "accepted", None
    if waitlist:
        return "waitlist", "the meetup is full; you are on the waitlist"
    return "rejected", "the meetup is full"


# -- what Mastodon shows: name, summary, link ------------------------------------------------

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _day(moment: datetime) -> str:
    return f"{_DAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def when_text(start: datetime, end: datetime | None, timezone: str) -> str:
    """``Wednesday 5 March 2025, 19:00-21:00 (Europe/Amsterdam)``."""
    text = f"{_day(start)}, {start:%H:%M}"
    if end is not None:
        text += f"-{end:%H:%M}" if end.date() == start.date() else f" - {_day(end)}, {end:%H:%M}"
    return f"{text} ({timezone})"


def place_text(place: PlaceSpec | None) -> str:
    if place is None:
        return ""
    code_city = " ".join(p for p in (place.postal_code, place.address_locality) if p)
    parts = (place.name, place.street_address, code_city, place.address_country)
    return ", ".join(p for p in parts if p)


def summary_text(
    spec: EventSpec,
    start: datetime,
    end: datetime | None,
    *,
    status: str,
    url: str,
    accepted: int,
) -> str:
    """Plain words with the date, the place and the RSVP link."""
    words = []
    if status == "EventCancelled":
        words.append("CANCELLED.")
    words.append(when_text(start, end, spec.timezone) + ".")
    where = place_text(spec.place)
    if where:
        words.append(f"At {where}.")
    if spec.online:
        words.append(f"Online: {spec.online}")
    if spec.capacity is not None and status != "EventCancelled":
        left = max(spec.capacity - accepted, 0)
        if left:
            words.append(f"{left} of {spec.capacity} places left.")
        else:
            words.append("Full; waitlist open." if spec.waitlist else "Full.")
    words.append(f"RSVP: {spec.external_url or url}")
    return " ".join(words)


# -- the published Event --------------------------------------------------------------------


def _location(spec: EventSpec) -> Any:
    found: list[models.Place | models.VirtualLocation] = []
    if spec.place is not None:
        p = spec.place
        address = None
        if p.street_address or p.postal_code or p.address_locality or p.address_country:
            address = models.PostalAddress(
                street_address=p.street_address,
                postal_code=p.postal_code,
                address_locality=p.address_locality,
                address_region=p.address_region,
                address_country=p.address_country,
            )
        found.append(models.Place(name=p.name, address=address))
    if spec.online:
        found.append(models.VirtualLocation(url=spec.online, name="Online"))
    if not found:
        return None
    return found[0] if len(found) == 1 else found


def local_times(ev: LocalEvent, spec: EventSpec) -> tuple[datetime, datetime | None]:
    tz = zone(spec.timezone)
    start = from_iso(ev.start_time).astimezone(tz)
    end = from_iso(ev.end_time).astimezone(tz) if ev.end_time else None
    return start, end


def _content(description: str) -> str | None:
    paragraphs = [p.strip() for p in description.split("\n\n") if p.strip()]
    if not paragraphs:
        return None
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def build_event(
    ev: LocalEvent,
    *,
    attributed_to: str,
    accepted: int,
    to: list[str],
    cc: list[str],
    context: Any,
    recurrence: str | None = None,
) -> dict[str, Any]:
    """The Event document (FEP-8a8e with Mobilizon's terms), checked against our model."""
    spec = msgspec.convert(ev.spec, EventSpec)
    start, end = local_times(ev, spec)
    capacity = spec.capacity
    content = _content(spec.description)
    model = models.Event(
        context=context,
        id=ev.id,
        attributed_to=attributed_to,
        name=spec.title,
        summary=summary_text(spec, start, end, status=ev.status, url=ev.id, accepted=accepted),
        content=content,
        media_type="text/html" if content else None,
        start_time=start,
        end_time=end,
        timezone=spec.timezone,
        location=_location(spec),
        event_status=ev.status,  # type: ignore[arg-type]
        organizers=list(spec.organizers),
        join_mode=spec.join_mode,
        maximum_attendee_capacity=capacity,
        remaining_attendee_capacity=max(capacity - accepted, 0) if capacity is not None else None,
        participant_count=accepted,
        attendees=models.AttendeesCollection(id=ev.id + "/attendees", total_items=accepted),
        waitlist=spec.waitlist if capacity is not None else None,
        external_participation_url=spec.external_url,
        url=ev.id,
        series=ev.series,
        recurrence=recurrence,
        visibility=spec.visibility,
        published=from_iso(ev.created_at),
        updated=from_iso(ev.updated_at),
        to=to,
        cc=cc,
    )
    models.check(model)
    return models.to_dict(model)


def api_view(ev: LocalEvent, *, accepted: int, waitlisted: int) -> dict[str, Any]:
    """The API's flat view of one of our meetups."""
    spec = msgspec.convert(ev.spec, EventSpec)
    start, end = local_times(ev, spec)
    return {
        "id": ev.ident,
        "iri": ev.id,
        "title": spec.title,
        "description": spec.description,
        "start": start.isoformat(),
        "end": end.isoformat() if end else None,
        "timezone": spec.timezone,
        "place": msgspec.to_builtins(spec.place) if spec.place else None,
        "online": spec.online,
        "capacity": spec.capacity,
        "waitlist": spec.waitlist,
        "join_mode": spec.join_mode,
        "external_url": spec.external_url,
        "status": ev.status,
        "visibility": spec.visibility,
        "organizers": spec.organizers,
        "participant_count": accepted,
        "waitlist_count": waitlisted,
        "remaining": max(spec.capacity - accepted, 0) if spec.capacity is not None else None,
        "series": ev.series,
    }
