"""The admins' JSON API for federation policy: blocks, the allowlist, reports, the decision log.

Every route needs a bearer token of a local actor with the ``admin`` role
(docs/api.md ("Admin")). Decisions go through ``node.moderation``, which records
them in the moderation log.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from .. import moderation
from ..api.auth import ApiError, authenticate, require_role
from ..appkeys import CLOCK, DB, FEDERATION, SETTINGS
from ..clock import iso
from ..storage import moderation as moderation_db
from ..storage.actors import LocalActor

__all__ = ["routes"]

routes = web.RouteTableDef()


async def _admin(request: web.Request) -> LocalActor:
    actor = await authenticate(request)
    require_role(actor, "admin")
    return actor


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = msgspec.json.decode(await request.read())
    except msgspec.DecodeError as exc:
        raise ApiError(f"the body must be JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError("the body must be a JSON object")
    return data


def _text(data: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApiError(f"{name!r} must be a non-empty string" if required else f"{name!r}: string")
    return value.strip()


def _now(request: web.Request) -> str:
    return iso(request.app[CLOCK]())


def _errors(exc: moderation.ModerationError) -> ApiError:
    return ApiError(str(exc), status_hint=422)


@routes.get("/api/v1/admin/blocks")
async def handle_blocks(request: web.Request) -> web.Response:
    await _admin(request)
    found = await moderation.listing(request.app[DB])
    return web.json_response({"hosts": found["hosts"], "actors": found["actors"]})


@routes.post("/api/v1/admin/blocks")
async def handle_block(request: web.Request) -> web.Response:
    """``{"host": ..., "reason": ...}`` blocks a domain; ``{"actor": ..., "reason": ...}`` an actor."""
    admin = await _admin(request)
    data = await _body(request)
    reason = _text(data, "reason", required=False)
    db, now = request.app[DB], _now(request)
    try:
        if "host" in data:
            host = moderation.normalize_host(_text(data, "host"))
            cancelled = await moderation.block_host(db, host, reason, by=admin.username, now=now)
            return web.json_response({"blocked": host, "cancelled": cancelled}, status=201)
        if "actor" in data:
            actor = _text(data, "actor")
            settings = request.app[SETTINGS]
            removed = await moderation.block_actor(
                db, actor, reason, by=admin.username, now=now, local_host=settings.host
            )
            return web.json_response({"blocked": actor, "follows_removed": removed}, status=201)
    except moderation.ModerationError as exc:
        raise _errors(exc) from exc
    raise ApiError("give a 'host' or an 'actor' to block")


@routes.delete("/api/v1/admin/blocks")
async def handle_unblock(request: web.Request) -> web.Response:
    """``?host=...`` or ``?actor=...``."""
    admin = await _admin(request)
    db, now = request.app[DB], _now(request)
    try:
        if "host" in request.query:
            found = await moderation.unblock_host(
                db, request.query["host"], by=admin.username, now=now
            )
        elif "actor" in request.query:
            found = await moderation.unblock_actor(
                db, request.query["actor"], by=admin.username, now=now
            )
        else:
            raise ApiError("give ?host= or ?actor= to unblock")
    except moderation.ModerationError as exc:
        raise _errors(exc) from exc
    if not found:
        raise ApiError("not blocked", status_hint=404)
    return web.json_response({"unblocked": request.query.get("host") or request.query["actor"]})


@routes.get("/api/v1/admin/allows")
async def handle_allows(request: web.Request) -> web.Response:
    await _admin(request)
    found = await moderation.listing(request.app[DB])
    return web.json_response(
        {"allowlist_mode": request.app[SETTINGS].allowlist_mode, "hosts": found["allows"]}
    )


@routes.post("/api/v1/admin/allows")
async def handle_allow(request: web.Request) -> web.Response:
    admin = await _admin(request)
    data = await _body(request)
    try:
        host = moderation.normalize_host(_text(data, "host"))
        await moderation.allow_host(request.app[DB], host, by=admin.username, now=_now(request))
    except moderation.ModerationError as exc:
        raise _errors(exc) from exc
    return web.json_response({"allowed": host}, status=201)


@routes.delete("/api/v1/admin/allows")
async def handle_disallow(request: web.Request) -> web.Response:
    admin = await _admin(request)
    settings = request.app[SETTINGS]
    try:
        found, cancelled = await moderation.disallow_host(
            request.app[DB],
            request.query.get("host", ""),
            by=admin.username,
            now=_now(request),
            allowlist_mode=settings.allowlist_mode,
        )
    except moderation.ModerationError as exc:
        raise _errors(exc) from exc
    if not found:
        raise ApiError("not on the allowlist", status_hint=404)
    return web.json_response({"disallowed": request.query["host"], "cancelled": cancelled})


@routes.get("/api/v1/admin/reports")
async def handle_reports(request: web.Request) -> web.Response:
    """``?direction=in|out`` (default in), ``?state=open|resolved|sent|all`` (default open)."""
    await _admin(request)
    direction = request.query.get("direction", "in")
    state = request.query.get("state", "open" if direction == "in" else "all")
    if direction not in ("in", "out") or state not in ("open", "resolved", "sent", "all"):
        raise ApiError("direction is in or out; state is open, resolved, sent or all")
    found = await moderation_db.list_reports(
        request.app[DB], direction=direction, state=None if state == "all" else state
    )
    return web.json_response({"reports": [r.as_json() for r in found]})


@routes.post("/api/v1/admin/reports")
async def handle_report(request: web.Request) -> web.Response:
    """Send a ``Flag``: ``{"target": IRI, "reason": ..., "objects": [IRI, ...]}``."""
    admin = await _admin(request)
    data = await _body(request)
    objects = data.get("objects", [])
    if not isinstance(objects, list) or not all(isinstance(o, str) for o in objects):
        raise ApiError("'objects' must be a list of URLs")
    try:
        sent = await moderation.send_report(
            request.app[FEDERATION],
            _text(data, "target"),
            _text(data, "reason"),
            objects=objects[:20],
            by=admin.username,
        )
    except moderation.ModerationError as exc:
        raise _errors(exc) from exc
    return web.json_response(sent, status=202)


@routes.post("/api/v1/admin/reports/{id:\\d+}/resolve")
async def handle_resolve(request: web.Request) -> web.Response:
    admin = await _admin(request)
    ident, now = int(request.match_info["id"]), _now(request)

    def write(conn):  # type: ignore[no-untyped-def]
        done = moderation_db.resolve_report(conn, ident, now)
        if done:
            moderation_db.audit(conn, now, admin.username, "resolve-report", f"#{ident}")
        return done

    if not await request.app[DB].write(write):
        raise ApiError(f"no open report #{ident}", status_hint=404)
    return web.json_response({"resolved": ident})


@routes.get("/api/v1/admin/log")
async def handle_log(request: web.Request) -> web.Response:
    await _admin(request)
    return web.json_response({"decisions": await moderation_db.audit_log(request.app[DB])})
