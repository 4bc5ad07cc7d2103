"""Strict, frozen msgspec models of everything Kantine publishes, with encode/decode helpers."""

# Times are aware ``datetime`` values and encode as RFC 3339 with their offset; a naive
# datetime is refused. ``@context`` (``context=``), ``to`` and ``cc`` are required wherever
# they apply, so ``omit_defaults`` can never drop them; unset optionals are omitted.
# Fields typed ``Ref`` hold an IRI, a model or a verbatim foreign ``dict``; ``decode``
# turns embedded dicts that are valid models of ours into models.

from __future__ import annotations

from ._base import IRI, JsonLdContext, Ref, Time
from ._codec import PUBLISHED_TYPES, check, decode, encode, from_dict, to_dict
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
    AttendeesCollection,
    Collection,
    Commitment,
    Event,
    Intent,
    Location,
    Note,
    OrderedCollection,
    OrderedCollectionPage,
    Proposal,
    Tombstone,
    Visibility,
)
from .parts import (
    DataIntegrityProof,
    Endpoints,
    Hashtag,
    Image,
    Implementation,
    Mention,
    Multikey,
    Place,
    PostalAddress,
    PropertyValue,
    PublicKey,
    Quantity,
    VirtualLocation,
)

__all__ = [
    "IRI",
    "PUBLISHED_TYPES",
    "Accept",
    "Agreement",
    "Announce",
    "Application",
    "AttendeesCollection",
    "Collection",
    "Commitment",
    "Create",
    "DataIntegrityProof",
    "Delete",
    "Endpoints",
    "Event",
    "Flag",
    "Follow",
    "Group",
    "Hashtag",
    "Image",
    "Implementation",
    "Intent",
    "Join",
    "JsonLdContext",
    "Leave",
    "Location",
    "Mention",
    "Multikey",
    "Note",
    "Offer",
    "OrderedCollection",
    "OrderedCollectionPage",
    "Person",
    "Place",
    "PostalAddress",
    "PropertyValue",
    "Proposal",
    "PublicKey",
    "Quantity",
    "Ref",
    "Reject",
    "TentativeAccept",
    "Time",
    "Tombstone",
    "Undo",
    "Update",
    "VirtualLocation",
    "Visibility",
    "check",
    "decode",
    "encode",
    "from_dict",
    "to_dict",
]
