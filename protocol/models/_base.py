"""Base structs, field types and the reference rule shared by every published model."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, TypeAlias

import msgspec

__all__ = [
    "IRI",
    "IRI_PATTERN",
    "JsonLdContext",
    "Model",
    "Ref",
    "Time",
    "Typed",
    "check_ref",
]

#: An absolute http(s) IRI without whitespace (the full rules are in ``protocol.validation``).
IRI_PATTERN = r"^https?://[^\s/?#@]+(?:[/?#]\S*)?$"

_IRI_RE = re.compile(IRI_PATTERN)

IRI: TypeAlias = Annotated[str, msgspec.Meta(pattern=IRI_PATTERN)]

#: An aware datetime; encoded as RFC 3339 with its offset (``Z`` for UTC).
Time: TypeAlias = Annotated[datetime, msgspec.Meta(tz=True)]

#: The ``@context`` value: one IRI or a list of IRIs and inline term maps.
JsonLdContext: TypeAlias = str | list[str | dict[str, Any]]

#: An IRI, an embedded model, a verbatim foreign document (``dict``), or a list of those.
#: Typed ``Any`` because msgspec cannot mix ``dict`` and structs in one union; the
#: owning struct checks the value in ``__post_init__``.
Ref: TypeAlias = Annotated[
    Any,
    msgspec.Meta(
        extra_json_schema={
            "anyOf": [
                {"type": "string", "pattern": IRI_PATTERN},
                {"type": "object"},
                {
                    "type": "array",
                    "items": {
                        "anyOf": [{"type": "string", "pattern": IRI_PATTERN}, {"type": "object"}]
                    },
                },
            ]
        }
    ),
]


class Model(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    omit_defaults=True,
    rename="camel",
):
    """Strict, frozen, keyword-only; unset optionals are omitted; JSON names are camelCase."""

    #: Fields typed ``Ref`` that ``__post_init__`` checks and ``decode`` upgrades.
    _ref_fields: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, datetime) and value.utcoffset() is None:
                raise ValueError(
                    f"`{name}` must be an aware datetime (it is encoded with an offset)"
                )
        for name in self._ref_fields:
            check_ref(getattr(self, name), name)


class Typed(Model, frozen=True, tag_field="type", tag=True):
    """A model whose JSON ``type`` is its class name (or an explicit tag)."""


def check_ref(value: object, name: str, *, nested: bool = False) -> None:
    """Raise ``TypeError`` unless ``value`` is None, an IRI, a model, a dict or a list of those."""
    if value is None and not nested:
        return
    if isinstance(value, str):
        if not _IRI_RE.match(value):
            raise ValueError(f"`{name}` must be an absolute http(s) IRI, got {value!r}")
        return
    if isinstance(value, msgspec.Struct | dict):
        return
    if isinstance(value, list) and not nested:
        for item in value:
            check_ref(item, name, nested=True)
        return
    raise TypeError(f"`{name}` must be an IRI, a model or an object, got {type(value).__name__}")
