"""ActivityStreams documents of local actors and collections, built from protocol.models."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec

from protocol import keys, models, vocab

from .config import Settings
from .storage.actors import LocalActor
from .urls import Urls

__all__ = ["actor_document", "collection_page", "ordered_collection"]

_TYPES = {
    "network": models.Group,
    "project": models.Group,
    "instance": models.Application,
    "member": models.Person,
}


@lru_cache(maxsize=1024)
def _public_keys(rsa_pem: str, ed25519_pem: str) -> tuple[str, str]:
    """The public halves (RSA PEM, Ed25519 Multikey); loading an RSA private key costs ~50 ms."""
    return (
        keys.dump_public_pem(keys.load_private_pem(rsa_pem)),
        keys.encode_multikey(keys.load_private_pem(ed25519_pem)),
    )


def actor_document(actor: LocalActor, urls: Urls, settings: Settings) -> dict[str, Any]:
    """The public actor document (keys are always public; card fields are filtered elsewhere)."""
    actor_id = urls.actor(actor.path)
    rsa_public_pem, multikey = _public_keys(actor.rsa_pem, actor.ed25519_pem)
    cls = _TYPES[actor.kind]
    extra: dict[str, Any] = {}
    if actor.kind == "network":
        extra["cooperative"] = urls.cooperative()
    manual = actor.manually_approves or (actor.kind == "network" and settings.manual_approval)
    doc = cls(
        context=vocab.CONTEXT,
        id=actor_id,
        preferred_username=actor.username,
        name=actor.name,
        summary=actor.summary or None,
        inbox=urls.inbox(actor_id),
        outbox=urls.outbox(actor_id),
        followers=urls.followers(actor_id),
        following=urls.following(actor_id),
        endpoints=models.Endpoints(shared_inbox=urls.shared_inbox()),
        public_key=models.PublicKey(
            id=urls.rsa_key_id(actor_id),
            owner=actor_id,
            public_key_pem=rsa_public_pem,
        ),
        assertion_method=[
            models.Multikey(
                id=urls.ed25519_key_id(actor_id),
                controller=actor_id,
                public_key_multibase=multikey,
            )
        ],
        implements=[
            models.Implementation(
                href=vocab.RFC9421_IMPLEMENTS, name="RFC 9421: HTTP Message Signatures"
            )
        ],
        url=actor_id,
        manually_approves_followers=manual,
        discoverable=True,
        **extra,
    )
    return msgspec.to_builtins(doc)


def ordered_collection(collection_id: str, total: int, first: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": vocab.AS_CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
    }
    if first:
        doc["first"] = first
    return doc


def collection_page(
    page_id: str, part_of: str, items: list[Any], next_page: str | None
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": vocab.AS_CONTEXT,
        "id": page_id,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "orderedItems": items,
    }
    if next_page:
        doc["next"] = next_page
    return doc
