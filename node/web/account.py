"""Signing in and out, and a member's own pages: their card, their offers, leaving the network."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from protocol.errors import ProtocolError

from ..appkeys import DB
from ..content.members.cards import CardChange, Link, card_visibility
from ..storage import sessions as sessions_db
from ..storage.actors import LocalActor
from . import views
from .i18n import PageError
from .pages import network_labels
from .passwords import verify
from .render import message, page, redirect, render, services
from .sessions import checked_form, end_session, start_session, visitor

__all__ = ["member_required", "routes"]

routes = web.RouteTableDef()


def _next(value: object) -> str:
    """Where to go after signing in: a local path only (never ``//host`` or a URL)."""
    target = str(value or "/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target if target not in ("/signin", "/signout") else "/"


async def member_required(request: web.Request) -> LocalActor:
    """The signed-in member; a visitor who is not signed in is sent to the sign-in page."""
    who = await visitor(request)
    if who.member is None:
        if request.method == "GET":
            raise web.HTTPSeeOther("/signin?next=" + quote(request.path_qs, safe="/"))
        raise PageError("error.signin_needed", 401)
    return who.member


@routes.get("/signin")
@page
async def handle_signin_form(request: web.Request) -> web.StreamResponse:
    who = await visitor(request)
    target = _next(request.query.get("next"))
    if who.member is not None:
        raise web.HTTPSeeOther(target)
    return await render(request, "signin.html", next=target, username="", failed=False)


@routes.post("/signin")
@page
async def handle_signin(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    username = str(form.get("username") or "").strip().lower()[:30]
    password = str(form.get("password") or "")
    target = _next(form.get("next"))
    member = None
    if username:
        try:
            member = await services(request)["members"].get(username)
        except ProtocolError:
            member = None
    ok = await verify(request.app[DB], username, password)  # runs even for unknown names
    if member is None or not ok:
        return await render(
            request, "signin.html", status=401, next=target, username=username, failed=True
        )
    response = redirect(target)
    await start_session(request, response, member.username)
    return response


@routes.post("/signout")
@page
async def handle_signout(request: web.Request) -> web.StreamResponse:
    await checked_form(request)
    response = redirect("/", "signed_out")
    await end_session(request, response)
    return response


@routes.get("/me")
@page
async def handle_me(request: web.Request) -> web.StreamResponse:
    me = await member_required(request)
    service = services(request)["assignments"]
    names = await network_labels(request)
    rows = await service.listing(me, local=True, author=me, status=None, limit=200)
    mine = [views.assignment_item(service.to_json(r), r, names) for r in rows]
    my_id = service.fed.actor_id(me)
    offers = []
    for o in await service.offers.mine(me):
        row = await service.get(o.assignment, local=False) if o.assignment else None
        offers.append(
            {
                "title": views.text(row.name if row else o.assignment, 100),
                "url": views.assignment_url(row) if row else "/board",
                "actor": views.text(o.actor, 200),
                "mine": o.actor == my_id,
                "state": o.state,
                "created": o.created_at,
            }
        )
    return await render(
        request, "me.html", assignments=mine, offers=offers, card_visibility=card_visibility(me)
    )


def _card_form(me: LocalActor) -> dict[str, Any]:
    profile = me.profile
    return {
        "name": me.name,
        "summary": me.summary,
        "discipline": profile.get("discipline", ""),
        "city": profile.get("city", ""),
        "skills": ", ".join(profile.get("skills", [])),
        "website": profile.get("website", ""),
        "links": "\n".join(f"{x['name']} = {x['value']}" for x in profile.get("links", [])),
        "available": bool(profile.get("available", False)),
        "visibility": card_visibility(me),
    }


@routes.get("/me/card")
@page
async def handle_card_form(request: web.Request) -> web.StreamResponse:
    me = await member_required(request)
    return await render(request, "card_form.html", form=_card_form(me), error="")


def _links(value: str) -> list[Link]:
    links = []
    for line in value.splitlines():
        if not line.strip():
            continue
        label, sep, url = line.partition("=")
        if not sep:
            raise PageError("error.link_format", 400)
        links.append(Link(name=label.strip(), value=url.strip()))
    return links


@routes.post("/me/card")
@page
async def handle_card(request: web.Request) -> web.StreamResponse:
    me = await member_required(request)
    form = await checked_form(request)
    fields = {
        k: str(form.get(k) or "")
        for k in (
            "name",
            "summary",
            "discipline",
            "city",
            "website",
            "links",
            "skills",
            "visibility",
        )
    }
    shown = fields | {"available": bool(form.get("available"))}
    try:
        change = CardChange(
            name=fields["name"],
            summary=fields["summary"],
            discipline=fields["discipline"],
            city=fields["city"],
            website=fields["website"].strip(),
            skills=[
                s.strip().lstrip("#")
                for s in fields["skills"].replace(";", ",").split(",")
                if s.strip()
            ],
            links=_links(fields["links"]),
            available=bool(form.get("available")),
            visibility=fields["visibility"] or card_visibility(me),
        )
        await services(request)["members"].update(me.username, change, by=me)
    except PageError as exc:
        error = message(request, exc.key)
        return await render(request, "card_form.html", status=400, form=shown, error=error)
    except ProtocolError as exc:
        return await render(
            request, "card_form.html", status=exc.status_hint, form=shown, error=exc.reason
        )
    return redirect("/me", "card_saved")


@routes.get("/me/leave")
@page
async def handle_leave_form(request: web.Request) -> web.StreamResponse:
    await member_required(request)
    return await render(request, "leave.html", error="")


@routes.post("/me/leave")
@page
async def handle_leave(request: web.Request) -> web.StreamResponse:
    """Leave the network: the card is deleted here and on every node that holds it."""
    me = await member_required(request)
    form = await checked_form(request)
    if str(form.get("confirm") or "").strip().lower() != me.username:
        error = message(request, "leave.mismatch")
        return await render(request, "leave.html", status=400, error=error)
    await services(request)["members"].remove(me.username, by=me)
    await request.app[DB].write(lambda c: sessions_db.delete_for(c, me.username))
    response = redirect("/", "left")
    await end_session(request, response)
    return response
