"""Routes: the projects API, the participants collection, member follows, feed and calendar."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from protocol.errors import RemoteProtocolError

from ...api.auth import ApiError, authenticate, optional_member, require_role
from ...appkeys import SETTINGS, URLS
from ...documents import collection_page, ordered_collection
from ...fetcher import FetchError
from ...routes.actors import activity_json
from ...storage import follows as follows_db
from ...storage import projects as projects_db
from ...storage.actors import LocalActor, NameTaken
from .listing import event_summary, object_summary
from .service import ProjectError

if TYPE_CHECKING:
    from .service import Service

__all__ = ["routes"]

routes = web.RouteTableDef()


def _service(request: web.Request) -> Service:
    from ...app import RUNTIME  # the app module imports the content modules

    return request.app[RUNTIME].services["projects"]  # type: ignore[no-any-return]


async def _body(request: web.Request, *fields: str) -> dict[str, Any]:
    """The JSON object body; fields other than ``fields`` are refused (a typo must not pass)."""
    try:
        data = msgspec.json.decode(await request.read())
    except msgspec.DecodeError as exc:
        raise ApiError(f"the body must be JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError("the body must be a JSON object")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ApiError(f"unknown fields: {', '.join(unknown)}")
    return data


def _text(data: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApiError(f"{name!r} must be a non-empty string")
    return value


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(f"{name} must be an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise ApiError(f"{name} must carry an offset")
    return moment


def _limit(request: web.Request, default: int = 50, most: int = 200) -> int:
    raw = request.query.get("limit")
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        raise ApiError("limit must be an integer") from None
    return max(1, min(value, most))


async def _answer(coro: Any) -> Any:
    """Map what the project service raises to API errors."""
    try:
        return await coro
    except ProjectError as exc:
        raise ApiError(exc.message, status_hint=exc.status) from None
    except NameTaken as exc:
        raise ApiError(str(exc), status_hint=409) from None
    except (FetchError, RemoteProtocolError) as exc:
        raise ApiError(f"could not reach that project: {exc.reason}", status_hint=502) from None


def _project_json(request: web.Request, project: LocalActor, count: int) -> dict[str, Any]:
    project_id = request.app[URLS].project(project.username)
    return {
        "slug": project.username,
        "id": project_id,
        "name": project.name,
        "summary": project.summary,
        "participants": count,
        "created": project.created_at,
    }


# -- projects -----------------------------------------------------------------------


@routes.get("/api/v1/projects")
async def handle_list_projects(request: web.Request) -> web.Response:
    service = _service(request)
    projects = await service.hosted()
    counts = [await projects_db.count(service.db, p.username) for p in projects]
    return web.json_response(
        {"projects": [_project_json(request, p, n) for p, n in zip(projects, counts, strict=True)]}
    )


@routes.post("/api/v1/projects")
async def handle_create_project(request: web.Request) -> web.Response:
    member = await authenticate(request)
    require_role(member, "organiser")
    data = await _body(request, "slug", "name", "summary")
    service = _service(request)
    project = await _answer(
        service.create(
            _text(data, "slug"), _text(data, "name"), _text(data, "summary", required=False)
        )
    )
    return web.json_response(_project_json(request, project, 0), status=201)


@routes.get("/api/v1/projects/{slug}")
async def handle_show_project(request: web.Request) -> web.Response:
    service = _service(request)
    project = await _answer(service.get(request.match_info["slug"]))
    people = await projects_db.participants(service.db, project.username)
    doc = _project_json(request, project, len(people))
    doc["participants"] = [{"actor": p.actor, "since": p.created_at} for p in people]
    return web.json_response(doc)


@routes.delete("/api/v1/projects/{slug}")
async def handle_remove_project(request: web.Request) -> web.Response:
    member = await authenticate(request)
    require_role(member, "organiser")
    await _answer(_service(request).remove(request.match_info["slug"]))
    return web.json_response({"removed": request.match_info["slug"]})


@routes.post("/api/v1/projects/{ref}/join")
async def handle_join_project(request: web.Request) -> web.Response:
    member = await authenticate(request)
    project = await _answer(_service(request).join(member, request.match_info["ref"]))
    state = "accepted" if project.local is not None else "pending"
    return web.json_response({"project": project.id, "state": state}, status=202)


@routes.post("/api/v1/projects/{ref}/leave")
async def handle_leave_project(request: web.Request) -> web.Response:
    member = await authenticate(request)
    project = await _answer(_service(request).leave(member, request.match_info["ref"]))
    return web.json_response({"project": project.id, "state": "left"})


@routes.post("/api/v1/projects/{ref}/posts")
async def handle_post_to_project(request: web.Request) -> web.Response:
    member = await authenticate(request)
    data = await _body(request, "content", "name")
    name = _text(data, "name", required=False) or None
    signed = await _answer(
        _service(request).post(member, request.match_info["ref"], _text(data, "content"), name=name)
    )
    return web.json_response({"id": signed["object"]["id"], "activity": signed["id"]}, status=201)


@routes.get("/api/v1/projects/{slug}/posts")
async def handle_project_posts(request: web.Request) -> web.Response:
    service = _service(request)
    project = await _answer(service.get(request.match_info["slug"]))
    viewer = await optional_member(request)
    items = await service.stream(project, viewer, limit=_limit(request))
    return web.json_response({"items": [object_summary(o) for o in items]})


@routes.get("/projects/{slug}/participants")
async def handle_participants(request: web.Request) -> web.Response:
    """The participants collection (AS2), as the project's actor document points to it."""
    service = _service(request)
    try:
        project = await service.get(request.match_info["slug"])
    except ProjectError:
        raise web.HTTPNotFound(reason="no such project") from None
    urls = request.app[URLS]
    collection_id = urls.project(project.username) + "/participants"
    size = request.app[SETTINGS].limits.page_size
    if "page" not in request.query:
        total = await projects_db.count(service.db, project.username)
        return activity_json(ordered_collection(collection_id, total, collection_id + "?page=1"))
    try:
        number = max(1, int(request.query["page"]))
    except ValueError:
        raise web.HTTPBadRequest(reason="page must be an integer") from None
    people = await projects_db.participants(
        service.db, project.username, limit=size, offset=(number - 1) * size
    )
    next_page = f"{collection_id}?page={number + 1}" if len(people) == size else None
    return activity_json(
        collection_page(
            f"{collection_id}?page={number}", collection_id, [p.actor for p in people], next_page
        )
    )


# -- a member's follows and feed, and the calendar ---------------------------------


@routes.get("/api/v1/me/follows")
async def handle_my_follows(request: web.Request) -> web.Response:
    member = await authenticate(request)
    rows = await follows_db.list_for(_service(request).db, member.username, "out", None)
    return web.json_response(
        {"following": [{"actor": r.remote, "state": r.state, "since": r.created_at} for r in rows]}
    )


@routes.post("/api/v1/me/follows")
async def handle_follow(request: web.Request) -> web.Response:
    """The member follows another network (or any actor): a Follow sent by the member's actor."""
    member = await authenticate(request)
    target = _text(await _body(request, "target"), "target")
    rt = _service(request).rt

    async def follow() -> str:
        remote = await rt.follows.resolve(target)
        await rt.follows.follow(member, remote)
        return remote.id

    actor = await _answer(follow())
    return web.json_response({"actor": actor, "state": "pending"}, status=202)


@routes.get("/api/v1/me/feed")
async def handle_feed(request: web.Request) -> web.Response:
    member = await authenticate(request)
    items = await _service(request).feed(
        member, before=request.query.get("before"), limit=_limit(request)
    )
    return web.json_response({"items": [object_summary(o) for o in items]})


@routes.get("/api/v1/calendar")
async def handle_calendar(request: web.Request) -> web.Response:
    """Upcoming meetups, the network's own and those it received: one calendar."""
    viewer = await optional_member(request)
    events = await _service(request).calendar(
        viewer,
        start=_time(request.query.get("from"), "from"),
        end=_time(request.query.get("to"), "to"),
        limit=_limit(request, 100, 500),
    )
    return web.json_response({"events": [event_summary(e) for e in events]})
