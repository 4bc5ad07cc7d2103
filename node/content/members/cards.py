"""Member cards: the fields, their validation, and how much of a card a viewer sees.

A card's ``visibility`` decides who sees its fields (name, summary, discipline,
city, skills, website, links, availability); the actor document and its keys are
always public. Viewers are ranked: ``public`` (anyone) < ``cooperative`` (a GET
signed by an actor on a co-operative host) < ``network`` (a signed-in local member).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from aiohttp import web

from protocol import validation
from protocol.errors import ProtocolError

from ...api.auth import ROLE_RANK, ApiError, optional_member
from ...appkeys import DB, FEDERATION, SETTINGS
from ...cooperative import Cooperative
from ...storage.actors import LocalActor
from ...urls import Urls

__all__ = [
    "RANK",
    "RESERVED",
    "USERNAME_RE",
    "VISIBILITIES",
    "CardChange",
    "Link",
    "NewMember",
    "apply_change",
    "card_visibility",
    "member_json",
    "parse_body",
    "shows",
    "viewer_level",
]

log = logging.getLogger("kantine.members")

VISIBILITIES = ("public", "cooperative", "network")
RANK = {name: rank for rank, name in enumerate(VISIBILITIES)}
USERNAME_RE = re.compile(r"^[a-z0-9_]{1,30}$")
#: Names no member may take (paths and role words; the same set ``kantine init`` refuses as a slug).
RESERVED = frozenset({"relay", "actor", "network", "inbox", "admin", "api", "static"})
SKILL_RE = re.compile(r"^\w{1,40}$")
_LIMITS = {"name": 100, "summary": 2000, "discipline": 100, "city": 100, "website": 500}


class Link(msgspec.Struct, forbid_unknown_fields=True):
    """A contact link: a label and a URL (``https:``, ``http:`` or ``mailto:``)."""

    name: str
    value: str


class CardChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Card fields to set; fields left ``UNSET`` keep their value (PATCH semantics)."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    summary: str | msgspec.UnsetType = msgspec.UNSET
    discipline: str | msgspec.UnsetType = msgspec.UNSET
    city: str | msgspec.UnsetType = msgspec.UNSET
    skills: list[str] | msgspec.UnsetType = msgspec.UNSET
    website: str | msgspec.UnsetType = msgspec.UNSET
    links: list[Link] | msgspec.UnsetType = msgspec.UNSET
    available: bool | msgspec.UnsetType = msgspec.UNSET
    visibility: str | msgspec.UnsetType = msgspec.UNSET
    role: str | msgspec.UnsetType = msgspec.UNSET


class NewMember(CardChange, kw_only=True):
    """A member to add: a username and a name, the rest optional."""

    username: str


def _bad(reason: str) -> ApiError:
    return ApiError(reason, status_hint=400)


def _url(value: str, field: str, schemes: tuple[str, ...] = ("https", "http")) -> str:
    scheme = value.split(":", 1)[0].lower()
    if scheme not in schemes or (
        scheme != "mailto" and not value.lower().startswith(scheme + "://")
    ):
        raise _bad(f"{field} must be a URL ({', '.join(schemes)}), got {value!r}")
    if any(c.isspace() for c in value):
        raise _bad(f"{field} must not contain spaces")
    return value


def validate(change: CardChange) -> None:
    """Raise ``ApiError`` (400) naming the first field that is not acceptable."""
    for field, limit in _LIMITS.items():
        value = getattr(change, field)
        if isinstance(value, str) and len(value) > limit:
            raise _bad(f"{field} is longer than {limit} characters")
    if isinstance(change.name, str) and not change.name.strip():
        raise _bad("name must not be empty")
    if isinstance(change.skills, list):
        if len(change.skills) > 30:
            raise _bad("at most 30 skills")
        for skill in change.skills:
            if not SKILL_RE.match(skill):
                raise _bad(
                    f"skill {skill!r} must be one word of letters, digits or _ (it becomes a hashtag)"
                )
    if isinstance(change.website, str) and change.website:
        _url(change.website, "website")
    if isinstance(change.links, list):
        if len(change.links) > 10:
            raise _bad("at most 10 links")
        for link in change.links:
            if not 1 <= len(link.name.strip()) <= 50:
                raise _bad("a link's name must have 1 to 50 characters")
            _url(link.value, f"link {link.name!r}", ("https", "http", "mailto"))
    if isinstance(change.visibility, str) and change.visibility not in VISIBILITIES:
        raise _bad(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if isinstance(change.role, str) and change.role not in ROLE_RANK:
        raise _bad(f"role must be one of {', '.join(ROLE_RANK)}")


def apply_change(actor: LocalActor, change: CardChange) -> bool:
    """Write ``change`` into ``actor`` (validated first); True if the card's fields changed."""
    validate(change)
    before = (actor.name, actor.summary, dict(actor.profile))
    if isinstance(change.name, str):
        actor.name = change.name.strip()
    if isinstance(change.summary, str):
        actor.summary = change.summary.strip()
    profile = dict(actor.profile)
    for field in ("discipline", "city", "website"):
        value = getattr(change, field)
        if isinstance(value, str):
            profile[field] = value.strip()
    if isinstance(change.skills, list):
        profile["skills"] = list(dict.fromkeys(s for s in change.skills if s))
    if isinstance(change.links, list):
        profile["links"] = [{"name": x.name.strip(), "value": x.value} for x in change.links]
    if isinstance(change.available, bool):
        profile["available"] = change.available
    if isinstance(change.visibility, str):
        profile["visibility"] = change.visibility
    actor.profile = profile
    return (actor.name, actor.summary, actor.profile) != before


def card_visibility(actor: LocalActor) -> str:
    value = actor.profile.get("visibility", "public")
    return value if value in RANK else "network"


def shows(card: str, viewer: str) -> bool:
    """Whether a viewer of rank ``viewer`` sees the fields of a card with visibility ``card``."""
    return RANK[viewer] >= RANK[card]


def member_json(actor: LocalActor, urls: Urls, viewer: str) -> dict[str, Any]:
    """The API's view of a local member: card fields as ``viewer`` may see them."""
    visibility = card_visibility(actor)
    out: dict[str, Any] = {
        "username": actor.username,
        "id": urls.actor(actor.path),
        "visibility": visibility,
        "name": actor.username,
    }
    if shows(visibility, viewer):
        profile = actor.profile
        out |= {
            "name": actor.name,
            "summary": actor.summary,
            "discipline": profile.get("discipline", ""),
            "city": profile.get("city", ""),
            "skills": list(profile.get("skills", [])),
            "website": profile.get("website", ""),
            "links": list(profile.get("links", [])),
            "available": bool(profile.get("available", False)),
        }
    if viewer == "network":
        out |= {"role": actor.role, "created": actor.created_at, "updated": actor.updated_at}
    return out


def parse_body(body: bytes, kind: type[Any]) -> Any:
    """Decode a JSON request body into ``kind``; 400 with msgspec's reason otherwise."""
    if not body.strip():
        raise _bad("a JSON body is required")
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise _bad(f"invalid body: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise _bad(f"invalid JSON: {exc}") from exc


async def viewer_level(request: web.Request, actor: LocalActor) -> str:
    """How much of ``actor``'s card this GET may see (``public``, ``cooperative`` or ``network``).

    A bearer token of a local member sees everything (a bad token is 401); a GET with
    an HTTP signature that verifies, by an actor on a co-operative host, sees
    ``cooperative`` cards; a signature that does not verify is treated as no signature.
    """
    if actor.kind != "member":
        return "public"
    visibility = card_visibility(actor)
    if visibility == "public":
        return "public"
    bearer = request.headers.get("Authorization", "").lower().startswith("bearer ")
    if bearer and await optional_member(request) is not None:
        return "network"
    headers = request.headers
    if visibility == "cooperative" and ("Signature" in headers or "Signature-Input" in headers):
        settings = request.app[SETTINGS]
        try:
            _, owner = await request.app[FEDERATION].verify_request(
                "GET", settings.base + request.path_qs, headers, None
            )
        except ProtocolError as exc:
            log.info("unverified GET of %s: %s", request.path, exc.reason)
            return "public"
        host = validation.host_of(owner)
        if await Cooperative(request.app[DB], settings.slug).includes(host):
            return "cooperative"
    return "public"
