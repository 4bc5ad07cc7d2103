"""Organisers' forms: create a meetup (once or recurring), edit it, cancel it.

The forms speak the events service's language (``EventSpec``, ``SpecError``): a date, wall
times in the meetup's time zone, and for a series an RFC 5545 rule built from a choice
("every week", "the first Tuesday of the month", ...) or typed in.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta
from typing import Any

import msgspec
from aiohttp import web
from multidict import MultiDictProxy

from ..appkeys import CLOCK, DB, SETTINGS
from ..content.event_docs import EventSpec, PlaceSpec, SpecError, local_times, zone
from ..storage import actors as actors_db
from ..storage import events as events_db
from ..storage.actors import LocalActor
from ..storage.events import LocalEvent
from . import meetup_strings
from .i18n import PageError
from .render import message, page, redirect, render, services
from .sessions import checked_form

__all__ = ["REPEATS", "repeat_rule", "routes"]

meetup_strings.install()
routes = web.RouteTableDef()

#: The recurrence choices of the form (``custom`` takes a typed RRULE).
REPEATS = ("", "weekly", "biweekly", "monthly_weekday", "monthly_date", "custom")
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_JOIN_MODES = ("free", "restricted", "invite", "external")
_VISIBILITIES = ("public", "cooperative", "network")
_STATUSES = ("EventScheduled", "EventPostponed", "EventMovedOnline", "EventCancelled")
_FIELDS = (
    "title", "description", "date", "start_time", "end_time", "timezone", "place_name",
    "street", "postal_code", "city", "online", "capacity", "join_mode", "external_url",
    "visibility", "project", "repeat", "rrule", "until", "status",
)  # fmt: skip


def repeat_rule(
    choice: str, start: date, custom: str = "", until: date | None = None
) -> str | None:
    """The RRULE for a form's choice, anchored at ``start`` (None: it does not repeat)."""
    if choice == "weekly":
        rule = "FREQ=WEEKLY"
    elif choice == "biweekly":
        rule = "FREQ=WEEKLY;INTERVAL=2"
    elif choice == "monthly_weekday":
        nth = (start.day - 1) // 7 + 1
        rule = f"FREQ=MONTHLY;BYDAY={-1 if nth == 5 else nth}{_DAYS[start.weekday()]}"
    elif choice == "monthly_date":
        rule = f"FREQ=MONTHLY;BYMONTHDAY={start.day}"
    elif choice == "custom":
        rule = custom.strip().removeprefix("RRULE:")
        if not rule:
            raise SpecError("type a repeat rule, e.g. FREQ=MONTHLY;BYDAY=1WE")
        if "UNTIL=" in rule.upper() or "COUNT=" in rule.upper():
            until = None
    else:
        return None
    if until is not None:
        rule += f";UNTIL={until:%Y%m%d}T235959"  # wall time, like the series' start
    return rule


def _organiser(member: LocalActor) -> None:
    if member.role not in ("organiser", "admin"):
        raise PageError("error.organisers_only", 403)


def _values(form: MultiDictProxy[Any]) -> dict[str, Any]:
    values = {name: str(form.get(name) or "").strip()[:5000] for name in _FIELDS}
    values["waitlist"] = form.get("waitlist") == "yes"
    values["series_too"] = form.get("series_too") == "yes"
    return values


def _parse(values: dict[str, Any], errors: dict[str, str], t: Any) -> Any:
    """``(changes, start, end)`` from the form's values; problems go into ``errors``."""
    tz_name = values["timezone"]
    try:
        tz = zone(tz_name)
    except SpecError:
        errors["timezone"] = t("form.bad_timezone")
        return None
    if not values["title"]:
        errors["title"] = t("form.required")
    try:
        day = date.fromisoformat(values["date"])
    except ValueError:
        errors["date"] = t("form.bad_date")
        return None
    try:
        start = datetime.combine(day, time.fromisoformat(values["start_time"]), tz)
    except ValueError:
        errors["start_time"] = t("form.bad_time")
        return None
    end = None
    if values["end_time"]:
        try:
            end = datetime.combine(day, time.fromisoformat(values["end_time"]), tz)
        except ValueError:
            errors["end_time"] = t("form.bad_time")
            return None
        if end <= start:
            end += timedelta(days=1)  # ends after midnight
    capacity = None
    if values["capacity"]:
        if not values["capacity"].isdigit() or not 1 <= int(values["capacity"]) <= 100_000:
            errors["capacity"] = t("form.bad_capacity")
        else:
            capacity = int(values["capacity"])
    place = None
    if values["place_name"] or values["street"] or values["city"]:
        place = PlaceSpec(
            name=values["place_name"] or None,
            street_address=values["street"] or None,
            postal_code=values["postal_code"] or None,
            address_locality=values["city"] or None,
        )
    changes = {
        "title": values["title"],
        "description": values["description"],
        "timezone": tz_name,
        "place": msgspec.to_builtins(place) if place else None,
        "online": values["online"] or None,
        "capacity": capacity,
        "waitlist": values["waitlist"] and capacity is not None,
        "join_mode": values["join_mode"] if values["join_mode"] in _JOIN_MODES else "free",
        "external_url": values["external_url"] or None,
        "visibility": values["visibility"] if values["visibility"] in _VISIBILITIES else "public",
    }
    return changes, start, end


async def _form(
    request: web.Request,
    values: dict[str, Any],
    *,
    ev: LocalEvent | None = None,
    errors: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> web.Response:
    projects = [(p.username, p.name) for p in await services(request)["projects"].hosted()]
    return await render(
        request,
        "event_form.html",
        status=status,
        v=values,
        ev=ev,
        errors=errors or {},
        error=error,
        projects=projects,
        zones=sorted(zoneinfo.available_timezones()),
        repeats=REPEATS,
        join_modes=_JOIN_MODES,
        visibilities=_VISIBILITIES,
        statuses=_STATUSES,
    )


@routes.get("/meetups/new")
@page
async def handle_new_form(request: web.Request) -> web.StreamResponse:
    from .account import member_required

    _organiser(await member_required(request))
    settings = request.app[SETTINGS]
    tomorrow = request.app[CLOCK]().astimezone(zone(settings.timezone)).date() + timedelta(days=1)
    values: dict[str, Any] = dict.fromkeys(_FIELDS, "")
    values.update(
        date=tomorrow.isoformat(), start_time="19:00", end_time="21:00",
        timezone=settings.timezone, join_mode="free", visibility="public", waitlist=False,
    )  # fmt: skip
    return await _form(request, values)


@routes.post("/meetups/new")
@page
async def handle_new(request: web.Request) -> web.StreamResponse:
    from .account import member_required

    form = await checked_form(request)
    member = await member_required(request)
    _organiser(member)
    values = _values(form)
    errors: dict[str, str] = {}
    t = lambda key, **kw: message(request, key, **kw)  # noqa: E731
    parsed = _parse(values, errors, t)
    if errors or parsed is None:
        return await _form(request, values, errors=errors, status=400)
    changes, start, end = parsed
    svc = services(request)["events"]
    changes["organizers"] = [svc.fed.actor_id(member)]
    author = None
    if values["project"]:
        author = await actors_db.get_local(request.app[DB], values["project"])
        if author is None or author.kind != "project" or author.deleted_at is not None:
            return await _form(request, values, errors={"project": t("form.required")}, status=400)
    try:
        spec = msgspec.convert(changes, EventSpec)
        until = date.fromisoformat(values["until"]) if values["until"] else None
        rule = repeat_rule(values["repeat"], start.date(), values["rrule"], until)
        if rule is None:
            ev = await svc.create(spec, start, end, author=author)
            assert ev is not None
            return redirect("/events/" + ev.ident, "meetup_created")
        _, occurrences = await svc.series.create(spec, start, end, rule, author=author)
    except (SpecError, ValueError, msgspec.ValidationError) as exc:
        return await _form(request, values, error=str(exc), status=400)
    target = "/events/" + occurrences[0].ident if occurrences else "/calendar"
    return redirect(target, "series_created")


async def _managed(request: web.Request) -> tuple[LocalActor, LocalEvent]:
    from .account import member_required

    member = await member_required(request)
    ev = await events_db.get_event(request.app[DB], request.match_info["ident"])
    if ev is None:
        raise PageError("error.not_found", 404)
    if not services(request)["events"].may_manage(member, ev.spec.get("organizers", [])):
        raise PageError("error.organisers_only", 403)
    return member, ev


def _event_values(ev: LocalEvent) -> dict[str, Any]:
    spec = msgspec.convert(ev.spec, EventSpec)
    start, end = local_times(ev, spec)
    place = spec.place or PlaceSpec()
    return {
        **dict.fromkeys(_FIELDS, ""),
        "title": spec.title, "description": spec.description, "date": start.date().isoformat(),
        "start_time": f"{start:%H:%M}", "end_time": f"{end:%H:%M}" if end else "",
        "timezone": spec.timezone, "place_name": place.name or "",
        "street": place.street_address or "", "postal_code": place.postal_code or "",
        "city": place.address_locality or "", "online": spec.online or "",
        "capacity": str(spec.capacity or ""), "waitlist": spec.waitlist,
        "join_mode": spec.join_mode, "external_url": spec.external_url or "",
        "visibility": spec.visibility, "status": ev.status, "series_too": False,
    }  # fmt: skip


@routes.get("/events/{ident}/edit")
@page
async def handle_edit_form(request: web.Request) -> web.StreamResponse:
    _, ev = await _managed(request)
    return await _form(request, _event_values(ev), ev=ev)


@routes.post("/events/{ident}/edit")
@page
async def handle_edit(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    _, ev = await _managed(request)
    values = _values(form)
    errors: dict[str, str] = {}
    t = lambda key, **kw: message(request, key, **kw)  # noqa: E731
    parsed = _parse(values, errors, t)
    if errors or parsed is None:
        return await _form(request, values, ev=ev, errors=errors, status=400)
    changes, start, end = parsed
    status = values["status"] if values["status"] in _STATUSES else None
    svc = services(request)["events"]
    try:
        if values["series_too"] and ev.series is not None:
            series = await events_db.get_series(request.app[DB], ev.series)
            if series is not None:
                await svc.series.update(series, changes)
                ev = await svc.get(ev.id)
        await svc.update(ev, changes, start=start, end=end, clear_end=end is None, status=status)
    except (SpecError, ValueError, msgspec.ValidationError) as exc:
        return await _form(request, values, ev=ev, error=str(exc), status=400)
    return redirect("/events/" + ev.ident, "meetup_saved")


@routes.post("/events/{ident}/cancel")
@page
async def handle_cancel(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    _, ev = await _managed(request)
    if form.get("confirm") != "yes":
        raise PageError("error.confirm_needed", 400)
    await services(request)["events"].cancel(ev)
    return redirect("/events/" + ev.ident, "meetup_cancelled")
