"""Local actors as ActivityStreams: actor documents, outbox, followers, following, activities."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from protocol import vocab

from ..appkeys import DB, FEDERATION, SETTINGS, URLS
from ..content.members.cards import viewer_level
from ..documents import actor_document, collection_page, ordered_collection
from ..storage import actors as actors_db
from ..storage import follows as follows_db
from ..storage import outbox as outbox_db
from ..storage.actors import LocalActor
from ..web.negotiation import prefers_html

__all__ = ["activity_json", "routes"]

routes = web.RouteTableDef()
_ACTOR = "/{kind:network|actor}"
_NAMED = "/{kind:members|projects}/{name}"
_FORMER_TYPES = {
    "member": "Person",
    "project": "Group",
    "network": "Group",
    "instance": "Application",
}


def activity_json(doc: Any, status: int = 200) -> web.Response:
    body = doc if isinstance(doc, bytes) else msgspec.json.encode(doc)
    return web.Response(body=body, status=status, content_type=vocab.ACTIVITY_JSON)


async def _actor(request: web.Request, suffix: str = "") -> LocalActor:
    path = request.path.removesuffix(suffix) if suffix else request.path
    fed = request.app[FEDERATION]
    actor = await fed.local_by_iri(request.app[URLS].base + path)
    if actor is None:
        raise web.HTTPNotFound(reason="no such actor")
    return actor


@routes.get(_ACTOR)
@routes.get(_NAMED)
async def handle_actor(request: web.Request) -> web.StreamResponse:
    if prefers_html(request):  # a browser: the member's card page (the network: its home)
        from ..web.pages import actor_page

        if (page := await actor_page(request)) is not None:
            return page
    urls = request.app[URLS]
    actor = await actors_db.get_by_path(request.app[DB], request.path)
    if actor is None:
        raise web.HTTPNotFound(reason="no such actor")
    if actor.deleted_at is not None:  # a removed actor leaves a Tombstone: 410 Gone
        tombstone = {
            "@context": vocab.AS_CONTEXT,
            "id": urls.actor(actor.path),
            "type": "Tombstone",
            "formerType": _FORMER_TYPES[actor.kind],
            "deleted": actor.deleted_at,
        }
        return activity_json(tombstone, status=410)
    viewer = await viewer_level(request, actor)  # how much of a member's card this GET sees
    return activity_json(actor_document(actor, urls, request.app[SETTINGS], viewer=viewer))


@routes.get(_ACTOR + "/outbox")
@routes.get(_NAMED + "/outbox")
async def handle_outbox(request: web.Request) -> web.Response:
    actor = await _actor(request, "/outbox")
    db, urls = request.app[DB], request.app[URLS]
    collection_id = urls.outbox(urls.actor(actor.path))
    size = request.app[SETTINGS].limits.page_size
    if "page" not in request.query:
        total = await outbox_db.count(db, actor.username)
        return activity_json(ordered_collection(collection_id, total, collection_id + "?page=true"))
    before = _int(request.query.get("before"))
    items = await outbox_db.page(db, actor.username, before=before, limit=size)
    documents = [msgspec.json.decode(i.raw) for i in items]
    next_page = f"{collection_id}?page=true&before={items[-1].seq}" if len(items) == size else None
    page_id = f"{collection_id}?page=true" + (f"&before={before}" if before else "")
    return activity_json(collection_page(page_id, collection_id, documents, next_page))


@routes.get(_ACTOR + "/followers")
@routes.get(_NAMED + "/followers")
async def handle_followers(request: web.Request) -> web.Response:
    return await _follow_collection(request, "/followers", "in")


@routes.get(_ACTOR + "/following")
@routes.get(_NAMED + "/following")
async def handle_following(request: web.Request) -> web.Response:
    return await _follow_collection(request, "/following", "out")


async def _follow_collection(request: web.Request, suffix: str, direction: str) -> web.Response:
    actor = await _actor(request, suffix)
    db, urls = request.app[DB], request.app[URLS]
    collection_id = urls.actor(actor.path) + suffix
    size = request.app[SETTINGS].limits.page_size
    if "page" not in request.query:
        total = await follows_db.count(db, actor.username, direction)
        return activity_json(ordered_collection(collection_id, total, collection_id + "?page=1"))
    number = max(1, _int(request.query.get("page")) or 1)
    rows = await follows_db.list_for(
        db, actor.username, direction, limit=size, offset=(number - 1) * size
    )
    next_page = f"{collection_id}?page={number + 1}" if len(rows) == size else None
    return activity_json(
        collection_page(
            f"{collection_id}?page={number}", collection_id, [r.remote for r in rows], next_page
        )
    )


@routes.get("/activities/{ident}")
async def handle_activity(request: web.Request) -> web.Response:
    urls = request.app[URLS]
    item = await outbox_db.get(request.app[DB], urls.activity(request.match_info["ident"]))
    if item is None or not item.public:
        raise web.HTTPNotFound(reason="no such activity")
    return activity_json(item.raw)


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise web.HTTPBadRequest(reason="page parameters must be integers") from None
