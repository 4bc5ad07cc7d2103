"""The account part of the JSON API: export, deleting one's account, key rotation (docs/api.md)."""

from __future__ import annotations

import msgspec
from aiohttp import web

from ...api.auth import ApiError, authenticate, require_role
from ..members.cards import parse_body
from .service import Service, rotated_json

__all__ = ["routes"]

routes = web.RouteTableDef()


class _RotateRequest(msgspec.Struct, forbid_unknown_fields=True):
    actor: str | None = None
    all: bool = False


def _service(request: web.Request) -> Service:
    from ...app import RUNTIME  # the app imports the content modules: import it late

    return request.app[RUNTIME].services["account"]  # type: ignore[no-any-return]


def _export_response(data: dict[str, object], username: str) -> web.Response:
    response = web.json_response(data, dumps=lambda d: msgspec.json.encode(d).decode())
    response.headers["Content-Disposition"] = (
        f'attachment; filename="kantine-export-{username}.json"'
    )
    return response


@routes.get("/api/v1/me/export")
async def handle_export_me(request: web.Request) -> web.Response:
    me = await authenticate(request)
    data = await _service(request).export(me.username, by=me)
    return _export_response(data, me.username)


@routes.get("/api/v1/members/{username}/export")
async def handle_export(request: web.Request) -> web.Response:
    by = await authenticate(request)
    username = request.match_info["username"]
    data = await _service(request).export(username, by=by)
    return _export_response(data, username)


@routes.delete("/api/v1/me")
async def handle_delete_me(request: web.Request) -> web.Response:
    me = await authenticate(request)
    actor = await _service(request).delete_account(me)
    actor_id = _service(request).fed.actor_id(actor)
    return web.json_response({"deleted": actor.username, "id": actor_id})


@routes.post("/api/v1/admin/keys/rotate")
async def handle_rotate(request: web.Request) -> web.Response:
    by = await authenticate(request)
    require_role(by, "admin")
    body = await request.read()
    ask = parse_body(body, _RotateRequest) if body.strip() else _RotateRequest()
    if (ask.actor is None) == (not ask.all):
        raise ApiError(
            'name one actor ({"actor": "anna"}) or all of them ({"all": true})', status_hint=400
        )
    svc = _service(request)
    rotated = await svc.rotate_keys(None if ask.all else [ask.actor], by=by)  # type: ignore[list-item]
    return web.json_response({"rotated": [rotated_json(svc, a) for a in rotated]})
