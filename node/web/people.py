"""Who someone is, for a page: a name, a handle and a link, from an actor IRI (ours or a peer's)."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from protocol import validation
from protocol.errors import RemoteProtocolError

from ..appkeys import DB, URLS
from ..content.members.cards import card_visibility, shows
from ..storage import actors as actors_db
from ..storage import remote as remote_db
from .sanitize import safe_url, text
from .sessions import visitor

__all__ = ["person", "remote_document"]


async def remote_document(request: web.Request, iri: str) -> dict[str, Any]:
    """The cached actor document of a peer (empty when unknown or unreadable)."""
    actor = await remote_db.get_actor(request.app[DB], iri)
    if actor is None:
        return {}
    try:
        doc = msgspec.json.decode(actor.raw)
    except msgspec.DecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}


async def person(request: web.Request, iri: str) -> dict[str, Any]:
    """``{name, handle, url, host, local}`` of an actor; a hidden card shows its username only."""
    urls = request.app[URLS]
    try:
        host = validation.host_of(iri)
    except (RemoteProtocolError, ValueError):
        host = ""
    path = urls.local_path(iri)
    if path is not None:
        actor = await actors_db.get_by_path(request.app[DB], path)
        if actor is not None and actor.deleted_at is None:
            who = await visitor(request)
            viewer = "network" if who.member is not None else "public"
            shown = actor.kind != "member" or shows(card_visibility(actor), viewer)
            url = {"member": "/members/", "project": "/projects/"}.get(actor.kind, "/")
            return {
                "name": text(actor.name if shown else actor.username, 100) or actor.username,
                "handle": text(actor.username, 60),
                "url": url + actor.username if url != "/" else "/",
                "host": urls.host,
                "local": True,
            }
    doc = await remote_document(request, iri)
    username = text(doc.get("preferredUsername"), 60)
    return {
        "name": text(doc.get("name"), 100) or username or text(iri, 200),
        "handle": f"{username}@{text(host, 100)}" if username else text(host, 100),
        "url": safe_url(doc.get("url") if isinstance(doc.get("url"), str) else iri),
        "host": host,
        "local": False,
    }
