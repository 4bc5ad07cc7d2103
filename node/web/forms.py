"""Assignment forms: post and edit an assignment, fill or withdraw it, respond, answer offers."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from protocol.errors import ProtocolError

from ..appkeys import DB, SETTINGS, URLS
from ..content.assignments.documents import Budget, Draft, draft_from_document, parse_deadline
from ..storage import objects as objects_db
from .account import member_required
from .pages import assignment_page
from .render import page, redirect, render, services
from .sessions import checked_form
from .views import assignment_url

__all__ = ["routes"]

routes = web.RouteTableDef()
_EDIT = "/assignments/{ident}/edit"


def _empty_form() -> dict[str, Any]:
    return {
        "title": "",
        "description": "",
        "skills": "",
        "place": "",
        "remote": False,
        "deadline": "",
        "budget": "",
        "visibility": "cooperative",
    }


def _shown(form: Any) -> dict[str, Any]:
    shown = {k: str(form.get(k) or "") for k in _empty_form() if k != "remote"}
    return shown | {"remote": bool(form.get("remote"))}


def _draft_fields(form: dict[str, Any], timezone: str) -> dict[str, Any]:
    """Draft fields from the form (raises ``ApiError`` 400 naming a bad deadline or budget)."""
    return {
        "title": form["title"],
        "description": form["description"].replace("\r\n", "\n"),
        "skills": tuple(
            s.strip() for s in form["skills"].replace(";", ",").split(",") if s.strip()
        ),
        "place": form["place"].strip() or None,
        "remote": form["remote"],
        "deadline": parse_deadline(form["deadline"], timezone)
        if form["deadline"].strip()
        else None,
        "budget": Budget.parse(form["budget"]) if form["budget"].strip() else None,
    }


def _form_of(document: dict[str, Any]) -> dict[str, Any]:
    draft = draft_from_document(document)
    return {
        "title": draft.title,
        "description": draft.description,
        "skills": ", ".join(draft.skills),
        "place": draft.place or "",
        "remote": draft.remote,
        "deadline": draft.deadline.date().isoformat() if draft.deadline else "",
        "budget": f"{draft.budget.amount} {draft.budget.currency}" if draft.budget else "",
        "visibility": "",
    }


@routes.get("/board/new")
@page
async def handle_new_form(request: web.Request) -> web.StreamResponse:
    await member_required(request)
    return await render(
        request,
        "assignment_form.html",
        form=_empty_form(),
        editing=False,
        action="/board/new",
        cancel="/board",
        error="",
    )


@routes.post("/board/new")
@page
async def handle_new(request: web.Request) -> web.StreamResponse:
    me = await member_required(request)
    shown = _shown(await checked_form(request))
    service = services(request)["assignments"]
    try:
        draft = Draft(**_draft_fields(shown, request.app[SETTINGS].timezone))
        row = await service.create(me, draft, shown["visibility"] or "cooperative")
    except ProtocolError as exc:
        return await render(
            request,
            "assignment_form.html",
            status=exc.status_hint,
            form=shown,
            editing=False,
            action="/board/new",
            cancel="/board",
            error=exc.reason,
        )
    return redirect("/assignments/" + service.ident(row), "published")


async def _own(request: web.Request) -> objects_db.StoredObject:
    """The local assignment of the URL, which the signed-in member may manage (403 otherwise)."""
    me = await member_required(request)
    service = services(request)["assignments"]
    row = await service.get(request.match_info["ident"])
    service.may_manage(me, await service.author_of(row))
    return row  # type: ignore[no-any-return]


@routes.get(_EDIT)
@page
async def handle_edit_form(request: web.Request) -> web.StreamResponse:
    row = await _own(request)
    path = "/assignments/" + request.match_info["ident"]
    return await render(
        request,
        "assignment_form.html",
        form=_form_of(row.document),
        editing=True,
        action=path + "/edit",
        cancel=path,
        error="",
    )


@routes.post(_EDIT)
@page
async def handle_edit(request: web.Request) -> web.StreamResponse:
    row = await _own(request)
    me = await member_required(request)
    shown = _shown(await checked_form(request))
    path = "/assignments/" + request.match_info["ident"]
    service = services(request)["assignments"]
    try:
        await service.edit(me, row.id, _draft_fields(shown, request.app[SETTINGS].timezone))
    except ProtocolError as exc:
        return await render(
            request,
            "assignment_form.html",
            status=exc.status_hint,
            form=shown,
            editing=True,
            action=path + "/edit",
            cancel=path,
            error=exc.reason,
        )
    return redirect(path, "saved")


@routes.post("/assignments/{ident}/status")
@page
async def handle_status(request: web.Request) -> web.StreamResponse:
    row = await _own(request)
    me = await member_required(request)
    form = await checked_form(request)
    status = str(form.get("status") or "")
    if status not in ("filled", "withdrawn"):
        raise web.HTTPBadRequest(text="status must be filled or withdrawn")
    await services(request)["assignments"].set_status(me, row.id, status)
    return redirect("/assignments/" + request.match_info["ident"], status)


@routes.post("/board/respond")
@page
async def handle_respond(request: web.Request) -> web.StreamResponse:
    """A member offers to take an assignment (ours or another network's): ``Offer{Agreement}``."""
    me = await member_required(request)
    form = await checked_form(request)
    ref = str(form.get("assignment") or "")
    text = str(form.get("message") or "").replace("\r\n", "\n")[:5000]
    service = services(request)["assignments"]
    iri = service.iri(ref)
    row = await objects_db.get(request.app[DB], iri)
    if row is None or row.type != "Proposal":
        raise web.HTTPNotFound()
    target = assignment_url(row)
    try:
        await service.offers.make(me, ref, text)
    except ProtocolError as exc:
        return await assignment_page(
            request, row, status=exc.status_hint, message=text, error=exc.reason
        )
    return redirect(target, "offer_sent")


@routes.post("/offers/{id}/answer")
@page
async def handle_answer(request: web.Request) -> web.StreamResponse:
    """The assignment's author accepts or rejects an offer."""
    me = await member_required(request)
    form = await checked_form(request)
    answer = str(form.get("answer") or "")
    if answer not in ("accept", "reject"):
        raise web.HTTPBadRequest(text="answer must be accept or reject")
    offers = services(request)["assignments"].offers
    offer = await offers.answer(me, request.match_info["id"], answer == "accept")
    local = request.app[URLS].local_path(offer.assignment) or "/me"
    return redirect(local, "offer_" + offer.state)
