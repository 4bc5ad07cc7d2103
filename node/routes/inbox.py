"""POST /inbox and {actor}/inbox: verify what needs no further fetch, persist, answer 202."""

from __future__ import annotations

import logging

import msgspec
from aiohttp import web

from protocol import httpsig, validation, vocab, wire
from protocol.errors import OwnershipError, PayloadTooLarge, RemoteProtocolError

from ..appkeys import (
    CLOCK,
    DB,
    DELIVERY,
    FEDERATION,
    INBOX_WRITER,
    LIMITERS,
    METRICS,
    REQUEST_ID,
    SETTINGS,
)
from ..clock import now_iso
from ..guards import client_address, rate_limited_response
from ..middlewares import json_error
from ..policy import check_actor_allowed, check_strings, fetch_budget
from ..ratelimit import RateLimited
from ..storage import inbox as inbox_db

__all__ = ["routes"]

log = logging.getLogger("kantine.inbox")
routes = web.RouteTableDef()


@routes.post("/inbox")
async def handle_shared_inbox(request: web.Request) -> web.Response:
    try:
        return await _accept(request, None)
    except RemoteProtocolError as exc:  # one await fewer per request than through a helper
        return _refused(request, exc)


@routes.post("/{kind:network|actor}/inbox")
@routes.post("/{kind:members|projects}/{name}/inbox")
async def handle_actor_inbox(request: web.Request) -> web.Response:
    path = request.path.removesuffix("/inbox")
    fed = request.app[FEDERATION]
    local = await fed.local_by_iri(fed.urls.base + path)
    if local is None:
        return json_error(404, "no such actor")
    try:
        return await _accept(request, local.username)
    except RemoteProtocolError as exc:
        return _refused(request, exc)


def _refused(request: web.Request, exc: RemoteProtocolError) -> web.Response:
    """The answer to an activity refused (4xx with the reason), counted and logged."""
    request.app[METRICS].inc("kantine_inbox_rejected_total", reason=_reason_label(exc))
    log.warning(
        "inbox refused %s: %s (rid=%s, from %s)",
        exc.status_hint,
        exc.reason,
        request.get(REQUEST_ID),
        request.remote,
    )
    if isinstance(exc, RateLimited):
        return rate_limited_response(exc)
    return json_error(exc.status_hint, exc.reason)


async def _accept(request: web.Request, recipient: str | None) -> web.Response:
    app = request.app
    settings, fed, db = app[SETTINGS], app[FEDERATION], app[DB]
    limits = settings.limits
    app[LIMITERS].check("inbox address", client_address(request))  # before the body is read
    if request.content_length is not None and request.content_length > settings.limits.max_body:
        raise PayloadTooLarge("body too large")
    content = request.content
    if content.is_eof() and not content.exception():
        # The whole body came with the headers (the usual case): taken as it is, not
        # through ``read``'s loop of chunks. Nothing may read the body before or after
        # this route (``request.read()`` would find it consumed).
        body = content.read_nowait(-1)
        if len(body) > limits.max_body:  # decoded (Content-Encoding) beyond the limit
            raise PayloadTooLarge("body too large")
    else:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:  # chunked: no Content-Length to check first
            raise PayloadTooLarge("body too large") from exc
    # The header as sent is usually exactly one of the types: no parse of it then.
    if (
        request.headers.get("Content-Type") not in vocab.ACCEPTED_AP_TYPES
        and request.content_type not in vocab.ACCEPTED_AP_TYPES
    ):
        raise RemoteProtocolError(
            f"unsupported content type {request.content_type!r}", status_hint=415
        )
    url = settings.base + request.path_qs
    # Cheap checks first: the signature header must parse and the signer's host be welcome.
    signed = httpsig.parse_signature(request.method, url, request.headers, body)
    # The signer's host is known now, before any fetch: its rate limit applies here.
    app[LIMITERS].check("inbox host", validation.host_of(signed.key_id))
    # The whole body must be JSON we can store and process (a number out of range in a
    # field the activity's model skips, too); the activity is read from that document.
    document = wire.parse_json(body, max_depth=limits.max_json_depth)
    if not isinstance(document, dict):
        raise RemoteProtocolError("activity is not a JSON object", status_hint=400)
    activity = wire.parse_activity(document)
    actor_id = wire.first_id(activity.actor)
    if actor_id is None:
        raise RemoteProtocolError("activity has no actor")
    # A decoded string has at most as many characters as its bytes in the body: a body
    # within the string limit needs no look at its strings.
    if len(body) > limits.max_string_length:
        check_strings(document, limits.max_string_length)
    host = validation.host_of(actor_id)
    # Blocked actors, blocked hosts and (allowlist mode) unlisted ones, before any key is fetched.
    await check_actor_allowed(db, settings, actor_id, signed.key_id.split("#", 1)[0])
    with fetch_budget(limits.max_fetches_per_activity):
        key_id, owner = await fed.verify_request(
            request.method, url, request.headers, body, signed=signed
        )
        if owner != actor_id:
            await check_actor_allowed(db, settings, owner)
            if not isinstance(document, dict) or "proof" not in document:
                raise OwnershipError(f"the signer {owner} does not own the actor {actor_id}")
            proof_owner = await fed.verify_proof(document)
            if proof_owner != actor_id:
                raise OwnershipError(f"the proof's owner {proof_owner} is not the actor {actor_id}")
    if activity.id is None:
        raise RemoteProtocolError("activity has no id")
    # Ids are deduplicated: one on another origin could pre-empt (squat) that origin's own.
    validation.check_object_origin(actor_id, activity.id)
    kind = wire.type_names(activity.type)[0]
    item = inbox_db.InboxItem(
        activity_id=activity.id,
        actor=actor_id,
        type=kind,
        signer=key_id,
        host=host,
        recipient=recipient,
        received_at=now_iso(app[CLOCK]),
        raw=body,
    )
    # Processing is handed the new row (and the document decoded here) once it is committed.
    fresh = await app[INBOX_WRITER].store(item, document)
    app[METRICS].inc("kantine_inbox_accepted_total", duplicate="no" if fresh else "yes")
    delivery = app[DELIVERY]
    if delivery.host_needs_clearing(host):
        await delivery.host_seen(host)
    return web.Response(
        body=_ACCEPTED.encode({"accepted": activity.id}),
        status=202,
        content_type="application/json",
    )


_ACCEPTED = msgspec.json.Encoder()


def _reason_label(exc: RemoteProtocolError) -> str:
    """A small, bounded label set for the metric (the log line carries the detail)."""
    name = type(exc).__name__
    return {
        "SignatureError": "signature",
        "OwnershipError": "ownership",
        "ProofError": "proof",
        "PayloadTooLarge": "too_large",
        "FetchError": "fetch",
        "Blocked": "blocked",
        "RateLimited": "rate_limited",
    }.get(name, "invalid" if exc.status_hint == 400 else str(exc.status_hint))
