"""Actors we publish: Person (member card), Group (network, project), Application (instance)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from ._base import IRI, JsonLdContext, Time, Typed
from .parts import (
    DataIntegrityProof,
    Endpoints,
    Hashtag,
    Image,
    Implementation,
    Multikey,
    PropertyValue,
    PublicKey,
)

__all__ = ["Application", "Group", "Person"]


class _Actor(Typed, frozen=True, kw_only=True):
    """Fields every actor we publish has."""

    context: JsonLdContext = msgspec.field(name="@context")
    id: IRI
    preferred_username: Annotated[str, msgspec.Meta(min_length=1)]
    name: str | None = None
    summary: str | None = None
    inbox: IRI
    outbox: IRI
    followers: IRI
    following: IRI
    endpoints: Endpoints | None = None
    public_key: PublicKey
    assertion_method: list[Multikey] = []
    implements: list[Implementation] = []
    url: IRI | None = None
    icon: Image | None = None
    image: Image | None = None
    attachment: list[PropertyValue] = []
    tag: list[Hashtag] = []
    manually_approves_followers: bool | None = None
    discoverable: bool | None = None
    published: Time | None = None
    updated: Time | None = None
    visibility: Literal["public", "cooperative", "network"] | None = None
    proof: DataIntegrityProof | None = None


class Person(_Actor, frozen=True, kw_only=True):
    """A member card; ``discipline``, ``city`` and availability are Kantine terms."""

    discipline: str | None = None
    city: str | None = None
    available_for_assignments: bool | None = None


class Group(_Actor, frozen=True, kw_only=True):
    """A network or a shared project (FEP-1b12 semantics)."""

    attributed_to: IRI | None = None
    #: A project's participants collection.
    participants: IRI | None = None
    #: A network's co-operative collection (the hosts non-public objects go to).
    cooperative: IRI | None = None


class Application(_Actor, frozen=True, kw_only=True):
    """The instance actor (FEP-2677 / FEP-d556)."""
