"""The public pages: home, the assignment board, assignment pages, the directory, member cards.

``/network``, ``/members/{u}`` and ``/assignments/{id}`` are ActivityPub URLs: their
routes (node/routes) hand a browser's GET (``Accept: text/html``) to ``actor_page`` and
``object_page`` here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..appkeys import DB, SETTINGS, URLS
from ..content.members.cards import card_visibility, shows
from ..storage import actors as actors_db
from ..storage import objects as objects_db
from . import views
from .i18n import PageError
from .render import page, render, services
from .sanitize import paragraphs, text
from .sessions import visitor

__all__ = ["actor_page", "assignment_page", "network_labels", "object_page", "routes"]

routes = web.RouteTableDef()


async def network_labels(request: web.Request) -> dict[str, str]:
    settings = request.app[SETTINGS]
    return await views.network_names(
        request.app[DB], settings.slug, request.app[URLS].host, text(settings.name, 80)
    )


async def _assignments(
    request: web.Request, *, limit: int = 1000, author: Any = None, status: str | None = "open"
) -> list[dict[str, Any]]:
    """Assignments the visitor may see (newest first), local and received, as page items."""
    who = await visitor(request)
    service = services(request)["assignments"]
    rows = await service.listing(
        who.member,
        local=None if author is None else True,
        author=author,
        status=status,
        limit=limit,
    )
    names = await network_labels(request)
    return [views.assignment_item(service.to_json(r), r, names) for r in rows]


@routes.get("/")
@page
async def handle_home(request: web.Request) -> web.StreamResponse:
    from .meetups import upcoming  # ours and the followed networks', with places left

    db = request.app[DB]
    meetups = await upcoming(request, limit=10)
    network = await actors_db.get_local(db, request.app[SETTINGS].slug)
    members = await services(request)["members"].members()
    return await render(
        request,
        "home.html",
        summary=paragraphs(network.summary, 2000) if network and network.summary else "",
        meetups=meetups,
        assignments=await _assignments(request, limit=6),
        member_count=len(members),
    )


def _one(value: str | None, limit: int = 100) -> str:
    return text(value or "", limit)


@routes.get("/board")
@page
async def handle_board(request: web.Request) -> web.StreamResponse:
    """The assignment board: filters by skill, city, network and (for members) visibility."""
    who = await visitor(request)
    q = request.query
    filters = {
        "skill": _one(q.get("skill"), 60).lstrip("#").lower(),
        "city": _one(q.get("city")),
        "network": _one(q.get("network")),
        "visibility": _one(q.get("visibility"), 20),
    }
    everything = await _assignments(request)
    allowed = views.visibilities_for(who.member is not None)
    options = {
        "skills": sorted({s.lower() for a in everything for s in a["skills"]}),
        "cities": sorted({a["place"] for a in everything if a["place"]}, key=str.lower),
        "networks": sorted({(a["host"], a["network"]) for a in everything}, key=lambda x: x[1]),
        "visibilities": allowed,
    }

    def wanted(a: dict[str, Any]) -> bool:
        return (
            (not filters["skill"] or filters["skill"] in [s.lower() for s in a["skills"]])
            and (not filters["city"] or a["place"].lower() == filters["city"].lower())
            and (not filters["network"] or a["host"] == filters["network"])
            and (not filters["visibility"] or a["visibility"] == filters["visibility"])
        )

    items = [a for a in everything if wanted(a)]
    return await render(request, "board.html", items=items, filters=filters, options=options)


async def assignment_page(
    request: web.Request,
    row: objects_db.StoredObject,
    *,
    status: int = 200,
    message: str = "",
    error: str = "",
) -> web.Response:
    """An assignment's page: its facts, its description (cleaned), and "respond" or its offers."""
    who = await visitor(request)
    if row.visibility != "public" and who.member is None:
        raise PageError("error.not_found", 404)
    service = services(request)["assignments"]
    names = await network_labels(request)
    item = views.assignment_item(service.to_json(row), row, names, full=True)
    item.update(await _author(request, row))
    manage = False
    offers: list[Any] = []
    if who.member is not None and row.local:
        local_author = await _local_author(request, row)
        if local_author is not None and (
            who.member.username == local_author.username or who.member.role == "admin"
        ):
            manage = True
            offers = [
                {
                    "id": o.id,
                    "actor": text(o.actor, 200),
                    "state": o.state,
                    "message": o.message,
                    "created": o.created_at,
                }
                for o in await service.offers.for_assignment(who.member, row.id)
            ]
    return await render(
        request,
        "assignment.html",
        status=status,
        a=item,
        manage=manage,
        offers=offers,
        message=message,
        error=error,
    )


async def _local_author(request: web.Request, row: objects_db.StoredObject) -> Any:
    from .render import runtime

    return await runtime(request).federation.local_by_iri(row.author)


async def _author(request: web.Request, row: objects_db.StoredObject) -> dict[str, Any]:
    """The author's name and page: a local member's card (if the visitor may see its name)."""
    urls = request.app[URLS]
    path = urls.local_path(row.author)
    if path is not None:
        actor = await actors_db.get_by_path(request.app[DB], path)
        if actor is not None and actor.deleted_at is None:
            who = await visitor(request)
            viewer = "network" if who.member is not None else "public"
            visible = shows(card_visibility(actor), viewer) or actor.kind == "network"
            name = actor.name if visible else actor.username
            url = "/members/" + actor.username if actor.kind == "member" else "/"
            return {"author_name": text(name, 100), "author_url": url}
    return {"author_name": text(row.author, 200), "author_url": None}


#: Object kinds (URL segment) with a page: the handler of a browser's GET of ``/{kind}/{id}``.
#: Kinds not listed here (events, notes: their pages come later) answer with JSON as before.
OBJECT_PAGES: dict[str, Any] = {}
#: Local actor kinds with a page (``/members/{u}``; the network's is the home page).
ACTOR_PAGES: dict[str, Any] = {}


async def object_page(request: web.Request) -> web.StreamResponse | None:
    """A browser's GET of a local object URL: its page, or None when its kind has none."""
    handler = OBJECT_PAGES.get(request.match_info.get("kind", ""))
    return None if handler is None else await handler(request)


@page
async def _assignment_object_page(request: web.Request) -> web.StreamResponse:
    kind, ident = request.match_info["kind"], request.match_info["ident"]
    row = await objects_db.get(request.app[DB], request.app[URLS].object(kind, ident))
    if row is None or not row.local or row.type != "Proposal":
        raise PageError("error.not_found", 404)
    return await assignment_page(request, row)


@routes.get("/board/item")
@page
async def handle_remote_item(request: web.Request) -> web.StreamResponse:
    """An assignment received from another network (``?id=`` its IRI)."""
    iri = request.query.get("id", "")
    row = await objects_db.get(request.app[DB], iri) if iri else None
    if row is None or row.type != "Proposal":
        raise PageError("error.not_found", 404)
    if row.local:
        raise web.HTTPFound("/assignments/" + row.id.rsplit("/", 1)[1])
    return await assignment_page(request, row)


@routes.get("/members")
@page
async def handle_directory(request: web.Request) -> web.StreamResponse:
    """Member cards across the co-operative, searchable by name, skill, city and network."""
    who = await visitor(request)
    viewer = "network" if who.member is not None else "public"
    names = await network_labels(request)
    cards = [
        views.card_item(c, names) for c in await services(request)["members"].directory(viewer)
    ]
    q = request.query
    filters = {
        "q": _one(q.get("q")),
        "skill": _one(q.get("skill"), 60).lstrip("#"),
        "city": _one(q.get("city")),
        "network": _one(q.get("network")),
    }
    options = {
        "skills": sorted({s.lower() for c in cards for s in c["skills"]}),
        "cities": sorted({c["city"] for c in cards if c["city"]}, key=str.lower),
        "networks": sorted({(c["host"], c["network"]) for c in cards}, key=lambda x: x[1]),
    }

    def wanted(c: dict[str, Any]) -> bool:
        name = filters["q"].lower()
        return (
            (not name or name in c["name"].lower() or name in c["handle"].lower())
            and (
                not filters["skill"] or filters["skill"].lower() in [s.lower() for s in c["skills"]]
            )
            and (not filters["city"] or c["city"].lower() == filters["city"].lower())
            and (not filters["network"] or c["host"] == filters["network"])
        )

    shown = [c for c in cards if wanted(c)]
    return await render(request, "directory.html", cards=shown, filters=filters, options=options)


async def actor_page(request: web.Request) -> web.StreamResponse | None:
    """A browser's GET of an actor URL: its page, or None (JSON) when its kind has none."""
    if request.path in ("/network", "/actor"):
        raise web.HTTPFound("/")
    actor = await actors_db.get_by_path(request.app[DB], request.path)
    handler = ACTOR_PAGES.get(actor.kind if actor else "member")
    return None if handler is None else await handler(request, actor)


@page
async def _member_page(request: web.Request, actor: Any = None) -> web.StreamResponse:
    if actor is None or actor.deleted_at is not None:
        raise PageError("error.not_found", 410 if actor else 404)
    who = await visitor(request)
    viewer = "network" if who.member is not None else "public"
    members = services(request)["members"]
    names = await network_labels(request)
    card = next(
        (c for c in await members.directory(viewer) if c.local and c.username == actor.username),
        None,
    )
    if card is not None:
        m = views.card_item(card, names)
    else:  # the card's fields are not for this visitor: its name is the username
        m = {
            "name": actor.username,
            "handle": actor.username,
            "shown": False,
            "visibility": card_visibility(actor),
        }
    assignments = await _assignments(request, author=actor, limit=50)
    return await render(request, "member.html", m=m, assignments=assignments)


OBJECT_PAGES["assignments"] = _assignment_object_page
ACTOR_PAGES["member"] = _member_page
