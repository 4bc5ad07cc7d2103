"""Project pages (description, participants by network, updates, meetups) and the networks page.

``/projects/{slug}`` is an ActivityPub URL: a browser's GET reaches ``project_page`` through
``pages.actor_page``. ``/networks`` lists the networks this one follows and is followed by.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..appkeys import CLOCK, DB, SETTINGS, URLS
from ..clock import iso
from ..cooperative import Cooperative
from ..storage import follows as follows_db
from ..storage import objects as objects_db
from ..storage import projects as projects_db
from . import i18n, meetup_strings
from .i18n import PageError
from .meetups import meetup_item
from .pages import ACTOR_PAGES
from .people import person, remote_document
from .render import page, redirect, render, runtime, services
from .sanitize import clean_html, paragraphs, safe_url, text
from .sessions import checked_form, visitor

__all__ = ["project_page", "routes"]

meetup_strings.install()
routes = web.RouteTableDef()


async def _by_network(request: web.Request, iris: list[str]) -> list[dict[str, Any]]:
    """People grouped by their network (ours first), each group sorted by name."""
    from .pages import network_labels

    names = await network_labels(request)
    own = request.app[URLS].host
    groups: dict[str, list[dict[str, Any]]] = {}
    for iri in iris:
        p = await person(request, iri)
        groups.setdefault(p["host"], []).append(p)
    ordered = sorted(groups, key=lambda h: (h != own, names.get(h, h).lower()))
    return [
        {
            "host": h,
            "network": names.get(h, text(h, 100)),
            "people": sorted(groups[h], key=lambda p: p["name"].lower()),
        }
        for h in ordered
    ]


async def project_page(request: web.Request, actor: Any = None) -> web.StreamResponse:
    """A browser's GET of ``/projects/{slug}`` (``pages.actor_page`` calls it; see the end)."""
    return await _project_page(request)


@page
async def _project_page(request: web.Request) -> web.StreamResponse:
    from .pages import network_labels

    slug = request.path.rsplit("/", 1)[-1]
    svc = services(request)["projects"]
    try:
        project = await svc.get(slug)
    except LookupError as exc:
        raise PageError("error.not_found", 404) from exc
    who = await visitor(request)
    db, fed = request.app[DB], runtime(request).federation
    project_iri = fed.actor_id(project)
    participants = await projects_db.participants(db, project.username)
    lang = i18n.choose(request)[0]
    names = await network_labels(request)
    updates = []
    for row in await svc.stream(project, who.member, limit=30):
        if row.type == "Event":
            continue
        doc = row.document
        content = doc.get("content") if isinstance(doc, dict) else None
        updates.append(
            {
                "name": text(row.name, 200),
                "content": clean_html(content, 5000) if isinstance(content, str) else "",
                "author": await person(request, row.author),
                "published": row.published,
                "visibility": row.visibility,
            }
        )
    since = iso(request.app[CLOCK]())
    meetups = []
    for row in await objects_db.listing(
        db, type="Event", author=project_iri, starts_after=since, limit=20,
        visibilities=("public", "cooperative", "network") if who.member else ("public",),
    ):  # fmt: skip
        item = await meetup_item(request, row, names, lang)
        if item is not None:
            meetups.append(item)
    taking_part = False
    if who.member is not None:
        me = fed.actor_id(who.member)
        taking_part = any(p.actor == me and p.state == "accepted" for p in participants)
    return await render(
        request,
        "project.html",
        project={
            "slug": project.username,
            "iri": project_iri,
            "name": text(project.name, 200) or project.username,
            "summary": paragraphs(project.summary or "", 5000),
            "handle": f"{project.username}@{request.app[URLS].host}",
        },
        groups=await _by_network(request, [p.actor for p in participants if p.state == "accepted"]),
        count=sum(1 for p in participants if p.state == "accepted"),
        updates=updates,
        meetups=meetups,
        taking_part=taking_part,
    )


@routes.post("/projects/{slug}/take-part")
@page
async def handle_take_part(request: web.Request) -> web.StreamResponse:
    """A signed-in member joins or leaves a project hosted here."""
    from .account import member_required

    form = await checked_form(request)
    member = await member_required(request)
    slug = request.match_info["slug"]
    svc = services(request)["projects"]
    try:
        if form.get("action") == "leave":
            await svc.leave(member, slug)
            notice = "project_left"
        else:
            await svc.join(member, slug)
            notice = "project_joined"
    except LookupError as exc:
        raise PageError("error.not_found", 404) from exc
    return redirect("/projects/" + slug, notice)


# -- the networks this one follows and is followed by ---------------------------------------


async def _network(
    request: web.Request, iri: str, state: str, partners: set[str]
) -> dict[str, Any]:
    doc = await remote_document(request, iri)
    p = await person(request, iri)
    url = doc.get("url") if isinstance(doc.get("url"), str) else iri
    return {
        "name": p["name"],
        "handle": p["handle"],
        "url": safe_url(url),
        "host": p["host"],
        "state": state,
        "partner": iri in partners,
        "kind": text(doc.get("type"), 30) if isinstance(doc.get("type"), str) else "",
        "summary": clean_html(doc.get("summary"), 300)
        if isinstance(doc.get("summary"), str)
        else "",
    }


@routes.get("/networks")
@page
async def handle_networks(request: web.Request) -> web.StreamResponse:
    db, settings = request.app[DB], request.app[SETTINGS]
    slug = settings.slug
    partners = {actor for actor, _, _ in await Cooperative(db, slug).partners()}
    following = [
        await _network(request, f.remote, f.state, partners)
        for f in await follows_db.list_for(db, slug, "out", None, limit=500)
        if f.state != "rejected"
    ]
    followers = [
        await _network(request, f.remote, f.state, partners)
        for f in await follows_db.list_for(db, slug, "in", "accepted", limit=500)
    ]
    return await render(
        request,
        "networks.html",
        following=following,
        followers=followers,
        network_iri=request.app[URLS].network(),
        handle=f"{slug}@{request.app[URLS].host}",
    )


ACTOR_PAGES["project"] = project_page
