"""Moderation decisions: domain blocks and allows, actor blocks, Flag reports in and out.

Every decision an admin makes (here, from the CLI or the admin API) is written to
``moderation_log`` and logged on ``kantine.policy``; refusals made while serving
are logged by the checks in ``node.policy``. A block takes effect at once: the
host's queued deliveries are cancelled in the same write, and the policy caches
of this process reload (another process's within ``policy.POLICY_TTL``).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec

from protocol import vocab, wire

from .clock import iso
from .processor import Handlers, Outcome
from .storage import deliveries as q
from .storage import follows as follows_db
from .storage import hosts as hosts_db
from .storage import moderation as moderation_db
from .storage.db import Database
from .storage.inbox import InboxItem

if TYPE_CHECKING:
    from .federation import Federation
    from .runtime import Runtime

__all__ = [
    "ModerationError",
    "allow_host",
    "block_actor",
    "block_host",
    "disallow_host",
    "moderation_handlers",
    "normalize_host",
    "on_flag",
    "register_cli",
    "send_report",
    "unblock_actor",
    "unblock_host",
]

log = logging.getLogger("kantine.policy")

_HOST = re.compile(r"^[a-z0-9.\-]+(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$")
MAX_REASON = 5000


class ModerationError(ValueError):
    """A moderation request that cannot be carried out (bad host, local actor, ...)."""


def normalize_host(text: str) -> str:
    """A host (authority, port included) from ``host``, ``host:port`` or a URL."""
    text = text.strip().lower()
    if "://" in text:
        text = urlsplit(text).netloc
    if not _HOST.match(text):
        raise ModerationError(f"{text!r} is not a host name (host or host:port)")
    return text


def _actor_iri(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModerationError(f"{text!r} is not an actor URL")
    return text.strip()


# -- hosts ------------------------------------------------------------------------------


async def block_host(db: Database, host: str, reason: str, *, by: str, now: str) -> int:
    """Block a host: nothing in, nothing out, and its queued deliveries are cancelled."""
    host = normalize_host(host)

    def write(conn):  # type: ignore[no-untyped-def]
        hosts_db.block(conn, host, reason, now)
        cancelled = q.cancel_for_host(conn, host, now)
        moderation_db.audit(conn, now, by, "block", host, f"{reason} ({cancelled} cancelled)")
        return cancelled

    cancelled = await db.write(write)
    log.warning("%s blocked %s (%s); cancelled %d queued deliveries", by, host, reason, cancelled)
    return int(cancelled)


async def unblock_host(db: Database, host: str, *, by: str, now: str) -> bool:
    host = normalize_host(host)

    def write(conn):  # type: ignore[no-untyped-def]
        found = hosts_db.unblock(conn, host)
        if found:
            moderation_db.audit(conn, now, by, "unblock", host)
        return found

    found = bool(await db.write(write))
    if found:
        log.warning("%s unblocked %s", by, host)
    return found


async def allow_host(db: Database, host: str, *, by: str, now: str) -> None:
    """List a host for allowlist mode (a member of the closed co-operative)."""
    host = normalize_host(host)

    def write(conn):  # type: ignore[no-untyped-def]
        hosts_db.allow(conn, host, now)
        moderation_db.audit(conn, now, by, "allow", host)

    await db.write(write)
    log.warning("%s allowed %s", by, host)


async def disallow_host(
    db: Database, host: str, *, by: str, now: str, allowlist_mode: bool
) -> tuple[bool, int]:
    """Take a host off the allowlist; in allowlist mode its queued deliveries are cancelled."""
    host = normalize_host(host)

    def write(conn):  # type: ignore[no-untyped-def]
        found = hosts_db.disallow(conn, host)
        cancelled = q.cancel_for_host(conn, host, now) if allowlist_mode else 0
        if found:
            moderation_db.audit(conn, now, by, "disallow", host, f"{cancelled} cancelled")
        return found, cancelled

    found, cancelled = await db.write(write)
    if found:
        log.warning("%s disallowed %s; cancelled %d queued deliveries", by, host, cancelled)
    return bool(found), int(cancelled)


# -- actors -----------------------------------------------------------------------------


async def block_actor(
    db: Database, actor: str, reason: str, *, by: str, now: str, local_host: str
) -> int:
    """Block a remote actor node-wide: its activities are refused, its follows removed.

    Returns how many follow relations were removed.
    """
    actor = _actor_iri(actor)
    if urlsplit(actor).netloc.lower() == local_host:
        raise ModerationError("a local actor is not blocked: remove or change the member instead")

    def write(conn):  # type: ignore[no-untyped-def]
        moderation_db.block_actor(conn, actor, now)
        removed = follows_db.delete_remote(conn, actor)
        moderation_db.audit(
            conn, now, by, "block-actor", actor, f"{reason} ({removed} follows removed)"
        )
        return removed

    removed = int(await db.write(write))
    log.warning("%s blocked actor %s (%s); removed %d follows", by, actor, reason, removed)
    return removed


async def unblock_actor(db: Database, actor: str, *, by: str, now: str) -> bool:
    actor = _actor_iri(actor)

    def write(conn):  # type: ignore[no-untyped-def]
        found = moderation_db.unblock_actor(conn, actor)
        if found:
            moderation_db.audit(conn, now, by, "unblock-actor", actor)
        return found

    found = bool(await db.write(write))
    if found:
        log.warning("%s unblocked actor %s", by, actor)
    return found


async def listing(db: Database) -> dict[str, Any]:
    """The block and allow lists, for ``kantine blocks`` and the admin API."""
    return {
        "hosts": await hosts_db.block_rows(db),
        "actors": await moderation_db.actor_blocks(db),
        "allows": await hosts_db.allow_rows(db),
    }


# -- reports (Flag) ---------------------------------------------------------------------


async def send_report(
    fed: Federation,
    target: str,
    reason: str,
    *,
    objects: list[str] = (),
    by: str,  # type: ignore[assignment]
) -> dict[str, Any]:
    """Send a ``Flag`` from the instance actor to the node of ``target`` (an actor or object).

    The reported actor is ``target`` itself, or the author of the object ``target``
    names (fetched from its origin). Returns the stored report and how many
    deliveries were queued (0 when the host is blocked or, in allowlist mode, unlisted).
    """
    target = _actor_iri(target)
    if fed.urls.is_local(target):
        raise ModerationError("report a local member to the admins here, not with a Flag")
    assert fed.fetcher is not None
    result = await fed.fetcher.fetch_json(target)
    raw = _json(result.body)
    if raw.get("id") != target:
        raise ModerationError(f"fetching {target} gave another document")
    if set(wire.type_names(raw.get("type"))) & vocab.ACTOR_TYPES:
        actor_id = target
    else:
        actor_id = wire.first_id(raw.get("attributedTo")) or wire.first_id(raw.get("actor")) or ""
        if not actor_id or urlsplit(actor_id).netloc != urlsplit(target).netloc:
            raise ModerationError(f"{target} names no author on its own host")
    remote = await fed.remote_actor(actor_id)
    named = list(dict.fromkeys([actor_id, target, *map(_actor_iri, objects)]))
    reason = reason.strip()[:MAX_REASON]
    instance = await fed.instance_actor()
    activity = {
        "@context": vocab.CONTEXT,
        "id": fed.urls.new_activity(),
        "type": "Flag",
        "actor": fed.actor_id(instance),
        "object": named,
        "content": reason,
        "to": [],
        "cc": [],
    }
    inbox = remote.shared_inbox or remote.inbox
    _, queued = await fed.publish(
        instance, activity, to_followers=False, targets=[(inbox, remote.host)], public=False
    )
    now = iso(fed.clock())

    def write(conn):  # type: ignore[no-untyped-def]
        ident = moderation_db.insert_report(
            conn,
            direction="out",
            activity_id=activity["id"],
            reporter=activity["actor"],
            host=remote.host,
            target=actor_id,
            objects=named,
            reason=reason,
            now=now,
        )
        moderation_db.audit(conn, now, by, "report", actor_id, f"to {remote.host}: {reason}")
        return ident

    ident = await fed.db.write(write)
    log.warning("%s reported %s to %s (%d queued): %s", by, actor_id, remote.host, queued, reason)
    report = await moderation_db.get_report(fed.db, int(ident))
    assert report is not None
    return {"report": report.as_json(), "queued": queued}


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ModerationError(f"the target is not a JSON document: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _named(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [i for i in (wire.first_id(v) for v in items[:50]) if isinstance(i, str)]


async def on_flag(rt: Runtime, item: InboxItem, doc: dict[str, Any]) -> Outcome:
    """A report about something of ours: store it for the admins and log it."""
    named = _named(doc.get("object"))
    ours = [iri for iri in named if rt.urls.is_local(iri)]
    if not ours:
        return Outcome.discard("Flag about nothing on this node")
    actors = [iri for iri in ours if await rt.federation.local_by_iri(iri) is not None]
    target = (actors or ours)[0]
    content = doc.get("content")
    reason = content.strip()[:MAX_REASON] if isinstance(content, str) else ""
    now = iso(rt.clock())
    ident = await rt.db.write(
        lambda c: moderation_db.insert_report(
            c,
            direction="in",
            activity_id=item.activity_id,
            reporter=item.actor,
            host=item.host,
            target=target,
            objects=named,
            reason=reason,
            now=now,
            raw=item.raw,
        )
    )
    if ident is None:
        return Outcome.discard("report already stored")
    log.warning("report #%s from %s about %s: %s", ident, item.actor, target, reason[:200])
    return Outcome.done(f"report #{ident} about {target}")


def moderation_handlers(rt: Runtime) -> Handlers:
    """The processor's dispatch table for moderation (``Flag``)."""

    async def handle_flag(item: InboxItem, doc: dict[str, Any]) -> Outcome:
        return await on_flag(rt, item, doc)

    return {"Flag": [handle_flag]}


def register_cli(sub: Any) -> None:
    """Add the moderation commands to ``kantine`` (see ``node.moderation_cli``)."""
    from .moderation_cli import register

    register(sub)
