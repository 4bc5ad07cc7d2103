"""Lenient views of what peers send: activities, actors and objects, with one-or-many helpers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import msgspec

from .errors import PayloadTooLarge, RemoteProtocolError
from .vocab import ACTOR_TYPES, RFC9421_IMPLEMENTS

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "Activity",
    "Actor",
    "KeyRef",
    "MultikeyRef",
    "Object",
    "as_list",
    "check_depth",
    "first_id",
    "ids",
    "parse_activity",
    "parse_actor",
    "parse_json",
    "parse_object",
    "type_names",
]

#: Default limits: a document larger or more deeply nested than this is refused.
MAX_BYTES: Final = 1 << 20
MAX_DEPTH: Final = 32

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


# --- one-or-many helpers ------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    """Return ``value`` as a list: ``None`` is empty, a single value becomes one item."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def first_id(value: Any) -> str | None:
    """Return the first IRI in a link value: a string, an object's ``id``/``href``, or a list."""
    if isinstance(value, str):
        return value or None
    if type(value) is dict or isinstance(value, Mapping):  # a decoded JSON object: no ABC check
        for key in ("id", "href"):
            candidate = value.get(key)
            if isinstance(candidate, str) and candidate:
                return candidate
        return None
    if isinstance(value, list):
        for item in value:
            found = first_id(item)
            if found is not None:
                return found
    return None


def ids(value: Any) -> list[str]:
    """Return every IRI in a one-or-many link value, in order, skipping what has none."""
    # Decoded JSON addresses are nearly always a string or a list of strings: no lookups.
    kind = type(value)
    if kind is str:
        return [value] if value else []
    result = []
    if kind is list:
        for item in value:
            if type(item) is str:
                if item:
                    result.append(item)
            elif not isinstance(item, list):
                found = first_id(item)
                if found is not None:
                    result.append(found)
        return result
    for item in as_list(value):
        found = first_id(item) if not isinstance(item, list) else None
        if found is not None:
            result.append(found)
    return result


def type_names(value: Any) -> tuple[str, ...]:
    """Return the type names of a ``type`` value (string or array) or of an object."""
    if type(value) is str:  # the usual "type": "Create"
        return (value,)
    if type(value) is dict or (type(value) is not list and isinstance(value, Mapping)):
        value = value.get("type")
    return tuple(item for item in as_list(value) if isinstance(item, str))


# --- structs ------------------------------------------------------------------------


class _Lenient(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Unknown fields ignored; every field optional; one-or-many values kept as sent."""

    context: Any = msgspec.field(name="@context", default=None)
    id: str | None = None
    type: str | list[str] | None = None

    @property
    def types(self) -> tuple[str, ...]:
        """The ``type`` value as a tuple of names."""
        return type_names(self.type)

    def has_type(self, *names: str) -> bool:
        """Whether any of ``names`` is among this document's types."""
        return not set(names).isdisjoint(self.types)


class Activity(_Lenient, frozen=True, kw_only=True):
    """An activity as a peer sent it."""

    actor: Any = None
    object: Any = None
    target: Any = None
    result: Any = None
    origin: Any = None
    instrument: Any = None
    to: Any = None
    cc: Any = None
    bto: Any = None
    bcc: Any = None
    audience: Any = None
    published: str | None = None
    updated: str | None = None
    name: str | None = None
    summary: str | None = None
    content: str | None = None
    proof: Any = None

    @property
    def actor_id(self) -> str | None:
        """The IRI of the actor (the first one, if several)."""
        return first_id(self.actor)

    @property
    def object_id(self) -> str | None:
        """The IRI of the object, whether referenced or embedded."""
        return first_id(self.object)

    @property
    def target_id(self) -> str | None:
        """The IRI of the target, if any."""
        return first_id(self.target)

    @property
    def embedded_object(self) -> dict[str, Any] | None:
        """The object if it is embedded as a single JSON object, else ``None``."""
        return self.object if isinstance(self.object, dict) else None


class KeyRef(msgspec.Struct, frozen=True):
    """A ``publicKey`` entry: key id, owner and PEM."""

    id: str
    owner: str | None
    pem: str


class MultikeyRef(msgspec.Struct, frozen=True):
    """An FEP-521a ``Multikey`` entry of ``assertionMethod``."""

    id: str
    controller: str | None
    multibase: str


class Actor(_Lenient, frozen=True, kw_only=True):
    """An actor document as a peer serves it."""

    preferred_username: str | None = None
    name: str | None = None
    summary: str | None = None
    inbox: str | None = None
    outbox: str | None = None
    followers: str | None = None
    following: str | None = None
    featured: Any = None
    endpoints: Any = None
    public_key: Any = None
    assertion_method: Any = None
    implements: Any = None
    manually_approves_followers: bool | None = None
    discoverable: bool | None = None
    url: Any = None
    icon: Any = None
    image: Any = None
    attachment: Any = None
    tag: Any = None
    attributed_to: Any = None
    also_known_as: Any = None
    moved_to: Any = None
    published: str | None = None
    updated: str | None = None

    def shared_inbox(self) -> str | None:
        """``endpoints.sharedInbox``, if the actor has one."""
        if isinstance(self.endpoints, Mapping):
            value = self.endpoints.get("sharedInbox")
            if isinstance(value, str) and value:
                return value
        return None

    def public_keys(self) -> list[KeyRef]:
        """Every usable ``publicKey`` entry (one object or a list of them)."""
        keys = []
        for entry in as_list(self.public_key):
            if not isinstance(entry, Mapping):
                continue
            key_id, pem = entry.get("id"), entry.get("publicKeyPem")
            owner = entry.get("owner")
            if isinstance(key_id, str) and isinstance(pem, str):
                keys.append(KeyRef(key_id, owner if isinstance(owner, str) else None, pem))
        return keys

    def public_key_by_id(self, key_id: str) -> KeyRef | None:
        """The ``publicKey`` entry whose id is ``key_id``."""
        return next((key for key in self.public_keys() if key.id == key_id), None)

    def rsa_key_pem(self, key_id: str) -> str | None:
        """The PEM of the ``publicKey`` whose id is ``key_id`` (Mastodon's RSA key)."""
        key = self.public_key_by_id(key_id)
        return key.pem if key is not None else None

    def multikeys(self) -> list[MultikeyRef]:
        """Every ``Multikey`` in ``assertionMethod`` (entries that are bare IRIs are skipped)."""
        keys = []
        for entry in as_list(self.assertion_method):
            if not isinstance(entry, Mapping) or "Multikey" not in type_names(entry):
                continue
            key_id, value = entry.get("id"), entry.get("publicKeyMultibase")
            controller = entry.get("controller")
            if isinstance(key_id, str) and isinstance(value, str):
                keys.append(
                    MultikeyRef(key_id, controller if isinstance(controller, str) else None, value)
                )
        return keys

    def multikey(self, key_id: str) -> MultikeyRef | None:
        """The ``Multikey`` whose id is ``key_id``."""
        return next((key for key in self.multikeys() if key.id == key_id), None)

    def ed25519_multikey(self, key_id: str) -> str | None:
        """The ``publicKeyMultibase`` of the Ed25519 Multikey ``key_id`` (``z6Mk...``)."""
        key = self.multikey(key_id)
        if key is None or not key.multibase.startswith("z6Mk"):
            return None
        return key.multibase

    def supports_rfc9421(self) -> bool:
        """Whether FEP-844e ``implements`` lists RFC 9421 HTTP Message Signatures."""
        return RFC9421_IMPLEMENTS in {first_id(item) for item in as_list(self.implements)}


class Object(_Lenient, frozen=True, kw_only=True):
    """Any other object: notes, events (FEP-8a8e / Mobilizon), proposals (FEP-0837), ..."""

    attributed_to: Any = None
    actor: Any = None
    object: Any = None
    name: str | None = None
    summary: str | None = None
    content: str | None = None
    media_type: str | None = None
    url: Any = None
    href: str | None = None
    published: str | None = None
    updated: str | None = None
    deleted: str | None = None
    former_type: Any = None
    in_reply_to: Any = None
    tag: Any = None
    attachment: Any = None
    image: Any = None
    icon: Any = None
    to: Any = None
    cc: Any = None
    bto: Any = None
    bcc: Any = None
    audience: Any = None
    sensitive: bool | None = None
    # Event (FEP-8a8e, Mobilizon)
    start_time: str | None = None
    end_time: str | None = None
    timezone: str | None = None
    location: Any = None
    event_status: Any = None
    join_mode: str | None = None
    organizers: Any = None
    maximum_attendee_capacity: Any = None
    remaining_attendee_capacity: Any = None
    participant_count: Any = None
    attendees: Any = None
    external_participation_url: Any = None
    # Proposal (FEP-0837)
    purpose: str | None = None
    publishes: Any = None
    reciprocal: Any = None
    stipulates: Any = None
    stipulates_reciprocal: Any = None
    # Collections
    total_items: int | None = None
    items: Any = None
    ordered_items: Any = None
    first: Any = None
    last: Any = None
    next: Any = None
    prev: Any = None
    part_of: Any = None
    # Kantine
    visibility: str | None = None
    proof: Any = None

    @property
    def attributed_to_id(self) -> str | None:
        """The IRI of the (first) author."""
        return first_id(self.attributed_to)


# --- parsing ------------------------------------------------------------------------

S = TypeVar("S", bound=_Lenient)


def check_depth(body: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than ``max_depth`` (scanned before decoding, strings skipped)."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return  # not even that many brackets anywhere, strings included
    structure = _STRING.sub(b"", body)
    if structure.count(b"[") + structure.count(b"{") <= max_depth:
        return
    depth = 0
    for match in _BRACKET.finditer(structure):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise RemoteProtocolError(f"JSON nested deeper than {max_depth} levels")
        else:
            depth -= 1


def _load(
    body: bytes | str | Mapping[str, Any], cls: type[S], what: str, max_depth: int, max_bytes: int
) -> S:
    if type(body) is dict or isinstance(body, Mapping):  # decoded JSON: no ABC check
        try:
            return msgspec.convert(body, cls)
        except msgspec.ValidationError as exc:
            raise RemoteProtocolError(f"malformed {what}: {exc}") from exc
    if isinstance(body, str):
        body = body.encode()
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"{what} of {len(body)} bytes exceeds the limit of {max_bytes}")
    check_depth(body, max_depth)
    try:
        return msgspec.json.decode(body, type=cls)
    except msgspec.ValidationError as exc:
        if not body.lstrip().startswith(b"{"):
            raise RemoteProtocolError(f"{what} is not a JSON object") from exc
        raise RemoteProtocolError(f"malformed {what}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise RemoteProtocolError(f"invalid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:  # msgspec's error for bytes that are not UTF-8
        raise RemoteProtocolError("invalid JSON: not UTF-8") from exc


def parse_json(body: bytes | str, *, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> Any:
    """Decode a peer's JSON without a schema, within the same limits as ``parse_*``.

    Raises ``RemoteProtocolError`` for what is not JSON (bytes that are not UTF-8,
    numbers out of range), nested deeper than ``max_depth`` (the decoder would
    otherwise recurse until ``RecursionError``), and ``PayloadTooLarge``.
    """
    if isinstance(body, str):
        body = body.encode()
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"document of {len(body)} bytes exceeds the limit of {max_bytes}")
    check_depth(body, max_depth)
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:  # ValidationError too: a number out of range
        raise RemoteProtocolError(f"invalid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise RemoteProtocolError("invalid JSON: not UTF-8") from exc


def _require(doc: _Lenient, what: str, *, require_id: bool, require_type: bool) -> None:
    if require_id and not doc.id:
        raise RemoteProtocolError(f"{what} has no id")
    if require_type and not doc.types:
        raise RemoteProtocolError(f"{what} has no type")


def parse_activity(
    body: bytes | str | Mapping[str, Any],
    *,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_BYTES,
    require_id: bool = True,
) -> Activity:
    """Parse an incoming activity; it must have a type and an actor.

    With ``require_id`` (the default, what an inbox needs) the activity must have an
    ``id`` and its actor an IRI; without it, an anonymous embedded actor is accepted.
    """
    activity = _load(body, Activity, "activity", max_depth, max_bytes)
    _require(activity, "activity", require_id=require_id, require_type=True)
    if activity.actor is None or activity.actor == []:
        raise RemoteProtocolError("activity has no actor")
    if require_id and activity.actor_id is None:
        raise RemoteProtocolError("activity's actor has no id")
    return activity


def parse_actor(
    body: bytes | str | Mapping[str, Any],
    *,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_BYTES,
) -> Actor:
    """Parse an actor document; it must have an id, an actor type and an inbox."""
    actor = _load(body, Actor, "actor", max_depth, max_bytes)
    _require(actor, "actor", require_id=True, require_type=True)
    if ACTOR_TYPES.isdisjoint(actor.types):
        raise RemoteProtocolError(f"not an actor type: {', '.join(actor.types)}")
    if not actor.inbox:
        raise RemoteProtocolError("actor has no inbox")
    return actor


def parse_object(
    body: bytes | str | Mapping[str, Any],
    *,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_BYTES,
    require_id: bool = True,
    require_type: bool = True,
) -> Object:
    """Parse any object (fetched, or embedded in an activity when given a dict)."""
    obj = _load(body, Object, "object", max_depth, max_bytes)
    _require(obj, "object", require_id=require_id, require_type=require_type)
    return obj
