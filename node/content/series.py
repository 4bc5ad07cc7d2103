"""Recurring meetups: a series with an RFC 5545 RRULE publishes each occurrence ahead of time.

Each occurrence is an ``Event`` of its own (RSVPs per occurrence) that names its
``series``; occurrences are published once they come within the series' horizon
(``horizon_days``, else the node's ``series_horizon_days``), driven by the
injected clock. Publishing is idempotent: an occurrence is stored under
``(series, instance time)`` and published only by whoever inserted it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from dateutil.rrule import rrule, rrulestr

from ..clock import iso
from ..storage import actors as actors_db
from ..storage import events as events_db
from ..storage.actors import LocalActor
from ..storage.events import LocalEvent, Series
from .event_docs import EventSpec, SpecError, validate_spec, zone

if TYPE_CHECKING:
    from .events import Service

__all__ = ["MAX_PER_ROUND", "SeriesService", "expand", "parse_rule"]

#: Frequencies a series may have (no meetups every hour).
FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY")
#: At most this many occurrences are published per series per round.
MAX_PER_ROUND = 60


def parse_rule(text: str, dtstart: datetime) -> rrule:
    """An RRULE (with or without the ``RRULE:`` prefix) anchored at a naive wall time."""
    body = text.strip()
    body = body[len("RRULE:") :] if body.upper().startswith("RRULE:") else body
    found = re.search(r"(?:^|;)FREQ=([A-Z]+)", body.upper())
    if found is None or found.group(1) not in FREQUENCIES:
        raise SpecError(f"--repeat needs FREQ={'|'.join(FREQUENCIES)}, got {text!r}")
    if "DTSTART" in body.upper() or "\n" in body:
        raise SpecError("--repeat takes one RRULE line; the start comes from --start")
    try:
        rule = rrulestr(body, dtstart=dtstart)
    except (ValueError, TypeError) as exc:
        raise SpecError(f"not an RFC 5545 RRULE: {text!r} ({exc})") from exc
    if not isinstance(rule, rrule):
        raise SpecError(f"not a single RRULE: {text!r}")
    return rule


def expand(
    text: str, dtstart: datetime, timezone: str, after: datetime, before: datetime
) -> list[datetime]:
    """Aware starts of the occurrences in ``[after, before]``; wall times kept across DST."""
    tz = zone(timezone)
    rule = parse_rule(text, dtstart)
    lo = after.astimezone(tz).replace(tzinfo=None)
    hi = before.astimezone(tz).replace(tzinfo=None)
    starts = [naive.replace(tzinfo=tz) for naive in rule.between(lo, hi, inc=True)]
    return [s for s in starts if s >= after][:MAX_PER_ROUND]


class SeriesService:
    """Creates series and publishes, changes and cancels their occurrences."""

    def __init__(self, events: Service) -> None:
        self.events = events
        self.rt = events.rt
        self.db = events.db

    def horizon(self, s: Series) -> timedelta:
        return timedelta(days=s.horizon_days or self.rt.settings.series_horizon_days)

    async def create(
        self,
        spec: EventSpec,
        start: datetime,
        end: datetime | None,
        rule: str,
        *,
        author: LocalActor | None = None,
        horizon_days: int | None = None,
    ) -> tuple[Series, list[LocalEvent]]:
        """Store a series and publish the occurrences within its horizon."""
        from .events import new_ident

        validate_spec(spec, start, end)
        if horizon_days is not None and not 1 <= horizon_days <= 366:
            raise SpecError("the horizon must be 1 to 366 days")
        wall = start.astimezone(zone(spec.timezone)).replace(tzinfo=None)
        parse_rule(rule, wall)
        author = author or await self.events.publisher.network()
        now = iso(self.rt.clock())
        ident = new_ident(spec.title)
        s = Series(
            id=self.rt.urls.object("series", ident),
            ident=ident,
            author=author.username,
            rrule=rule.strip().removeprefix("RRULE:"),
            dtstart=wall.isoformat(),
            duration=int((end - start).total_seconds()) if end else None,
            template=msgspec.to_builtins(spec),
            horizon_days=horizon_days,
            created_at=now,
            updated_at=now,
        )
        await self.db.write(lambda c: events_db.insert_series(c, s))
        return s, await self.publish_series(s)

    async def publish_due(self) -> list[LocalEvent]:
        created = []
        for s in await events_db.list_series(self.db, active_only=True):
            created += await self.publish_series(s)
        return created

    async def publish_series(self, s: Series) -> list[LocalEvent]:
        """Publish the occurrences of ``s`` that are within its horizon and not yet published."""
        if s.cancelled or s.deleted_at is not None:
            return []
        author = await actors_db.get_local(self.db, s.author)
        if author is None:
            return []
        spec = msgspec.convert(s.template, EventSpec)
        now = self.rt.clock()
        starts = expand(
            s.rrule, datetime.fromisoformat(s.dtstart), spec.timezone, now, now + self.horizon(s)
        )
        created = []
        for start in starts:
            end = start + timedelta(seconds=s.duration) if s.duration is not None else None
            wall = start.astimezone(zone(spec.timezone))
            ev = await self.events.create(
                spec,
                start,
                end,
                author=author,
                ident=f"{s.ident}-{wall:%Y%m%d-%H%M}",
                series=s.id,
                occurrence=iso(start),
            )
            if ev is not None:
                created.append(ev)
        return created

    async def future(self, s: Series) -> list[LocalEvent]:
        """The series' published occurrences that have not ended."""
        return await events_db.list_events(self.db, starts_after=iso(self.rt.clock()), series=s.id)

    async def update(self, s: Series, changes: dict[str, Any]) -> list[LocalEvent]:
        """Change the template; every future occurrence gets the change (and an ``Update``)."""
        spec = msgspec.convert({**s.template, **changes}, EventSpec)
        wall = datetime.fromisoformat(s.dtstart).replace(tzinfo=zone(spec.timezone))
        end = wall + timedelta(seconds=s.duration) if s.duration is not None else None
        validate_spec(spec, wall, end)
        s.template = msgspec.to_builtins(spec)
        s.updated_at = iso(self.rt.clock())
        await self.db.write(lambda c: events_db.update_series(c, s))
        changed = []
        for ev in await self.future(s):
            if ev.status != "EventCancelled":
                changed.append(await self.events.update(ev, changes))
        return changed

    async def cancel(self, s: Series) -> list[LocalEvent]:
        """Cancel the series: no new occurrences, and each future one is cancelled."""
        s.cancelled = True
        s.updated_at = iso(self.rt.clock())
        await self.db.write(lambda c: events_db.update_series(c, s))
        cancelled = []
        for ev in await self.future(s):
            if ev.status != "EventCancelled":
                cancelled.append(await self.events.cancel(ev))
        return cancelled

    async def delete(self, s: Series) -> int:
        """Delete the series and its future occurrences (past ones stay as history)."""
        future = await self.future(s)
        s.cancelled = True
        s.deleted_at = s.updated_at = iso(self.rt.clock())
        await self.db.write(lambda c: events_db.update_series(c, s))
        for ev in future:
            await self.events.delete(ev)
        return len(future)

    def view(self, s: Series) -> dict[str, Any]:
        spec = msgspec.convert(s.template, EventSpec)
        return {
            "id": s.ident,
            "iri": s.id,
            "title": spec.title,
            "rrule": s.rrule,
            "dtstart": datetime.fromisoformat(s.dtstart)
            .replace(tzinfo=zone(spec.timezone))
            .isoformat(),
            "timezone": spec.timezone,
            "duration_seconds": s.duration,
            "horizon_days": s.horizon_days or self.rt.settings.series_horizon_days,
            "cancelled": s.cancelled,
            "template": s.template,
        }
