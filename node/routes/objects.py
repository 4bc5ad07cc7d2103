"""GET of local content objects (events, assignments, offers, notes), by visibility.

Public objects are served to anyone; co-operative ones only to GETs signed by an actor
on a co-operative host (401 unsigned, 404 to anyone else); network ones to no remote
reader; local members with a bearer token see everything of their node. A deleted
object answers 410 with a ``Tombstone`` (to those who could see it).
An offer is served to its two parties: the offerer's node members and the host of the
assignment's author.
"""

from __future__ import annotations

from aiohttp import web

from protocol import validation, vocab

from ..api.auth import optional_member
from ..appkeys import DB, FEDERATION, URLS
from ..content.visibility import can_view, viewer_host
from ..storage import assignments as offers_db
from ..storage import objects as objects_db
from ..web.negotiation import prefers_html
from .actors import activity_json

__all__ = ["routes"]

routes = web.RouteTableDef()

#: URL segment -> the object type kept under it.
KINDS = {"events": "Event", "assignments": "Proposal", "notes": "Note"}


def _not_found() -> web.HTTPNotFound:
    return web.HTTPNotFound(reason="no such object")


@routes.get("/{kind:events|assignments|notes}/{ident}")
async def handle_object(request: web.Request) -> web.StreamResponse:
    if prefers_html(request):  # a browser: the object's page (kinds that have one)
        from ..web.pages import object_page

        if (page := await object_page(request)) is not None:
            return page
    kind, ident = request.match_info["kind"], request.match_info["ident"]
    object_id = request.app[URLS].object(kind, ident)
    row = await objects_db.get(request.app[DB], object_id, include_deleted=True)
    if row is None or not row.local or row.type != KINDS[kind]:
        raise _not_found()
    if not await can_view(request, row):
        raise _not_found()
    if row.deleted_at is not None:
        return activity_json(
            {
                "@context": vocab.CONTEXT,
                "id": row.id,
                "type": "Tombstone",
                "formerType": row.type,
                "deleted": row.deleted_at,
            },
            status=410,
        )
    return activity_json(row.raw)


@routes.get("/offers/{ident}")
async def handle_offer(request: web.Request) -> web.Response:
    urls = request.app[URLS]
    offer = await offers_db.get_by_activity(
        request.app[DB], urls.object("offers", request.match_info["ident"])
    )
    if offer is None:
        raise _not_found()
    member = await optional_member(request)
    if member is not None:
        member_id = request.app[FEDERATION].actor_id(member)
        if member.role == "admin" or member_id in (offer.actor, offer.author):
            return activity_json(offer.raw)
        raise _not_found()
    host = await viewer_host(request)
    if host != validation.host_of(offer.author):
        raise _not_found()
    return activity_json(offer.raw)
