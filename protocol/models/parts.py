"""Small embedded structs: keys, endpoints, tags, images, places, quantities, proofs."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from ._base import IRI, JsonLdContext, Model, Typed

__all__ = [
    "DataIntegrityProof",
    "Endpoints",
    "Hashtag",
    "Image",
    "Implementation",
    "Mention",
    "Multikey",
    "Place",
    "PostalAddress",
    "PropertyValue",
    "PublicKey",
    "Quantity",
    "VirtualLocation",
]

_RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"

_PEM = r"^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n?$"


class PublicKey(Model, frozen=True, kw_only=True):
    """The Mastodon-compatible ``publicKey`` (RSA, PEM SubjectPublicKeyInfo)."""

    id: IRI
    owner: IRI
    public_key_pem: Annotated[str, msgspec.Meta(pattern=_PEM)]


class Multikey(Typed, frozen=True, kw_only=True):
    """An FEP-521a verification method (our Ed25519 key, in ``assertionMethod``)."""

    id: IRI
    controller: IRI
    public_key_multibase: Annotated[str, msgspec.Meta(pattern=r"^z[1-9A-HJ-NP-Za-km-z]+$")]


class Endpoints(Model, frozen=True, kw_only=True):
    """The actor's ``endpoints`` (only ``sharedInbox``)."""

    shared_inbox: IRI | None = None


class PropertyValue(Typed, frozen=True, kw_only=True):
    """A profile field, shown by Mastodon as a name/value row."""

    name: str
    value: str


class Hashtag(Typed, frozen=True, kw_only=True):
    """A tag (skills on cards and assignments); ``name`` starts with ``#``."""

    name: Annotated[str, msgspec.Meta(pattern=r"^#\S+$")]
    href: IRI


class Mention(Typed, frozen=True, kw_only=True):
    """A mention of an actor in a note; ``name`` is ``@user@host``."""

    name: str
    href: IRI


class Image(Typed, frozen=True, kw_only=True):
    """An avatar, header or event banner."""

    url: IRI
    media_type: str | None = None
    name: str | None = None


class Implementation(Model, frozen=True, kw_only=True):
    """An FEP-844e ``implements`` entry: a specification IRI and its name."""

    href: IRI
    name: str


class PostalAddress(Typed, frozen=True, kw_only=True):
    """A schema.org postal address (what Mobilizon sends and reads)."""

    name: str | None = None
    street_address: str | None = None
    postal_code: str | None = None
    address_locality: str | None = None
    address_region: str | None = None
    address_country: str | None = None


class Place(Typed, frozen=True, kw_only=True):
    """A physical place: a name, a postal address and/or coordinates."""

    id: IRI | None = None
    name: str | None = None
    address: PostalAddress | None = None
    latitude: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    longitude: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None
    url: IRI | None = None


class VirtualLocation(Typed, frozen=True, kw_only=True):
    """An online location (schema.org ``VirtualLocation``): the meeting link."""

    url: IRI
    name: str | None = None


class Quantity(Model, frozen=True, kw_only=True):
    """An om2 measure; the number is a decimal string, as FEP-0837 writes it."""

    has_unit: str
    has_numerical_value: Annotated[str, msgspec.Meta(pattern=r"^-?\d+(\.\d+)?$")]


class DataIntegrityProof(Typed, frozen=True, kw_only=True):
    """An FEP-8b32 proof (eddsa-jcs-2022); times stay strings so re-encoding keeps them exact."""

    context: JsonLdContext | None = msgspec.field(name="@context", default=None)
    cryptosuite: Literal["eddsa-jcs-2022"]
    verification_method: IRI
    proof_purpose: Literal["assertionMethod"]
    proof_value: Annotated[str, msgspec.Meta(pattern=r"^z[1-9A-HJ-NP-Za-km-z]+$")]
    created: Annotated[str, msgspec.Meta(pattern=_RFC3339)]
    expires: Annotated[str, msgspec.Meta(pattern=_RFC3339)] | None = None
