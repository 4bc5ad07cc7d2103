"""FEP-1b12 relaying: a project ``Announce``s a participant's activity, embedded byte for byte.

The participant's activity is embedded exactly as it arrived (the inbox row's raw
bytes, or the outbox bytes of a local member's post): the Announce body is spliced
around those bytes, so a third node decodes the very document the author signed and
verifies the author's FEP-8b32 proof without fetching anything. The Announce carries
the project's own proof, over the whole document (JCS is independent of key order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from protocol import addressing, vocab, wire

from ...clock import iso
from ...storage.actors import LocalActor

if TYPE_CHECKING:
    from ...runtime import Runtime

__all__ = ["addressed_to", "build_announce", "publish_raw"]


def addressed_to(activity: dict[str, Any]) -> set[str]:
    """Every IRI an activity, or the object it embeds, is addressed to (audience, to, cc)."""
    found = addressing.audience(activity)
    obj = activity.get("object")
    if isinstance(obj, dict):
        found |= addressing.audience(obj)
    return found


def build_announce(rt: Runtime, project: LocalActor, raw: bytes) -> tuple[bytes, dict[str, Any]]:
    """The project's signed Announce of ``raw`` (an activity's JSON): ``(body, document)``.

    In ``body`` the value of ``object`` is ``raw`` itself, unchanged.
    """
    fed = rt.federation
    project_id = fed.actor_id(project)
    embedded = raw.strip()
    inner = msgspec.json.decode(embedded)
    if not isinstance(inner, dict):
        raise ValueError("only a JSON object can be announced")
    fields: dict[str, Any] = {
        "@context": vocab.CONTEXT,
        "id": rt.urls.new_activity(),
        "type": "Announce",
        "actor": project_id,
        "to": [vocab.AS_PUBLIC],
        "cc": [rt.urls.followers(project_id)],
        "audience": project_id,
        "published": iso(rt.clock()),
    }
    signed = fed.sign_document(project, {**fields, "object": inner})
    head = msgspec.json.encode(fields)
    body = (
        head[:-1]
        + b',"object":'
        + embedded
        + b',"proof":'
        + msgspec.json.encode(signed["proof"])
        + b"}"
    )
    if msgspec.json.decode(body) != signed:  # the splice must be the document that was signed
        raise ValueError("the spliced Announce does not decode to the signed document")
    return body, signed


async def publish_raw(
    rt: Runtime, project: LocalActor, document: dict[str, Any], body: bytes
) -> int:
    """Store ``body`` in the outbox and queue it to the project's followers (one per shared inbox)."""
    inner = document.get("object")
    object_id = wire.first_id(inner.get("object")) if isinstance(inner, dict) else None
    _, queued = await rt.federation.publish(project, document, object_id=object_id, body=body)
    return queued
