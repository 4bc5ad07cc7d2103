"""The assignments JSON API under /api/v1 (docs/api.md, "Assignments")."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from aiohttp import web

from ...api.auth import ApiError, authenticate, optional_member
from ...app import RUNTIME
from ...storage import actors as actors_db
from .documents import Budget, Draft, parse_deadline
from .offers import offer_json
from .service import DEFAULT_VISIBILITY, Service

__all__ = ["routes"]

routes = web.RouteTableDef()
UNSET: Any = msgspec.UNSET


class BudgetIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: str
    currency: str = "EUR"


class AssignmentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A POST or PATCH body; fields left out are not changed (PATCH)."""

    title: str | msgspec.UnsetType = UNSET
    description: str | msgspec.UnsetType = UNSET
    skills: list[str] | msgspec.UnsetType = UNSET
    place: str | msgspec.UnsetType | None = UNSET
    remote: bool | msgspec.UnsetType = UNSET
    deadline: str | msgspec.UnsetType | None = UNSET
    budget: str | BudgetIn | msgspec.UnsetType | None = UNSET
    visibility: Literal["public", "cooperative", "network"] | msgspec.UnsetType = UNSET
    author: str | msgspec.UnsetType = UNSET


class OfferIn(msgspec.Struct, forbid_unknown_fields=True):
    assignment: str
    message: str = ""


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str | None = None


def _service(request: web.Request) -> Service:
    return request.app[RUNTIME].services["assignments"]  # type: ignore[no-any-return]


async def _body(request: web.Request, kind: type[Any]) -> Any:
    raw = await request.read()
    try:
        return msgspec.json.decode(raw or b"{}", type=kind)
    except msgspec.ValidationError as exc:
        raise ApiError(f"invalid body: {exc}", status_hint=400) from exc
    except msgspec.DecodeError as exc:
        raise ApiError(f"the body is not JSON: {exc}", status_hint=400) from exc


def _changes(body: AssignmentIn, timezone: str) -> dict[str, Any]:
    """The draft fields a body sets (Draft field names and types)."""
    changes: dict[str, Any] = {}
    for name in ("title", "description", "place", "remote"):
        value = getattr(body, name)
        if value is not UNSET:
            changes[name] = value
    if isinstance(body.skills, list):
        changes["skills"] = tuple(body.skills)
    if not isinstance(body.deadline, msgspec.UnsetType):
        changes["deadline"] = parse_deadline(body.deadline, timezone) if body.deadline else None
    if not isinstance(body.budget, msgspec.UnsetType):
        budget = body.budget
        if isinstance(budget, str):
            changes["budget"] = Budget.parse(budget)
        elif isinstance(budget, BudgetIn):
            changes["budget"] = Budget(budget.amount, budget.currency.upper()).checked()
        else:
            changes["budget"] = None
    return changes


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


async def _local_actor(service: Service, username: str) -> actors_db.LocalActor:
    actor = await actors_db.get_local(service.db, username)
    if actor is None or actor.deleted_at is not None:
        raise ApiError(f"no member {username!r}", status_hint=404)
    return actor


# -- assignments ------------------------------------------------------------------------


@routes.post("/api/v1/assignments")
async def handle_create(request: web.Request) -> web.Response:
    member = await authenticate(request)
    service = _service(request)
    body: AssignmentIn = await _body(request, AssignmentIn)
    author = member
    if isinstance(body.author, str) and body.author != member.username:
        author = await _local_actor(service, body.author)
        service.may_manage(member, author)
    changes = _changes(body, service.rt.settings.timezone)
    if not changes.get("title"):
        raise ApiError("an assignment needs a title", status_hint=400)
    visibility = body.visibility if isinstance(body.visibility, str) else DEFAULT_VISIBILITY
    row = await service.create(author, Draft(**changes), visibility)
    return _json(service.to_json(row), 201)


@routes.get("/api/v1/assignments")
async def handle_list(request: web.Request) -> web.Response:
    viewer = await optional_member(request)
    service = _service(request)
    query = request.query
    author = await _local_actor(service, query["author"]) if "author" in query else None
    status = query.get("status", "open")
    rows = await service.listing(
        viewer,
        local=True,
        author=author,
        skill=query.get("skill"),
        status=None if status == "all" else status,
    )
    return _json({"items": [service.to_json(r) for r in rows]})


@routes.get("/api/v1/board")
async def handle_board(request: web.Request) -> web.Response:
    """Local and received assignments the caller may see (anonymous: public only)."""
    viewer = await optional_member(request)
    service = _service(request)
    status = request.query.get("status", "open")
    rows = await service.listing(
        viewer,
        local=None,
        skill=request.query.get("skill"),
        status=None if status == "all" else status,
    )
    return _json({"items": [service.to_json(r) for r in rows]})


@routes.get("/api/v1/assignments/{id}")
async def handle_show(request: web.Request) -> web.Response:
    viewer = await optional_member(request)
    service = _service(request)
    row = await service.get(request.match_info["id"])
    if viewer is None and row.visibility != "public":
        raise ApiError(f"no assignment {request.match_info['id']}", status_hint=404)
    return _json(service.to_json(row))


@routes.patch("/api/v1/assignments/{id}")
async def handle_edit(request: web.Request) -> web.Response:
    member = await authenticate(request)
    service = _service(request)
    body: AssignmentIn = await _body(request, AssignmentIn)
    if body.author is not UNSET:
        raise ApiError("the author of an assignment cannot change", status_hint=400)
    changes = _changes(body, service.rt.settings.timezone)
    if body.visibility is not UNSET:
        changes["visibility"] = body.visibility
    row = await service.edit(member, request.match_info["id"], changes)
    return _json(service.to_json(row))


@routes.delete("/api/v1/assignments/{id}")
async def handle_remove(request: web.Request) -> web.Response:
    member = await authenticate(request)
    service = _service(request)
    row = await service.remove(member, request.match_info["id"])
    return _json({"deleted": row.id})


@routes.post("/api/v1/assignments/{id}/withdraw")
async def handle_withdraw(request: web.Request) -> web.Response:
    member = await authenticate(request)
    service = _service(request)
    row = await service.set_status(member, request.match_info["id"], "withdrawn")
    return _json(service.to_json(row))


@routes.post("/api/v1/assignments/{id}/fill")
async def handle_fill(request: web.Request) -> web.Response:
    member = await authenticate(request)
    service = _service(request)
    row = await service.set_status(member, request.match_info["id"], "filled")
    return _json(service.to_json(row))


# -- offers -----------------------------------------------------------------------------


@routes.get("/api/v1/assignments/{id}/offers")
async def handle_offers(request: web.Request) -> web.Response:
    member = await authenticate(request)
    offers = await _service(request).offers.for_assignment(member, request.match_info["id"])
    return _json({"items": [offer_json(o) for o in offers]})


@routes.post("/api/v1/assignments/offer")
async def handle_make_offer(request: web.Request) -> web.Response:
    member = await authenticate(request)
    body: OfferIn = await _body(request, OfferIn)
    offer = await _service(request).offers.make(member, body.assignment, body.message)
    return _json(offer_json(offer), 201)


@routes.get("/api/v1/offers")
async def handle_my_offers(request: web.Request) -> web.Response:
    member = await authenticate(request)
    offers = await _service(request).offers.mine(member)
    return _json({"items": [offer_json(o) for o in offers]})


@routes.post("/api/v1/offers/{id}/{answer:accept|reject}")
async def handle_answer(request: web.Request) -> web.Response:
    member = await authenticate(request)
    body: AnswerIn = await _body(request, AnswerIn)
    accept = request.match_info["answer"] == "accept"
    offer = await _service(request).offers.answer(
        member, request.match_info["id"], accept, body.reason
    )
    return _json(offer_json(offer))
