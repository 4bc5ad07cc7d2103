"""Remote interaction: follow, join or RSVP from your own server, both ways.

- In: another server sends one of our members to ``/authorize_interaction?uri=…`` (the
  OStatus subscribe template our WebFinger advertises); the member, signed in, confirms,
  and we follow the network, join the project or RSVP to the meetup ``uri`` names.
- Out: a visitor from elsewhere types their handle in the "from your own server" form
  (``POST /interact``); we look up their server's subscribe template by WebFinger and send
  them there, with the thing on our page as ``{uri}``. The hand-over is a page with a link
  (and a refresh): the CSP's ``form-action 'self'`` would stop a redirect to another site.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import msgspec
from aiohttp import web

from protocol import validation, webfinger, wire
from protocol.errors import ProtocolError, RemoteProtocolError

from ..appkeys import CLOCK, DB, SETTINGS, URLS
from ..clock import iso
from ..content.ingest import stored_from_document
from ..feeds.events import read_event
from ..storage import events as events_db
from ..storage import follows as follows_db
from ..storage import objects as objects_db
from ..storage.actors import LocalActor
from . import i18n, meetup_strings
from .i18n import PageError
from .meetups import meetup_path, when_text
from .render import page, redirect, render, runtime, services
from .sanitize import safe_url, text
from .sessions import checked_form

__all__ = ["routes"]

meetup_strings.install()
routes = web.RouteTableDef()
_HANDLE = re.compile(r"^@?[^@/\s]+@[^@/\s]+$")
ACTOR_TYPES = ("Group", "Person", "Organization", "Service", "Application")


def _scheme(request: web.Request) -> str:
    settings = request.app[SETTINGS]
    return "http" if settings.dev and settings.url.startswith("http:") else "https"


async def _document(request: web.Request, iri: str) -> dict[str, Any]:
    """A peer's object: kept here already, else fetched (signed) from its origin."""
    stored = await objects_db.get(request.app[DB], iri)
    if stored is not None:
        return stored.document
    fetcher = runtime(request).federation.fetcher
    assert fetcher is not None
    result = await fetcher.fetch_json(iri)
    try:
        doc = msgspec.json.decode(result.body)
    except msgspec.DecodeError as exc:
        raise RemoteProtocolError("not JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise RemoteProtocolError("not an ActivityStreams object")
    if not validation.same_origin(doc["id"], iri):
        raise RemoteProtocolError("the document's id is on another server")
    return doc


async def resolve(request: web.Request, uri: str) -> dict[str, Any]:
    """What ``uri`` (a handle or a URL) names, and what a member can do with it."""
    rt = runtime(request)
    urls = request.app[URLS]
    if _HANDLE.match(uri.removeprefix("acct:")):
        _, host = webfinger.parse_acct(uri)
        if host == urls.host:
            try:
                actor = await rt.follows.local_actor(
                    uri.removeprefix("acct:").lstrip("@").split("@")[0]
                )
            except LookupError as exc:
                raise PageError("error.not_found", 404) from exc
            raise web.HTTPSeeOther("/" if actor.kind == "network" else actor.path)
        uri = (await rt.follows.resolve(uri)).id
    if safe_url(uri) is None or not uri.startswith(("https://", "http://")):
        raise PageError("error.bad_uri", 400)
    if urls.is_local(uri):
        raise web.HTTPSeeOther(urls.local_path(uri) or "/")
    doc = await _document(request, uri)
    kinds = wire.type_names(doc.get("type"))
    target: dict[str, Any] = {"iri": doc["id"], "host": validation.host_of(doc["id"])}
    target.update(dict.fromkeys(("handle", "when", "zone", "where", "url", "page"), ""))
    target["cancelled"] = False
    if "Event" in kinds:
        row = stored_from_document(
            doc, local=False, visibility="public", origin_actor=None, now=iso(request.app[CLOCK]())
        )
        facts = read_event(row)
        if facts is None:
            raise PageError("error.bad_uri", 400)
        lang = i18n.choose(request)[0]
        target.update(
            kind="rsvp", name=facts.name, when=when_text(facts, lang), zone=facts.zone or "UTC",
            where=facts.where or facts.online or "", cancelled=facts.cancelled,
            url=facts.url, page=meetup_path(row) if await objects_db.get(rt.db, row.id) else None,
        )  # fmt: skip
    elif any(k in ACTOR_TYPES for k in kinds):
        username = text(doc.get("preferredUsername"), 60)
        project = "Group" in kinds and "participants" in doc
        target.update(
            kind="join" if project else "follow",
            name=text(doc.get("name"), 100) or username or target["host"],
            handle=f"{username}@{target['host']}" if username else target["host"],
            url=safe_url(doc.get("url") if isinstance(doc.get("url"), str) else doc["id"]),
        )
    else:
        target.update(kind="unknown", name=text(doc.get("name"), 100), url=safe_url(doc["id"]))
    return target


async def _state(request: web.Request, member: LocalActor, target: dict[str, Any]) -> str | None:
    """Where the member stands with the target: a follow's or an RSVP's state."""
    db = request.app[DB]
    if target["kind"] == "rsvp":
        mine = await events_db.participant(
            db, target["iri"], runtime(request).federation.actor_id(member)
        )
        return mine.state if mine is not None and mine.state != "left" else None
    if target["kind"] in ("follow", "join"):
        found = await follows_db.get(db, member.username, target["iri"], "out")
        return found.state if found is not None else None
    return None


@routes.get("/authorize_interaction")
@page
async def handle_authorize(request: web.Request) -> web.StreamResponse:
    """Another server sent one of our members here to follow, join or RSVP to ``uri``."""
    from .account import member_required

    uri = request.query.get("uri", "").strip()
    if not uri or len(uri) > 2000:
        raise PageError("error.bad_uri", 400)
    member = await member_required(request)
    try:
        target = await resolve(request, uri)
    except (RemoteProtocolError, ProtocolError) as exc:
        if isinstance(exc, PageError):
            raise
        return await render(
            request, "authorize.html", status=502, target=None, uri=text(uri, 300), state=None,
            failed=text(exc.reason, 200),
        )  # fmt: skip
    return await render(
        request, "authorize.html", target=target, uri=text(uri, 300),
        state=await _state(request, member, target), failed="",
    )  # fmt: skip


@routes.post("/authorize_interaction")
@page
async def handle_authorized(request: web.Request) -> web.StreamResponse:
    """The member confirmed: follow, join or RSVP, sent from their own actor."""
    from .account import member_required

    form = await checked_form(request)
    member = await member_required(request)
    iri = str(form.get("target") or "")
    kind = form.get("action")
    if safe_url(iri) is None or request.app[URLS].is_local(iri) or len(iri) > 2000:
        raise PageError("error.bad_uri", 400)
    rt = runtime(request)
    try:
        if kind == "follow":
            await rt.follows.follow(member, await rt.follows.resolve(iri))
        elif kind == "join":
            await services(request)["projects"].join(member, iri)
        elif kind == "rsvp":
            await services(request)["events"].rsvp(member, iri)
        else:
            raise PageError("error.400", 400)
    except RemoteProtocolError as exc:
        raise PageError("error.remote_failed", 502) from exc
    except LookupError as exc:
        raise PageError("error.not_found", 404) from exc
    return redirect("/authorize_interaction?uri=" + quote(iri, safe=""), "interaction_" + kind)


@routes.post("/interact")
@page
async def handle_interact(request: web.Request) -> web.StreamResponse:
    """A visitor from elsewhere: find their server's subscribe template and send them there."""
    form = await checked_form(request)
    urls = request.app[URLS]
    target = str(form.get("target") or "")
    known = urls.is_local(target) or await objects_db.get(request.app[DB], target) is not None
    if not target or len(target) > 2000 or not known:
        raise PageError("error.bad_uri", 400)
    back = _back(request, target)
    handle = text(form.get("handle"), 300).strip()
    try:
        user, host = webfinger.parse_acct(handle.removeprefix("acct:"))
    except ProtocolError:
        return await _handover(request, back, failed="interact.bad_handle", handle=handle)
    if host == urls.host:  # one of ours: sign in here instead
        return redirect("/signin?next=" + quote(back, safe="/"))
    fetcher = runtime(request).federation.fetcher
    assert fetcher is not None
    try:
        jrd_doc = await fetcher.fetch_webfinger(user, host, scheme=_scheme(request))
        template = webfinger.parse_jrd(msgspec.json.encode(jrd_doc)).subscribe_template()
    except RemoteProtocolError:
        return await _handover(request, back, failed="interact.lookup_failed", handle=handle)
    url = template.replace("{uri}", quote(target, safe="")) if template else None
    if not url or "{uri}" not in template or not url.startswith(("https://", "http://")):
        return await _handover(request, back, failed="interact.no_template", handle=handle)
    if safe_url(url) is None:
        return await _handover(request, back, failed="interact.no_template", handle=handle)
    return await _handover(request, back, url=url, host=host, handle=handle)


def _back(request: web.Request, target: str) -> str:
    urls = request.app[URLS]
    path = urls.local_path(target) if urls.is_local(target) else None
    if path is None:
        return "/calendar/event?id=" + quote(target, safe="")
    return "/" if path == "/network" else path


async def _handover(
    request: web.Request, back: str, *, url: str | None = None, host: str = "",
    handle: str = "", failed: str = "",
) -> web.Response:  # fmt: skip
    return await render(
        request, "interact.html", status=400 if failed else 200, url=url, host=text(host, 100),
        handle=handle, back=back, failed=failed,
    )  # fmt: skip
