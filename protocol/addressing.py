"""Addressing: the public collection, to/cc/bto/bcc/audience, recipients, stripping bto/bcc."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import msgspec

from .errors import LocalProtocolError
from .vocab import PUBLIC_SPELLINGS
from .wire import ids

__all__ = [
    "ADDRESS_FIELDS",
    "HIDDEN_FIELDS",
    "audience",
    "is_addressed_to",
    "is_public",
    "is_publicly_addressed",
    "recipients",
    "strip_hidden",
]

#: The fields that address an activity or object, in delivery order.
ADDRESS_FIELDS: Final = ("to", "cc", "bto", "bcc", "audience")
#: The fields that must never be published.
HIDDEN_FIELDS: Final = ("bto", "bcc")


def is_public(iri: object) -> bool:
    """Whether ``iri`` names the public collection (in any of its three spellings)."""
    return isinstance(iri, str) and iri in PUBLIC_SPELLINGS


def _field(doc: Any, name: str) -> Any:
    if type(doc) is dict or isinstance(doc, Mapping):  # a JSON dict: no ABC check
        return doc.get(name)
    if isinstance(doc, msgspec.Struct):
        return getattr(doc, name, None)
    raise LocalProtocolError(f"expected a mapping or a struct, got {type(doc).__name__}")


def _addresses(doc: Any) -> list[str]:
    """Every IRI in the address fields, in order, with duplicates."""
    result: list[str] = []
    if type(doc) is dict:  # decoded JSON: most address fields are absent
        for name in ADDRESS_FIELDS:
            value = doc.get(name)
            if value is not None:
                result.extend(ids(value))
        return result
    for name in ADDRESS_FIELDS:
        result.extend(ids(_field(doc, name)))
    return result


def audience(doc: Any) -> set[str]:
    """The IRIs an activity or object is addressed to (to, cc, bto, bcc, audience).

    ``doc`` is a JSON dict, a ``wire`` struct or a ``models`` struct.
    """
    return set(_addresses(doc))


def is_publicly_addressed(doc: Any) -> bool:
    """Whether any address of ``doc`` is the public collection."""
    return not PUBLIC_SPELLINGS.isdisjoint(_addresses(doc))


def is_addressed_to(doc: Any, iri: str) -> bool:
    """Whether ``iri`` is among the addresses of ``doc``."""
    return iri in audience(doc)


def recipients(doc: Any, *, exclude: Iterable[str] = ()) -> list[str]:
    """The addresses to deliver to: in order, deduplicated, without Public and ``exclude``."""
    skip = set(exclude)
    result: list[str] = []
    for iri in _addresses(doc):
        if is_public(iri) or iri in skip:
            continue
        skip.add(iri)
        result.append(iri)
    return result


def strip_hidden(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``doc`` without ``bto``/``bcc``, also in its embedded ``object``(s)."""
    result = {key: value for key, value in doc.items() if key not in HIDDEN_FIELDS}
    embedded = result.get("object")
    if isinstance(embedded, Mapping):
        result["object"] = strip_hidden(embedded)
    elif isinstance(embedded, list):
        result["object"] = [
            strip_hidden(item) if isinstance(item, Mapping) else item for item in embedded
        ]
    return result
