"""HTTP for meetups: the JSON API (/api/v1/events, /rsvps, /series) and the ActivityPub extras.

The Event documents themselves are served by ``node.routes.objects`` (by visibility);
here are an event's ``attendees`` collection (the count only) and a series' collection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from protocol import models, vocab

from ..api.auth import ApiError, authenticate, optional_member, require_role
from ..clock import iso
from ..routes.actors import activity_json
from ..storage import actors as actors_db
from ..storage import events as events_db
from ..storage import objects as objects_db
from ..storage.actors import LocalActor
from ..storage.events import LocalEvent
from .event_docs import EventSpec, PlaceSpec, SpecError, api_view, parse_place, parse_time
from .visibility import can_view

if TYPE_CHECKING:
    from .events import Service

__all__ = ["EventInput", "routes"]

routes = web.RouteTableDef()
UNSET = msgspec.UNSET


class EventInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A meetup (or a change to one) as the API takes it; absent fields are left alone."""

    title: str | msgspec.UnsetType = UNSET
    description: str | msgspec.UnsetType = UNSET
    start: str | msgspec.UnsetType = UNSET
    end: str | msgspec.UnsetType | None = UNSET
    timezone: str | msgspec.UnsetType = UNSET
    place: str | PlaceSpec | msgspec.UnsetType | None = UNSET
    online: str | msgspec.UnsetType | None = UNSET
    capacity: int | msgspec.UnsetType | None = UNSET
    waitlist: bool | msgspec.UnsetType = UNSET
    join_mode: str | msgspec.UnsetType = UNSET
    external_url: str | msgspec.UnsetType | None = UNSET
    visibility: str | msgspec.UnsetType = UNSET
    organizers: list[str] | msgspec.UnsetType = UNSET
    project: str | msgspec.UnsetType = UNSET
    repeat: str | msgspec.UnsetType = UNSET
    horizon_days: int | msgspec.UnsetType | None = UNSET
    status: str | msgspec.UnsetType = UNSET


_FIELDS: tuple[str, ...] = ("title", "description", "online", "capacity", "waitlist")
_FIELDS += ("join_mode", "external_url", "visibility")
STATUSES = ("EventScheduled", "EventCancelled", "EventPostponed", "EventMovedOnline")


def _service(request: web.Request) -> Service:
    from ..app import RUNTIME

    return request.app[RUNTIME].services["events"]  # type: ignore[no-any-return]


async def _body(request: web.Request) -> EventInput:
    try:
        return msgspec.json.decode(await request.read(), type=EventInput)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ApiError(f"invalid body: {exc}") from exc


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        doc = msgspec.json.decode(await request.read() or b"{}")
    except msgspec.DecodeError as exc:
        raise ApiError(f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ApiError("the body must be a JSON object")
    return doc


async def organizer_iris(svc: Service, usernames: list[str]) -> list[str]:
    """Member IRIs of the named organisers; each must hold the organiser (or admin) role."""
    iris = []
    for username in usernames:
        actor = await actors_db.get_local(svc.db, username)
        if actor is None or actor.deleted_at is not None or actor.kind != "member":
            raise SpecError(f"no member {username!r}")
        if actor.role not in ("organiser", "admin"):
            raise SpecError(f"{username} is a {actor.role}; only organisers organise meetups")
        iris.append(svc.fed.actor_id(actor))
    return iris


async def project_actor(svc: Service, slug: str) -> LocalActor:
    actor = await actors_db.get_local(svc.db, slug)
    if actor is None or actor.kind != "project" or actor.deleted_at is not None:
        raise SpecError(f"no project {slug!r}")
    return actor


def changes_from(inp: EventInput) -> dict[str, Any]:
    """The spec fields an input sets, as stored JSON values."""
    changes: dict[str, Any] = {}
    for name in (*_FIELDS, "timezone"):
        value = getattr(inp, name)
        if value is not UNSET:
            changes[name] = value
    if inp.place is not UNSET:
        place = parse_place(inp.place) if isinstance(inp.place, str) else inp.place
        changes["place"] = msgspec.to_builtins(place) if place is not None else None
    return changes


async def create_from(svc: Service, actor: LocalActor, inp: EventInput) -> dict[str, Any]:
    """Create a meetup (or a series, with ``repeat``) as ``actor``; return the API view."""
    if inp.title is UNSET or inp.start is UNSET:
        raise SpecError("a meetup needs a title and a start")
    timezone = inp.timezone if inp.timezone is not UNSET else svc.rt.settings.timezone
    organizers = inp.organizers if inp.organizers is not UNSET else [actor.username]
    changes = changes_from(inp)
    changes["timezone"] = timezone
    changes["organizers"] = await organizer_iris(svc, organizers)
    spec = msgspec.convert(changes, EventSpec)
    start = parse_time(inp.start, timezone)
    end = parse_time(inp.end, timezone) if isinstance(inp.end, str) else None
    author = await project_actor(svc, inp.project) if inp.project is not UNSET else None
    if inp.repeat is not UNSET:
        horizon = inp.horizon_days if inp.horizon_days is not UNSET else None
        series, occurrences = await svc.series.create(
            spec, start, end, inp.repeat, author=author, horizon_days=horizon
        )
        return {
            "series": svc.series.view(series),
            "occurrences": [await view(svc, ev) for ev in occurrences],
        }
    ev = await svc.create(spec, start, end, author=author)
    assert ev is not None
    return await view(svc, ev)


async def apply_changes(svc: Service, ev: LocalEvent, inp: EventInput) -> LocalEvent:
    timezone = inp.timezone if inp.timezone is not UNSET else ev.spec["timezone"]
    changes = changes_from(inp)
    if inp.organizers is not UNSET:
        changes["organizers"] = await organizer_iris(svc, inp.organizers)
    if inp.status is not UNSET and inp.status not in STATUSES:
        raise SpecError(f"status must be one of {', '.join(STATUSES)}")
    return await svc.update(
        ev,
        changes,
        start=parse_time(inp.start, timezone) if inp.start is not UNSET else None,
        end=parse_time(inp.end, timezone) if isinstance(inp.end, str) else None,
        clear_end=inp.end is None,
        status=inp.status if inp.status is not UNSET else None,
    )


async def view(svc: Service, ev: LocalEvent) -> dict[str, Any]:
    return api_view(
        ev,
        accepted=await events_db.count(svc.db, ev.id),
        waitlisted=await events_db.count(svc.db, ev.id, "waitlist"),
    )


# -- helpers for the routes ----------------------------------------------------------------


async def _event(request: web.Request, svc: Service) -> LocalEvent:
    ev = await events_db.get_event(svc.db, request.match_info["id"])
    if ev is None:
        raise ApiError("no such meetup", status_hint=404)
    return ev


async def _managed(request: web.Request, svc: Service) -> tuple[LocalActor, LocalEvent]:
    actor = await authenticate(request)
    ev = await _event(request, svc)
    if not svc.may_manage(actor, ev.spec.get("organizers", [])):
        raise ApiError(f"{actor.username} does not organise this meetup", status_hint=403)
    return actor, ev


def _user_error(exc: Exception) -> ApiError:
    if isinstance(exc, LookupError):
        return ApiError(str(exc).strip("'\""), status_hint=404)
    return ApiError(str(exc))


# -- /api/v1/events -----------------------------------------------------------------------


@routes.post("/api/v1/events")
async def handle_create(request: web.Request) -> web.Response:
    actor = await authenticate(request)
    require_role(actor, "organiser")
    svc = _service(request)
    try:
        result = await create_from(svc, actor, await _body(request))
    except (SpecError, LookupError) as exc:
        raise _user_error(exc) from exc
    return web.json_response(result, status=201)


@routes.get("/api/v1/events")
async def handle_list(request: web.Request) -> web.Response:
    svc = _service(request)
    member = await optional_member(request)
    after = None if request.query.get("past") == "1" else iso(svc.rt.clock())
    series = None
    if "series" in request.query:
        found = await events_db.get_series(svc.db, request.query["series"])
        series = found.id if found else "-"
    events = await events_db.list_events(svc.db, starts_after=after, series=series)
    visible = [e for e in events if member is not None or e.spec.get("visibility") == "public"]
    return web.json_response([await view(svc, ev) for ev in visible])


@routes.get("/api/v1/events/{id}")
async def handle_show(request: web.Request) -> web.Response:
    svc = _service(request)
    member = await optional_member(request)
    ev = await _event(request, svc)
    if member is None and ev.spec.get("visibility") != "public":
        raise ApiError("no such meetup", status_hint=404)
    result = await view(svc, ev)
    if member is not None:
        mine = await events_db.participant(svc.db, ev.id, svc.fed.actor_id(member))
        result["my_rsvp"] = mine.state if mine else None
    return web.json_response(result)


@routes.patch("/api/v1/events/{id}")
async def handle_update(request: web.Request) -> web.Response:
    svc = _service(request)
    _, ev = await _managed(request, svc)
    try:
        ev = await apply_changes(svc, ev, await _body(request))
    except (SpecError, LookupError) as exc:
        raise _user_error(exc) from exc
    return web.json_response(await view(svc, ev))


@routes.post("/api/v1/events/{id}/cancel")
async def handle_cancel(request: web.Request) -> web.Response:
    svc = _service(request)
    _, ev = await _managed(request, svc)
    return web.json_response(await view(svc, await svc.cancel(ev)))


@routes.delete("/api/v1/events/{id}")
async def handle_delete(request: web.Request) -> web.Response:
    svc = _service(request)
    _, ev = await _managed(request, svc)
    await svc.delete(ev)
    return web.json_response({"deleted": ev.ident})


@routes.get("/api/v1/events/{id}/participants")
async def handle_participants(request: web.Request) -> web.Response:
    svc = _service(request)
    _, ev = await _managed(request, svc)
    states = tuple(request.query.getall("state", [])) or events_db.ACTIVE
    rows = await events_db.list_participants(svc.db, ev.id, states)
    return web.json_response(
        [{"actor": p.actor, "state": p.state, "since": p.joined_at} for p in rows]
    )


@routes.post("/api/v1/events/{id}/participants/decide")
async def handle_decide(request: web.Request) -> web.Response:
    svc = _service(request)
    _, ev = await _managed(request, svc)
    body = await _json(request)
    if not isinstance(body.get("actor"), str) or not isinstance(body.get("approve"), bool):
        raise ApiError('the body needs {"actor": IRI, "approve": true|false}')
    try:
        state = await svc.decide(ev, body["actor"], body["approve"])
    except LookupError as exc:
        raise _user_error(exc) from exc
    return web.json_response({"actor": body["actor"], "state": state})


@routes.post("/api/v1/events/{id}/rsvp")
async def handle_rsvp(request: web.Request) -> web.Response:
    member = await authenticate(request)
    svc = _service(request)
    ev = await _event(request, svc)
    state = await svc.rsvp(member, ev.id)
    return web.json_response({"event": ev.id, "state": state})


@routes.delete("/api/v1/events/{id}/rsvp")
async def handle_leave(request: web.Request) -> web.Response:
    member = await authenticate(request)
    svc = _service(request)
    ev = await _event(request, svc)
    former = await svc.withdraw(member, ev.id)
    return web.json_response({"event": ev.id, "state": "left", "was": former})


# -- /api/v1/rsvps: a member's RSVPs, to any node's meetups ------------------------------------


@routes.get("/api/v1/rsvps")
async def handle_my_rsvps(request: web.Request) -> web.Response:
    member = await authenticate(request)
    svc = _service(request)
    rows = await events_db.member_rsvps(svc.db, svc.fed.actor_id(member))
    return web.json_response(
        [{"event": p.event, "state": p.state, "since": p.joined_at} for p in rows]
    )


@routes.post("/api/v1/rsvps")
async def handle_rsvp_any(request: web.Request) -> web.Response:
    member = await authenticate(request)
    svc = _service(request)
    event = (await _json(request)).get("event")
    if not isinstance(event, str):
        raise ApiError('the body needs {"event": IRI}')
    try:
        state = await svc.rsvp(member, event)
    except LookupError as exc:
        raise _user_error(exc) from exc
    return web.json_response(
        {"event": event, "state": state}, status=202 if state == "pending" else 200
    )


@routes.delete("/api/v1/rsvps")
async def handle_leave_any(request: web.Request) -> web.Response:
    member = await authenticate(request)
    svc = _service(request)
    event = request.query.get("event")
    if not event:
        raise ApiError("?event=IRI is required")
    try:
        former = await svc.withdraw(member, event)
    except LookupError as exc:
        raise _user_error(exc) from exc
    return web.json_response({"event": event, "state": "left", "was": former})


# -- /api/v1/series ---------------------------------------------------------------------------


async def _series(request: web.Request, svc: Service, *, manage: bool) -> Any:
    found = await events_db.get_series(svc.db, request.match_info["id"])
    if found is None:
        raise ApiError("no such series", status_hint=404)
    if manage:
        actor = await authenticate(request)
        if not svc.may_manage(actor, found.template.get("organizers", [])):
            raise ApiError(f"{actor.username} does not organise this series", status_hint=403)
    return found


@routes.post("/api/v1/series")
async def handle_series_create(request: web.Request) -> web.Response:
    actor = await authenticate(request)
    require_role(actor, "organiser")
    svc = _service(request)
    inp = await _body(request)
    if inp.repeat is UNSET:
        raise ApiError("a series needs a repeat rule (RFC 5545 RRULE)")
    try:
        result = await create_from(svc, actor, inp)
    except (SpecError, LookupError) as exc:
        raise _user_error(exc) from exc
    return web.json_response(result, status=201)


@routes.get("/api/v1/series")
async def handle_series_list(request: web.Request) -> web.Response:
    svc = _service(request)
    member = await optional_member(request)
    found = await events_db.list_series(svc.db)
    visible = [s for s in found if member or s.template.get("visibility") == "public"]
    return web.json_response([svc.series.view(s) for s in visible])


@routes.get("/api/v1/series/{id}")
async def handle_series_show(request: web.Request) -> web.Response:
    svc = _service(request)
    s = await _series(request, svc, manage=False)
    if s.template.get("visibility") != "public" and await optional_member(request) is None:
        raise ApiError("no such series", status_hint=404)
    occurrences = await events_db.list_events(svc.db, series=s.id)
    return web.json_response(
        {**svc.series.view(s), "occurrences": [await view(svc, ev) for ev in occurrences]}
    )


@routes.patch("/api/v1/series/{id}")
async def handle_series_update(request: web.Request) -> web.Response:
    svc = _service(request)
    s = await _series(request, svc, manage=True)
    inp = await _body(request)
    if inp.start is not UNSET or inp.end is not UNSET or inp.repeat is not UNSET:
        raise ApiError("a series' times and rule cannot change; cancel it and start another")
    changes = changes_from(inp)
    try:
        if inp.organizers is not UNSET:
            changes["organizers"] = await organizer_iris(svc, inp.organizers)
        if inp.horizon_days is not UNSET:
            s.horizon_days = inp.horizon_days
        changed = await svc.series.update(s, changes)
    except SpecError as exc:
        raise _user_error(exc) from exc
    return web.json_response(
        {**svc.series.view(s), "occurrences": [await view(svc, ev) for ev in changed]}
    )


@routes.post("/api/v1/series/{id}/cancel")
async def handle_series_cancel(request: web.Request) -> web.Response:
    svc = _service(request)
    s = await _series(request, svc, manage=True)
    cancelled = await svc.series.cancel(s)
    return web.json_response({**svc.series.view(s), "cancelled_occurrences": len(cancelled)})


@routes.delete("/api/v1/series/{id}")
async def handle_series_delete(request: web.Request) -> web.Response:
    svc = _service(request)
    s = await _series(request, svc, manage=True)
    removed = await svc.series.delete(s)
    return web.json_response({"deleted": s.ident, "deleted_occurrences": removed})


# -- ActivityPub: attendees (the count only) and a series' occurrences --------------------------


@routes.get("/events/{ident}/attendees")
async def handle_attendees(request: web.Request) -> web.Response:
    svc = _service(request)
    row = await objects_db.get(svc.db, svc.urls.object("events", request.match_info["ident"]))
    if row is None or not row.local or not await can_view(request, row):
        raise web.HTTPNotFound(reason="no such meetup")
    doc = models.Collection(
        context=vocab.CONTEXT,
        id=row.id + "/attendees",
        total_items=await events_db.count(svc.db, row.id),
    )
    return activity_json(models.to_dict(doc))


@routes.get("/series/{ident}")
async def handle_series_collection(request: web.Request) -> web.Response:
    svc = _service(request)
    s = await events_db.get_series(svc.db, svc.urls.object("series", request.match_info["ident"]))
    if s is None or not await can_view(request, {"visibility": s.template.get("visibility")}):
        raise web.HTTPNotFound(reason="no such series")
    occurrences = await events_db.list_events(svc.db, series=s.id, limit=500)
    doc = models.OrderedCollection(
        context=vocab.CONTEXT,
        id=s.id,
        total_items=len(occurrences),
        ordered_items=[ev.id for ev in occurrences],
    )
    return activity_json(models.to_dict(doc))
