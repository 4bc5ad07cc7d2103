"""The admin area: follow requests, domain blocks, the delivery queue and its failures."""

from __future__ import annotations

from aiohttp import web

from .. import moderation
from ..api.auth import require_role
from ..appkeys import CLOCK, DB, SETTINGS
from ..clock import iso
from ..cooperative import Cooperative
from ..storage import actors as actors_db
from ..storage import deliveries as deliveries_db
from ..storage import follows as follows_db
from ..storage import hosts as hosts_db
from ..storage.actors import LocalActor
from .account import member_required
from .i18n import PageError
from .pages import network_labels
from .render import page, redirect, render, runtime
from .sessions import checked_form

__all__ = ["routes"]

routes = web.RouteTableDef()


async def _admin(request: web.Request) -> LocalActor:
    me = await member_required(request)
    if me.role != "admin":
        raise PageError("error.admin_only", 403)
    require_role(me, "admin")
    return me


@routes.get("/admin")
@page
async def handle_admin(request: web.Request) -> web.StreamResponse:
    await _admin(request)
    db, slug = request.app[DB], request.app[SETTINGS].slug
    requests = await follows_db.list_for(db, slug, "in", "pending", limit=200)
    names = await network_labels(request)
    partners = [
        f"{names.get(host, host)} ({host})" for _, host, _ in await Cooperative(db, slug).partners()
    ]
    recent = await deliveries_db.listing(db, limit=100)
    return await render(
        request,
        "admin.html",
        requests=[{"actor": r.remote, "since": r.created_at} for r in requests],
        partners=sorted(partners),
        blocks=await hosts_db.block_rows(db),
        counts=await deliveries_db.counts(db),
        failures=await deliveries_db.listing(db, failed_only=True, limit=50),
        pending=[d for d in recent if d.state in ("queued", "inflight")][:50],
        unavailable=await hosts_db.unavailable_hosts(db),
        error="",
    )


@routes.post("/admin/follows")
@page
async def handle_follow_answer(request: web.Request) -> web.StreamResponse:
    """Approve or reject a network's (or anyone's) request to follow this network."""
    await _admin(request)
    form = await checked_form(request)
    actor, answer = str(form.get("actor") or ""), str(form.get("answer") or "")
    if answer not in ("approve", "reject"):
        raise web.HTTPBadRequest(text="answer must be approve or reject")
    rt = runtime(request)
    network = await actors_db.get_local(rt.db, rt.settings.slug)
    assert network is not None
    try:
        await rt.follows.answer(network, actor, answer == "approve")
    except LookupError as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    return redirect("/admin", "approved" if answer == "approve" else "rejected")


@routes.post("/admin/blocks")
@page
async def handle_block(request: web.Request) -> web.StreamResponse:
    """Block a domain (nothing in, nothing out; what is queued for it is cancelled) or lift it.

    Both go through ``node.moderation``, which writes the decision to the moderation log.
    """
    me = await _admin(request)
    form = await checked_form(request)
    try:
        host = moderation.normalize_host(str(form.get("host") or ""))
    except moderation.ModerationError:
        raise PageError("error.bad_host", 400) from None
    if host == request.app[SETTINGS].host:
        raise PageError("error.own_host", 400)
    now = iso(request.app[CLOCK]())
    db = request.app[DB]
    if form.get("action") == "unblock":
        await moderation.unblock_host(db, host, by=me.username, now=now)
        return redirect("/admin", "unblocked")
    reason = str(form.get("reason") or "").strip()[:500]
    await moderation.block_host(db, host, reason, by=me.username, now=now)
    return redirect("/admin", "blocked")


@routes.post("/admin/deliveries/retry")
@page
async def handle_retry(request: web.Request) -> web.StreamResponse:
    """Queue every failed delivery again (as ``kantine deliveries retry`` does)."""
    await _admin(request)
    await checked_form(request)
    now = iso(request.app[CLOCK]())
    await request.app[DB].write(lambda c: deliveries_db.retry_failed(c, now))
    runtime(request).delivery.wake()
    return redirect("/admin", "retried")
