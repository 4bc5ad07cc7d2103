"""ActivityStreams documents of local actors and collections, built from protocol.models."""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any
from urllib.parse import quote

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


_RANK = {"public": 0, "cooperative": 1, "network": 2}


def actor_document(
    actor: LocalActor, urls: Urls, settings: Settings, *, viewer: str = "public"
) -> dict[str, Any]:
    """The actor document; keys are always public.

    A member's card fields are included when its ``visibility`` is within what
    ``viewer`` (``public``, ``cooperative`` or ``network``) may see; otherwise
    the card is left out and the name is the username.
    """
    actor_id = urls.actor(actor.path)
    rsa_public_pem, multikey = _public_keys(actor.rsa_pem, actor.ed25519_pem)
    cls = _TYPES[actor.kind]
    extra: dict[str, Any] = {"name": actor.name, "summary": actor.summary or None}
    if actor.kind == "network":
        extra["cooperative"] = urls.cooperative()
    if actor.kind == "project":
        extra["participants"] = actor_id + "/participants"
    if actor.kind == "member":
        extra |= _member_card(actor, urls, viewer)
    manual = actor.manually_approves or (actor.kind == "network" and settings.manual_approval)
    doc = cls(
        context=vocab.CONTEXT,
        id=actor_id,
        preferred_username=actor.username,
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


def _member_card(actor: LocalActor, urls: Urls, viewer: str) -> dict[str, Any]:
    """A member's card fields as ``viewer`` may see them (PropertyValue rows, Hashtag skills)."""
    profile = actor.profile
    visibility = profile.get("visibility", "public")
    if visibility not in _RANK:
        visibility = "network"
    if _RANK[viewer] < _RANK[visibility]:
        return {"name": actor.username, "summary": None, "visibility": visibility}
    rows = [
        models.PropertyValue(name=label, value=html.escape(profile[key]))
        for label, key in (("Discipline", "discipline"), ("City", "city"))
        if profile.get(key)
    ]
    if profile.get("website"):
        rows.append(models.PropertyValue(name="Website", value=_link_html(profile["website"])))
    rows += [
        models.PropertyValue(name=link["name"], value=_link_html(link["value"]))
        for link in profile.get("links", [])
    ]
    tags = [
        models.Hashtag(name="#" + skill, href=f"{urls.base}/tags/{quote(skill.lower())}")
        for skill in profile.get("skills", [])
    ]
    return {
        "name": actor.name,
        "summary": html.escape(actor.summary) if actor.summary else None,
        "discipline": profile.get("discipline") or None,
        "city": profile.get("city") or None,
        "available_for_assignments": bool(profile.get("available", False)),
        "attachment": rows,
        "tag": tags,
        "visibility": visibility,
    }


def _link_html(url: str) -> str:
    """A link as Mastodon renders profile fields: an anchor with the URL's readable part."""
    shown = url.split("://", 1)[-1].removeprefix("mailto:").rstrip("/")
    return (
        f'<a href="{html.escape(url, quote=True)}" rel="me nofollow noopener noreferrer"'
        f' target="_blank">{html.escape(shown)}</a>'
    )


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
