"""Encode and decode published models: bytes, builtin dicts, and reference upgrading."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec

from ..errors import LocalProtocolError, RemoteProtocolError
from ._base import Model
from .activities import (
    Accept,
    Announce,
    Create,
    Delete,
    Flag,
    Follow,
    Join,
    Leave,
    Offer,
    Reject,
    TentativeAccept,
    Undo,
    Update,
)
from .actors import Application, Group, Person
from .objects import (
    Agreement,
    Collection,
    Event,
    Note,
    OrderedCollection,
    OrderedCollectionPage,
    Proposal,
    Tombstone,
)

__all__ = ["PUBLISHED_TYPES", "check", "decode", "encode", "from_dict", "to_dict"]

T = TypeVar("T", bound=msgspec.Struct)

#: Every type that can be a document of its own (one JSON Schema each).
PUBLISHED_TYPES: tuple[type[msgspec.Struct], ...] = (
    Person,
    Group,
    Application,
    Event,
    Proposal,
    Agreement,
    Note,
    Tombstone,
    Collection,
    OrderedCollection,
    OrderedCollectionPage,
    Create,
    Update,
    Delete,
    Follow,
    Accept,
    Reject,
    TentativeAccept,
    Undo,
    Announce,
    Join,
    Leave,
    Offer,
    Flag,
)

_BY_TAG: dict[str, type[msgspec.Struct]] = {cls.__name__: cls for cls in PUBLISHED_TYPES}

_encoder = msgspec.json.Encoder()


@cache
def _decoder(type_: type[msgspec.Struct]) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(type_)


def encode(model: msgspec.Struct) -> bytes:
    """Return the JSON bytes of a model (LocalProtocolError if it holds an unencodable value)."""
    try:
        return _encoder.encode(model)
    except (msgspec.EncodeError, TypeError, ValueError) as exc:
        raise LocalProtocolError(f"cannot encode {type(model).__name__}: {exc}") from exc


def check(model: msgspec.Struct) -> None:
    """Check a model we built against its own constraints (LocalProtocolError naming the field).

    Constructors do not check types or patterns (msgspec checks while decoding), so this
    encodes and decodes strictly; use it in tests and wherever input reaches a model.
    """
    try:
        _decoder(type(model)).decode(encode(model))
    except msgspec.ValidationError as exc:
        raise LocalProtocolError(f"invalid {type(model).__name__}: {exc}") from exc


def to_dict(model: msgspec.Struct) -> dict[str, Any]:
    """Return the model as builtin JSON values (times as RFC 3339 strings), e.g. for proofs."""
    try:
        result = msgspec.to_builtins(model)
    except (msgspec.EncodeError, TypeError, ValueError) as exc:
        raise LocalProtocolError(f"cannot convert {type(model).__name__}: {exc}") from exc
    if not isinstance(result, dict):
        raise LocalProtocolError(f"{type(model).__name__} is not an object")
    return result


def decode(data: bytes | str, type: type[T]) -> T:
    """Decode JSON strictly as ``type``; embedded documents of our types become models.

    Raises RemoteProtocolError naming the offending field. A foreign document that must
    stay byte-exact (a wrapped activity with a proof) should be kept as a dict instead.
    """
    try:
        model = _decoder(type).decode(data)
    except msgspec.ValidationError as exc:
        raise RemoteProtocolError(f"invalid {type.__name__}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise RemoteProtocolError(f"invalid JSON: {exc}") from exc
    return _upgrade_fields(model)


def from_dict(doc: dict[str, Any], type: type[T]) -> T:
    """Convert builtin JSON values strictly to ``type`` (RemoteProtocolError if they do not fit)."""
    try:
        model = msgspec.convert(doc, type)
    except msgspec.ValidationError as exc:
        raise RemoteProtocolError(f"invalid {type.__name__}: {exc}") from exc
    return _upgrade_fields(model)


def _upgrade(value: Any) -> Any:
    """Turn a dict that is a valid model of ours into that model; leave anything else."""
    if isinstance(value, list):
        return [_upgrade(item) for item in value]
    if isinstance(value, msgspec.Struct):
        return _upgrade_fields(value)
    if isinstance(value, dict):
        tag = value.get("type")
        cls = _BY_TAG.get(tag) if isinstance(tag, str) else None
        if cls is None:
            return value
        try:
            model = msgspec.convert(value, cls)
        except msgspec.ValidationError:
            return value  # a foreign document: kept verbatim, by design
        return _upgrade_fields(model)
    return value


def _upgrade_fields(model: T) -> T:
    changes = {}
    for name in model._ref_fields if isinstance(model, Model) else ():
        old = getattr(model, name)
        new = _upgrade(old)
        if new is not old:
            changes[name] = new
    # Typed unions (Undo.object, Create.object, ...) may hold structs with ref fields too.
    for name in model.__struct_fields__:
        if name in changes:
            continue
        old = getattr(model, name)
        if isinstance(old, msgspec.Struct) and isinstance(old, Model) and old._ref_fields:
            new = _upgrade_fields(old)
            if new is not old:
                changes[name] = new
    return msgspec.structs.replace(model, **changes) if changes else model
