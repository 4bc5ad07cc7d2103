"""Meetup pages: one meetup (ours or another network's), RSVPs, and the calendar page.

``/events/{id}`` is an ActivityPub URL: a browser's GET reaches ``event_page`` through
``pages.object_page``. A meetup received from another network is shown at
``/calendar/event?id={iri}``; everything in it is a peer's and passes through
``node.feeds.events.read_event`` (capped text, cleaned HTML, checked URLs).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web

from protocol.errors import RemoteProtocolError

from ..appkeys import CLOCK, DB, SETTINGS, URLS
from ..clock import from_iso, iso
from ..feeds.events import EventFacts, read_event
from ..storage import events as events_db
from ..storage import objects as objects_db
from ..storage.actors import LocalActor
from ..storage.objects import StoredObject
from . import i18n, meetup_strings
from .i18n import PageError
from .pages import OBJECT_PAGES
from .people import person
from .render import page, redirect, render, services
from .sanitize import text
from .sessions import checked_form, visitor

__all__ = [
    "event_page",
    "meetup_item",
    "meetup_path",
    "routes",
    "upcoming",
    "when_text",
]

meetup_strings.install()
routes = web.RouteTableDef()
#: RSVP states in which a person has (or waits for) a place.
HOLDING = ("accepted", "waitlist", "pending")
DASH = "\u2013"  # between two times


def meetup_path(row: StoredObject) -> str:
    """Our page of a meetup: ``/events/{id}`` for ours, ``/calendar/event?id=`` for others'."""
    if row.local:
        return "/events/" + row.id.rsplit("/", 1)[1]
    return "/calendar/event?id=" + quote(row.id, safe="")


def ics_path(row: StoredObject) -> str:
    if row.local:
        return "/feeds/events/" + row.id.rsplit("/", 1)[1] + ".ics"
    return "/feeds/event.ics?id=" + quote(row.id, safe="")


def when_text(facts: EventFacts, lang: str) -> str:
    """``do 5 juni 2025, 19:00-21:00`` (with an en dash), in the meetup's own time zone."""
    start = i18n.format_time(facts.start, lang)
    if facts.end is None:
        return start
    if facts.end.date() == facts.start.date():
        return f"{start}{DASH}{facts.end:%H:%M}"
    return f"{start} {DASH} {i18n.format_time(facts.end, lang)}"


def places_text(counts: dict[str, Any], lang: str) -> str:
    """``3 of 20 places left``, ``Full``, ``12 going`` (empty when nothing is known)."""
    t = i18n.translator(lang)
    if counts["capacity"] is not None and counts["remaining"] is not None:
        if counts["full"]:
            return t("event.full_waitlist") if counts["waitlist"] else t("event.full")
        return t("event.places_left", left=counts["remaining"], capacity=counts["capacity"])
    if counts["participants"]:
        return t("event.going", count=counts["participants"])
    return ""


def map_url(facts: EventFacts) -> str | None:
    """An OpenStreetMap link: the point when the event gives one, else a search for the address."""
    if facts.latitude is not None and facts.longitude is not None:
        lat, lon = f"{facts.latitude:.6f}", f"{facts.longitude:.6f}"
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"
    if facts.address:
        return "https://www.openstreetmap.org/search?query=" + quote(facts.where, safe="")
    return None


async def _live_counts(
    request: web.Request, row: StoredObject, facts: EventFacts
) -> dict[str, Any]:
    """Capacity and places: counted now for our meetups, as last published for others'."""
    capacity, participants, remaining = facts.capacity, facts.participants, facts.remaining
    waitlist = facts.waitlist
    if row.local:
        ev = await events_db.get_event(request.app[DB], row.id)
        if ev is not None:
            capacity = ev.spec.get("capacity")
            waitlist = bool(ev.spec.get("waitlist"))
            participants = await events_db.count(request.app[DB], row.id)
            remaining = max(capacity - participants, 0) if capacity is not None else None
    return {
        "capacity": capacity,
        "participants": participants,
        "remaining": remaining,
        "full": remaining == 0,
        "waitlist": waitlist,
    }


async def meetup_item(
    request: web.Request, row: StoredObject, names: dict[str, str], lang: str
) -> dict[str, Any] | None:
    """A meetup for a list (home, calendar): when, what, where, whose, and places left."""
    facts = read_event(row)
    if facts is None:
        return None
    counts = await _live_counts(request, row, facts)
    time = f"{facts.start:%H:%M}" + (f"{DASH}{facts.end:%H:%M}" if facts.end else "")
    return {
        "name": facts.name,
        "url": meetup_path(row),
        "start": facts.start.isoformat(),
        "when": when_text(facts, lang),
        "day": facts.start.date().isoformat(),
        "day_text": i18n.format_time(facts.start, lang, date_only=True),
        "network": names.get(row.host, text(row.host, 100)),
        "host": row.host,
        "local": row.local,
        "place": facts.place_name or facts.address,
        "online": bool(facts.online),
        "status": facts.status,
        "cancelled": facts.cancelled,
        "visibility": row.visibility,
        "time": time,
        "places_text": places_text(counts, lang),
        **counts,
    }


async def upcoming(
    request: web.Request, *, limit: int = 10, network: str | None = None
) -> list[dict[str, Any]]:
    """Upcoming meetups the visitor may see: ours and those of the networks we follow."""
    from .pages import network_labels

    who = await visitor(request)
    names = await network_labels(request)
    lang = i18n.choose(request)[0]
    # A meetup stays "upcoming" until it ends; most last a few hours.
    since = request.app[CLOCK]() - timedelta(hours=6)
    rows = await services(request)["projects"].calendar(who.member, start=since, limit=500)
    items = []
    for row in rows:
        if network and row.host != network:
            continue
        if from_iso(row.end_time or row.start_time or iso(since)) < request.app[CLOCK]():
            continue
        item = await meetup_item(request, row, names, lang)
        if item is not None:
            items.append(item)
        if len(items) >= limit:
            break
    return items


# -- one meetup ---------------------------------------------------------------------------


async def _view(request: web.Request, row: StoredObject) -> dict[str, Any]:
    from .pages import network_labels
    from .render import runtime

    facts = read_event(row)
    if facts is None:
        raise PageError("error.not_found", 404)
    who = await visitor(request)
    lang = i18n.choose(request)[0]
    names = await network_labels(request)
    now: datetime = request.app[CLOCK]()
    m: dict[str, Any] = {
        "iri": row.id,
        "name": facts.name,
        "local": row.local,
        "url": meetup_path(row),
        "ics": ics_path(row),
        "origin_url": None if row.local else facts.url,
        "when": when_text(facts, lang),
        "start": facts.start.isoformat(),
        "zone": facts.zone or "UTC",
        "status": facts.status,
        "cancelled": facts.cancelled,
        "past": (facts.end or facts.start) < now,
        "place_name": facts.place_name,
        "address": facts.address,
        "map_url": map_url(facts),
        "online": facts.online,
        "description": facts.description,
        "network": names.get(row.host, text(row.host, 100)),
        "host": row.host,
        "visibility": row.visibility,
        "join_mode": facts.join_mode,
        "external_url": facts.external_url,
        "organizers": [await person(request, iri) for iri in facts.organizers[:10]],
        "my_state": None,
        "manage": False,
        "participants_list": [],
        "series": None,
    }
    counts = await _live_counts(request, row, facts)
    m.update(counts, places_text=places_text(counts, lang))
    if who.member is not None:
        fed = runtime(request).federation
        mine = await events_db.participant(request.app[DB], row.id, fed.actor_id(who.member))
        m["my_state"] = mine.state if mine is not None else None
        if row.local:
            await _manage(request, row, who.member, m)
    return m


async def _manage(
    request: web.Request, row: StoredObject, member: LocalActor, m: dict[str, Any]
) -> None:
    """What an organiser of this meetup sees: who is coming, and the edit and cancel buttons."""
    svc = services(request)["events"]
    ev = await events_db.get_event(request.app[DB], row.id)
    if ev is None:
        return
    m["series"] = ev.series
    if not svc.may_manage(member, ev.spec.get("organizers", [])):
        return
    m["manage"] = True
    m["ident"] = ev.ident
    for p in await events_db.list_participants(request.app[DB], ev.id):
        m["participants_list"].append({**await person(request, p.actor), "state": p.state})


async def _show(request: web.Request, row: StoredObject) -> web.Response:
    who = await visitor(request)
    if row.visibility != "public" and who.member is None:
        raise PageError("error.not_found", 404)
    settings = request.app[SETTINGS]
    return await render(
        request,
        "event.html",
        m=await _view(request, row),
        target=row.id,
        own_host=request.app[URLS].host,
        node_zone=settings.timezone,
    )


async def event_page(request: web.Request) -> web.StreamResponse:
    """A browser's GET of ``/events/{id}`` (``pages.object_page`` calls it; see the end)."""
    return await _event_page(request)


@page
async def _event_page(request: web.Request) -> web.StreamResponse:
    urls = request.app[URLS]
    iri = urls.object("events", request.match_info["ident"])
    row = await objects_db.get(request.app[DB], iri, include_deleted=True)
    if row is None or not row.local or row.type != "Event":
        raise PageError("error.not_found", 404)
    if row.deleted_at is not None:
        raise PageError("error.410", 410)
    return await _show(request, row)


@routes.get("/calendar/event")
@page
async def handle_remote_event(request: web.Request) -> web.StreamResponse:
    """A meetup received from another network (``?id=`` its IRI)."""
    iri = request.query.get("id", "")
    row = await objects_db.get(request.app[DB], iri) if iri and len(iri) < 2000 else None
    if row is None or row.type != "Event":
        raise PageError("error.not_found", 404)
    if row.local:
        raise web.HTTPFound(meetup_path(row))
    return await _show(request, row)


@routes.post("/rsvp")
@page
async def handle_rsvp(request: web.Request) -> web.StreamResponse:
    """A signed-in member RSVPs (or withdraws) to a meetup here or on another network."""
    from .account import member_required

    form = await checked_form(request)
    member = await member_required(request)
    iri = str(form.get("event") or "")
    row = await objects_db.get(request.app[DB], iri) if iri and len(iri) < 2000 else None
    if row is None or row.type != "Event":
        raise PageError("error.not_found", 404)
    svc = services(request)["events"]
    try:
        if form.get("action") == "leave":
            await svc.withdraw(member, row.id)
            state = "left"
        else:
            state = await svc.rsvp(member, row.id)
    except LookupError as exc:
        raise PageError("error.not_found", 404) from exc
    except RemoteProtocolError as exc:
        raise PageError("error.remote_failed", 502) from exc
    return redirect(meetup_path(row), "rsvp_" + state)


# -- the calendar page ---------------------------------------------------------------------


@routes.get("/calendar")
@page
async def handle_calendar(request: web.Request) -> web.StreamResponse:
    """Upcoming meetups of this network and the networks it follows, day by day."""
    from .pages import network_labels

    wanted = text(request.query.get("network"), 100) or None
    everything = await upcoming(request, limit=300)
    networks = sorted({(m["host"], m["network"]) for m in everything}, key=lambda x: x[1].lower())
    items = [m for m in everything if wanted is None or m["host"] == wanted]
    days: list[tuple[str, list[dict[str, Any]]]] = []
    for m in items:
        if not days or days[-1][0] != m["day_text"]:
            days.append((m["day_text"], []))
        days[-1][1].append(m)
    names = await network_labels(request)
    return await render(
        request,
        "calendar.html",
        days=days,
        networks=networks,
        network=wanted,
        network_label=names.get(wanted or "", wanted or ""),
        count=len(items),
    )


OBJECT_PAGES["events"] = event_page
