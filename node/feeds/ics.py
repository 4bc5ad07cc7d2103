"""iCalendar (RFC 5545) documents of meetups, built with the ``icalendar`` library.

Each meetup is one ``VEVENT`` (a series' occurrences are meetups of their own, each with
its own RSVPs and status, so none carries an ``RRULE``). Times are written in the
event's own zone (``DTSTART;TZID=Europe/Amsterdam:...``) with a ``VTIMEZONE`` for each
zone used, covering the years of the events; an event without a known zone is in UTC.
A cancelled meetup stays in the calendar with ``STATUS:CANCELLED``, so subscribed
calendars take it off their plans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import icalendar

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .events import EventFacts

__all__ = ["MEDIA_TYPE", "CalendarItem", "build_calendar", "status_of"]

MEDIA_TYPE = "text/calendar"
PRODID = "-//Kantine//Kantine meetups//EN"
_STATUS = {
    "EventCancelled": "CANCELLED",
    "EventPostponed": "TENTATIVE",
    "EventScheduled": "CONFIRMED",
    "EventMovedOnline": "CONFIRMED",
}


@dataclass(frozen=True)
class CalendarItem:
    """One meetup for a calendar: its facts, the network it is from, and its page."""

    facts: EventFacts
    network: str = ""
    page: str | None = None  # where people read about it (our page, or the origin's)


def status_of(facts: EventFacts) -> str:
    return _STATUS.get(facts.status, "CONFIRMED")


def _event(item: CalendarItem, now: datetime) -> icalendar.Event:
    import icalendar  # imported when a calendar is asked for: it costs 3 MB of idle RSS

    f = item.facts
    ev = icalendar.Event()
    ev.add("uid", f.id)
    ev.add("dtstamp", now)
    ev.add("dtstart", f.start)
    ev.add("dtend", f.end or f.start + timedelta(hours=1))
    ev.add("summary", f.name)
    ev.add("status", status_of(f))
    page = item.page or f.url
    description = f.description_text
    if page:
        description = f"{description}\n\n{page}" if description else page
    if description:
        ev.add("description", description)
    where = f.where or f.online
    if where:
        ev.add("location", where)
    if f.latitude is not None and f.longitude is not None:
        ev.add("geo", (f.latitude, f.longitude))
    if page:
        ev.add("url", page)
    if f.online and f.where:
        ev.add("conference", f.online, parameters={"value": "URI", "feature": "VIDEO"})
    if item.network:
        ev.add("categories", [item.network])
    if f.published is not None:
        ev.add("created", f.published.astimezone(UTC))
    if f.updated is not None:
        ev.add("last-modified", f.updated.astimezone(UTC))
        # SEQUENCE grows with each change the organiser publishes (seconds since creation).
        if f.published is not None and f.updated >= f.published:
            ev.add("sequence", int((f.updated - f.published).total_seconds()) // 60)
    if f.cancelled:
        ev.add("transp", "TRANSPARENT")
    return ev


def build_calendar(
    items: Iterable[CalendarItem],
    *,
    name: str,
    description: str = "",
    now: datetime,
    refresh: timedelta = timedelta(hours=1),
) -> bytes:
    """The ``VCALENDAR`` of ``items`` with a ``VTIMEZONE`` for every zone they use."""
    import icalendar

    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    if description:
        cal.add("x-wr-caldesc", description)
    cal.add("refresh-interval", refresh, parameters={"value": "DURATION"})
    cal.add("x-published-ttl", refresh)
    now = now.astimezone(UTC).replace(microsecond=0)
    first: date | None = None
    last: date | None = None
    for item in items:
        cal.add_component(_event(item, now))
        start, end = item.facts.start.date(), (item.facts.end or item.facts.start).date()
        first = start if first is None or start < first else first
        last = end if last is None or end > last else last
    if first is not None and last is not None:
        # Zone definitions that cover the events' years (and no decades more).
        cal.add_missing_timezones(
            first_date=date(first.year - 1, 1, 1), last_date=date(last.year + 2, 1, 1)
        )
    return cal.to_ical()
