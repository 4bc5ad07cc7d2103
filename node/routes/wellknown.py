"""Discovery: WebFinger (RFC 7033), host-meta, NodeInfo 2.0/2.1 with the FEP-2677 link."""

from __future__ import annotations

import msgspec
from aiohttp import web

from protocol import nodeinfo, vocab, webfinger
from protocol.errors import RemoteProtocolError

from ..appkeys import DB, FEDERATION, SETTINGS, URLS
from ..storage import actors as actors_db
from ..storage import outbox as outbox_db

__all__ = ["routes"]

routes = web.RouteTableDef()
_CORS = {"Access-Control-Allow-Origin": "*"}
VERSION = "0.1.0"


@routes.get("/.well-known/webfinger")
async def handle_webfinger(request: web.Request) -> web.Response:
    urls, fed = request.app[URLS], request.app[FEDERATION]
    resource, rels = webfinger.parse_query(request.query.items())
    if resource[0] == "acct":
        _, user, host = resource
        if host != urls.host:
            raise RemoteProtocolError(f"{host} is not this node", status_hint=404)
        actor = await actors_db.get_local(request.app[DB], user.lower())
    else:
        url = resource[1]
        actor = None
        if url in (urls.base + "/", urls.base):  # FEP-d556: the instance actor
            actor = await fed.instance_actor()
        else:
            actor = await fed.local_by_iri(url)
    if actor is None or actor.deleted_at is not None:
        raise RemoteProtocolError("no such resource on this node", status_hint=404)
    actor_id = urls.actor(actor.path)
    jrd = webfinger.build_jrd(
        f"acct:{actor.username}@{urls.host}",
        aliases=[actor_id],
        links=[
            webfinger.link(webfinger.REL_SELF, href=actor_id, type=vocab.ACTIVITY_JSON),
            webfinger.link(webfinger.REL_PROFILE, href=actor_id, type="text/html"),
            webfinger.link(
                webfinger.REL_SUBSCRIBE, template=urls.base + "/authorize_interaction?uri={uri}"
            ),
        ],
    )
    if rels:
        jrd = webfinger.filter_rels(jrd, rels)
    return web.json_response(jrd, content_type=vocab.JRD_JSON, headers=_CORS)


@routes.get("/.well-known/host-meta")
async def handle_host_meta(request: web.Request) -> web.Response:
    body = webfinger.build_host_meta(request.app[URLS].base)
    return web.Response(text=body, content_type="application/xrd+xml", headers=_CORS)


@routes.get("/.well-known/nodeinfo")
async def handle_nodeinfo_discovery(request: web.Request) -> web.Response:
    return web.json_response(nodeinfo.build_discovery(request.app[URLS].base), headers=_CORS)


@routes.get("/nodeinfo/{version:2\\.0|2\\.1}")
async def handle_nodeinfo(request: web.Request) -> web.Response:
    version = request.match_info["version"]
    db, settings = request.app[DB], request.app[SETTINGS]
    members = await actors_db.list_local(db, "member")
    network = await actors_db.get_local(db, settings.slug)
    posts = await outbox_db.count(db, settings.slug) if network else 0
    doc = nodeinfo.build_nodeinfo(
        version,  # type: ignore[arg-type]
        software_version=VERSION,
        users_total=len([m for m in members if m.deleted_at is None]),
        users_active_month=len(members),
        users_active_halfyear=len(members),
        local_posts=posts,
        open_registrations=False,
        metadata={
            "nodeName": settings.name,
            "network": settings.slug,
            "feeds": ["atom1.0", "ical"],
        },
    )
    return web.Response(
        body=msgspec.json.encode(doc),
        headers={**_CORS, "Content-Type": nodeinfo.content_type(version)},  # type: ignore[arg-type]
    )
