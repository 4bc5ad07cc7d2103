"""Calendar and feed URLs: iCalendar per network, per meetup and per member; Atom feeds.

- ``/feeds/calendar.ics``: the network's public meetups and those of the networks it follows;
- ``/feeds/events/{id}.ics`` and ``/feeds/event.ics?id=``: one meetup ("add to calendar");
- ``/feeds/private/{token}.ics``: a member's calendar (their RSVPs, the network's meetups and
  those of whom they follow), behind a random token kept hashed, made and revoked at
  ``/me/calendar``;
- ``/feeds/meetups.atom``, ``/feeds/assignments.atom``: public meetups and open assignments.

Public feeds hold ``public`` objects only; a meetup shared with the co-operative or the
network never appears in them.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from ..appkeys import CLOCK, DB, SETTINGS, URLS
from ..clock import iso
from ..feeds import atom, ics
from ..feeds.events import read_event
from ..storage import actors as actors_db
from ..storage import events as events_db
from ..storage import feeds as feeds_db
from ..storage import follows as follows_db
from ..storage import objects as objects_db
from ..storage.actors import LocalActor
from ..storage.objects import StoredObject
from . import meetup_strings, views
from .i18n import PageError
from .meetups import HOLDING, meetup_path, when_text
from .render import page, render, runtime, services
from .sanitize import clean_html, text
from .sessions import checked_form, visitor

__all__ = ["routes"]

meetup_strings.install()
routes = web.RouteTableDef()
PUBLIC = ("public",)
EVERYTHING = ("public", "cooperative", "network")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
#: How far back calendars reach (subscribed calendars keep recent history).
PAST = timedelta(days=31)


async def _names(request: web.Request) -> dict[str, str]:
    from .pages import network_labels

    return await network_labels(request)


def _ics_response(body: bytes, filename: str, *, private: bool = False) -> web.Response:
    headers = {
        "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "private, no-store" if private else "public, max-age=300",
    }
    return web.Response(body=body, content_type=ics.MEDIA_TYPE, charset="utf-8", headers=headers)


async def _items(
    request: web.Request, rows: list[StoredObject], names: dict[str, str]
) -> list[ics.CalendarItem]:
    base = request.app[URLS].base
    items, seen = [], set()
    for row in rows:
        facts = read_event(row) if row.id not in seen else None
        if facts is None:
            continue
        seen.add(row.id)
        network = names.get(row.host, text(row.host, 100))
        items.append(ics.CalendarItem(facts, network, base + meetup_path(row)))
    items.sort(key=lambda i: i.facts.start)
    return items


async def _calendar(
    request: web.Request, rows: list[StoredObject], name: str, description: str = ""
) -> bytes:
    items = await _items(request, rows, await _names(request))
    return ics.build_calendar(items, name=name, description=description, now=request.app[CLOCK]())


async def _events(
    request: web.Request, visibilities: tuple[str, ...], **filters: Any
) -> list[StoredObject]:
    since = iso(request.app[CLOCK]() - PAST)
    return await objects_db.listing(
        request.app[DB], type="Event", visibilities=visibilities, starts_after=since, limit=1000,
        **filters,
    )  # fmt: skip


@routes.get("/feeds/calendar.ics")
async def handle_network_calendar(request: web.Request) -> web.Response:
    """The network's public meetups and the public meetups of the networks it follows."""
    settings = request.app[SETTINGS]
    name = text(settings.name, 100)
    body = await _calendar(request, await _events(request, PUBLIC), name, f"{name} (Kantine)")
    return _ics_response(body, f"{settings.slug}.ics")


async def _one(request: web.Request, row: StoredObject | None) -> web.Response:
    if row is None or row.type != "Event":
        raise web.HTTPNotFound(reason="no such meetup")
    if row.visibility != "public" and (await visitor(request)).member is None:
        raise web.HTTPNotFound(reason="no such meetup")
    body = await _calendar(request, [row], text(row.name, 100) or "meetup")
    ident = re.sub(r"[^A-Za-z0-9_-]", "", row.id.rsplit("/", 1)[-1])[:60] or "meetup"
    return _ics_response(body, f"{ident}.ics", private=row.visibility != "public")


@routes.get("/feeds/events/{ident}.ics")
async def handle_event_calendar(request: web.Request) -> web.Response:
    iri = request.app[URLS].object("events", request.match_info["ident"])
    return await _one(request, await objects_db.get(request.app[DB], iri))


@routes.get("/feeds/event.ics")
async def handle_any_event_calendar(request: web.Request) -> web.Response:
    iri = request.query.get("id", "")
    row = await objects_db.get(request.app[DB], iri) if 0 < len(iri) < 2000 else None
    return await _one(request, row)


# -- a member's private calendar --------------------------------------------------------


async def member_rows(request: web.Request, member: LocalActor) -> list[StoredObject]:
    """A member's meetups: their RSVPs, the network's, and those of whom they follow."""
    db, fed = request.app[DB], runtime(request).federation
    rows: list[StoredObject] = []
    for rsvp in await events_db.member_rsvps(db, fed.actor_id(member)):
        if rsvp.state in HOLDING:
            row = await objects_db.get(db, rsvp.event)
            if row is not None and row.type == "Event":
                rows.append(row)
    network = request.app[URLS].network()
    rows += await _events(request, EVERYTHING, author=network)
    for follow in await follows_db.list_for(db, member.username, "out", "accepted"):
        rows += await _events(request, EVERYTHING, author=follow.remote)
        rows += await _events(request, EVERYTHING, audience=follow.remote)
    return rows


@routes.get("/feeds/private/{token}.ics")
async def handle_member_calendar(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    db = request.app[DB]
    username = await feeds_db.member_for(db, token) if _TOKEN.match(token) else None
    member = await actors_db.get_local(db, username) if username else None
    if member is None or member.deleted_at is not None or member.kind != "member":
        raise web.HTTPNotFound(reason="no such calendar")
    name = f"{text(member.name, 80) or member.username} · {text(request.app[SETTINGS].name, 80)}"
    body = await _calendar(request, await member_rows(request, member), name)
    return _ics_response(body, "kantine.ics", private=True)


@routes.get("/me/calendar")
@page
async def handle_my_calendar(request: web.Request) -> web.StreamResponse:
    from .account import member_required

    me = await member_required(request)
    created = await feeds_db.created_at(request.app[DB], me.username)
    return await render(request, "my_calendar.html", created=created, url=None)


@routes.post("/me/calendar")
@page
async def handle_my_calendar_change(request: web.Request) -> web.StreamResponse:
    """Make a new private calendar link (shown once), or revoke the current one."""
    from .account import member_required

    form = await checked_form(request)
    me = await member_required(request)
    db = request.app[DB]
    now = iso(request.app[CLOCK]())
    if form.get("action") == "revoke":
        await db.write(lambda c: feeds_db.revoke(c, me.username))
        return await render(request, "my_calendar.html", created=None, url=None, revoked=True)
    if form.get("action") != "new":
        raise PageError("error.400", 400)
    token = secrets.token_urlsafe(32)
    await db.write(lambda c: feeds_db.replace(c, me.username, token, now))
    url = f"{request.app[URLS].base}/feeds/private/{token}.ics"
    response = await render(request, "my_calendar.html", created=now, url=url)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- Atom --------------------------------------------------------------------------------


def _atom_response(body: bytes) -> web.Response:
    return web.Response(
        body=body, content_type=atom.MEDIA_TYPE, charset="utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )  # fmt: skip


def _moment(value: str | None, fallback: datetime) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else fallback
    except ValueError:
        return fallback


@routes.get("/feeds/meetups.atom")
async def handle_meetups_atom(request: web.Request) -> web.Response:
    """Public meetups, newest first: ours and those of the networks we follow."""
    urls, settings, now = request.app[URLS], request.app[SETTINGS], request.app[CLOCK]()
    names = await _names(request)
    rows = await objects_db.listing(
        request.app[DB], type="Event", visibilities=PUBLIC, limit=50, newest_first=True
    )
    entries = []
    for row in rows:
        facts = read_event(row)
        if facts is None:
            continue
        network = names.get(row.host, text(row.host, 100))
        when = when_text(facts, "en") + f" ({facts.zone or 'UTC'})"
        where = facts.where or facts.online or ""
        title = ("CANCELLED: " if facts.cancelled else "") + facts.name
        entries.append(
            atom.AtomEntry(
                id=row.id,
                title=title,
                url=urls.base + meetup_path(row),
                published=_moment(row.published, now),
                updated=_moment(row.updated, now),
                summary=f"{when}. {where}".strip(),
                content_html=str(facts.description),
                author=network,
                categories=(network,),
            )
        )
    body = atom.build_feed(
        entries, feed_id=urls.base + "/feeds/meetups.atom", title=f"{text(settings.name, 100)}: meetups",
        subtitle="Meetups of the network and the networks it follows",
        self_url=urls.base + "/feeds/meetups.atom", page_url=urls.base + "/calendar",
        author=text(settings.name, 100), now=now,
    )  # fmt: skip
    return _atom_response(body)


@routes.get("/feeds/assignments.atom")
async def handle_assignments_atom(request: web.Request) -> web.Response:
    """Open public assignments, newest first: ours and those received from other networks."""
    urls, settings, now = request.app[URLS], request.app[SETTINGS], request.app[CLOCK]()
    names = await _names(request)
    service = services(request)["assignments"]
    rows = await service.listing(None, local=None, status="open", limit=50)
    rows = sorted((r for r in rows if r.visibility == "public"), key=lambda r: r.published)
    entries = []
    for row in reversed(rows):
        item = views.assignment_item(service.to_json(row), row, names)
        doc = row.document
        content = doc.get("content") if isinstance(doc, dict) else None
        facts = [item["place"], item["budget"], ", ".join(item["skills"])]
        entries.append(
            atom.AtomEntry(
                id=row.id,
                title=item["title"],
                url=urls.base + item["url"],
                published=_moment(row.published, now),
                updated=_moment(row.updated, now),
                summary=" · ".join(f for f in facts if f) or item["snippet"],
                content_html=str(clean_html(content)) if isinstance(content, str) else "",
                author=item["network"],
                categories=tuple(item["skills"][:10]),
            )
        )
    body = atom.build_feed(
        entries, feed_id=urls.base + "/feeds/assignments.atom",
        title=f"{text(settings.name, 100)}: assignments", subtitle="Open assignments",
        self_url=urls.base + "/feeds/assignments.atom", page_url=urls.base + "/board",
        author=text(settings.name, 100), now=now,
    )  # fmt: skip
    return _atom_response(body)
