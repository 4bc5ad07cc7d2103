"""The members part of the JSON API (``/api/v1/members``, ``/api/v1/me``); see docs/api.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from aiohttp import web

from ...api.auth import authenticate, optional_member
from ...appkeys import URLS
from .cards import CardChange, NewMember, member_json, parse_body

if TYPE_CHECKING:
    from .service import Service

__all__ = ["routes"]

routes = web.RouteTableDef()
_MEMBER = "/api/v1/members/{username}"


class _TokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    label: str = ""


def _service(request: web.Request) -> Service:
    from ...app import RUNTIME  # the app imports the content modules: import it late

    return request.app[RUNTIME].services["members"]  # type: ignore[no-any-return]


@routes.post("/api/v1/members")
async def handle_add(request: web.Request) -> web.Response:
    by = await authenticate(request)
    new = parse_body(await request.read(), NewMember)
    actor = await _service(request).add(new, by=by)
    return web.json_response(member_json(actor, request.app[URLS], "network"), status=201)


@routes.get("/api/v1/members")
async def handle_list(request: web.Request) -> web.Response:
    viewer = "network" if await optional_member(request) else "public"
    urls = request.app[URLS]
    members = await _service(request).members()
    return web.json_response({"members": [member_json(m, urls, viewer) for m in members]})


@routes.get(_MEMBER)
async def handle_show(request: web.Request) -> web.Response:
    viewer = "network" if await optional_member(request) else "public"
    actor = await _service(request).get(request.match_info["username"])
    return web.json_response(member_json(actor, request.app[URLS], viewer))


@routes.patch(_MEMBER)
async def handle_update(request: web.Request) -> web.Response:
    by = await authenticate(request)
    change = parse_body(await request.read(), CardChange)
    actor = await _service(request).update(request.match_info["username"], change, by=by)
    return web.json_response(member_json(actor, request.app[URLS], "network"))


@routes.delete(_MEMBER)
async def handle_remove(request: web.Request) -> web.Response:
    by = await authenticate(request)
    actor = await _service(request).remove(request.match_info["username"], by=by)
    return web.json_response({"deleted": actor.username, "id": request.app[URLS].actor(actor.path)})


@routes.post(_MEMBER + "/tokens")
async def handle_token(request: web.Request) -> web.Response:
    by = await authenticate(request)
    body = await request.read()
    label = parse_body(body, _TokenRequest).label if body.strip() else ""
    username = request.match_info["username"]
    token = await _service(request).new_token(username, by=by, label=label[:100])
    return web.json_response({"username": username, "token": token}, status=201)


@routes.get("/api/v1/me")
async def handle_me(request: web.Request) -> web.Response:
    me = await authenticate(request)
    urls = request.app[URLS]
    if me.kind != "member":  # the network's admin token
        return web.json_response(
            {"username": me.username, "id": urls.actor(me.path), "kind": me.kind, "role": me.role}
        )
    return web.json_response(member_json(me, urls, "network") | {"kind": "member"})
