"""Objects we publish: Event (FEP-8a8e), Proposal (FEP-0837), Note, Tombstone, collections."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, TypeAlias

import msgspec

from ._base import IRI, JsonLdContext, Ref, Time, Typed
from .parts import (
    DataIntegrityProof,
    Hashtag,
    Image,
    Mention,
    Place,
    Quantity,
    VirtualLocation,
)

__all__ = [
    "Agreement",
    "AttendeesCollection",
    "Collection",
    "Commitment",
    "Event",
    "Intent",
    "Location",
    "Note",
    "OrderedCollection",
    "OrderedCollectionPage",
    "Proposal",
    "Tombstone",
    "Visibility",
]

Count: TypeAlias = Annotated[int, msgspec.Meta(ge=0)]

#: Kantine's visibility of an object (the addressing carries it too).
Visibility: TypeAlias = Literal["public", "cooperative", "network"]

#: Where an event or assignment happens: a place, an online location, or both.
Location: TypeAlias = Place | VirtualLocation | list[Place | VirtualLocation]


class AttendeesCollection(Typed, tag="Collection", frozen=True, kw_only=True):
    """An event's ``attendees``: the count is public, the members are not."""

    id: IRI | None = None
    total_items: Count


class Event(Typed, frozen=True, kw_only=True):
    """A meetup: AS2 ``Event`` with FEP-8a8e fields and Mobilizon's compatible terms."""

    context: JsonLdContext = msgspec.field(name="@context")
    id: IRI
    attributed_to: IRI
    name: str
    summary: str | None = None
    content: str | None = None
    media_type: str | None = None
    start_time: Time
    end_time: Time | None = None
    #: The IANA time zone the event is planned in (e.g. ``Europe/Amsterdam``).
    timezone: str | None = None
    location: Location | None = None
    event_status: (
        Literal["EventScheduled", "EventCancelled", "EventPostponed", "EventMovedOnline"] | None
    ) = None
    organizers: list[IRI] = []
    join_mode: Literal["free", "restricted", "invite", "external"] | None = None
    maximum_attendee_capacity: Count | None = None
    remaining_attendee_capacity: Count | None = None
    participant_count: Count | None = None
    attendees: IRI | AttendeesCollection | None = None
    #: Whether a full event keeps a waitlist (``TentativeAccept`` instead of ``Reject``).
    waitlist: bool | None = None
    external_participation_url: IRI | None = None
    image: Image | None = None
    tag: list[Hashtag | Mention] = []
    url: IRI | None = None
    audience: IRI | None = None
    #: The series a recurring meetup belongs to, and its RFC 5545 RRULE.
    series: IRI | None = None
    recurrence: str | None = None
    visibility: Visibility | None = None
    published: Time
    updated: Time | None = None
    to: list[IRI]
    cc: list[IRI]
    proof: DataIntegrityProof | None = None


class Intent(Typed, frozen=True, kw_only=True):
    """A ValueFlows intent: what is asked (``deliverService``) or given in return (``transfer``)."""

    id: IRI | None = None
    name: str | None = None
    action: Literal["deliverService", "transfer"]
    resource_conforms_to: IRI | None = None
    resource_quantity: Quantity | None = None
    due: Time | None = None


class Proposal(Typed, frozen=True, kw_only=True):
    """An open assignment: FEP-0837 ``Proposal`` (a request for a service, with an optional budget)."""

    context: JsonLdContext = msgspec.field(name="@context")
    id: IRI
    attributed_to: IRI
    name: str
    summary: str | None = None
    content: str
    media_type: str | None = None
    purpose: Literal["request", "offer"]
    publishes: Intent
    reciprocal: Intent | None = None
    location: Location | None = None
    tag: list[Hashtag | Mention] = []
    url: IRI | None = None
    audience: IRI | None = None
    visibility: Visibility | None = None
    #: Kantine's life cycle of an assignment (``kantine:status``); absent means open.
    status: Literal["open", "filled", "withdrawn"] | None = None
    published: Time
    updated: Time | None = None
    to: list[IRI]
    cc: list[IRI]
    proof: DataIntegrityProof | None = None


class Commitment(Typed, frozen=True, kw_only=True):
    """One side of an agreement; ``satisfies`` names the intent it answers."""

    id: IRI | None = None
    satisfies: IRI
    action: Literal["deliverService", "transfer"] | None = None
    resource_conforms_to: IRI | None = None
    resource_quantity: Quantity | None = None
    due: Time | None = None


class Agreement(Typed, frozen=True, kw_only=True):
    """What a member ``Offer``s in answer to a proposal (FEP-0837)."""

    id: IRI | None = None
    attributed_to: IRI | None = None
    content: str | None = None
    stipulates: Commitment
    stipulates_reciprocal: Commitment | None = None


class Note(Typed, frozen=True, kw_only=True):
    """A short post (project updates, replies)."""

    context: JsonLdContext = msgspec.field(name="@context")
    id: IRI
    attributed_to: IRI
    name: str | None = None
    summary: str | None = None
    content: str
    media_type: str | None = None
    in_reply_to: IRI | None = None
    tag: list[Hashtag | Mention] = []
    url: IRI | None = None
    audience: IRI | None = None
    visibility: Visibility | None = None
    published: Time
    updated: Time | None = None
    to: list[IRI]
    cc: list[IRI]
    proof: DataIntegrityProof | None = None


class Tombstone(Typed, frozen=True, kw_only=True):
    """What a deleted object leaves behind (the object of a ``Delete``)."""

    id: IRI
    former_type: str | None = None
    deleted: Time | None = None


class Collection(Typed, frozen=True, kw_only=True):
    """An unordered collection (e.g. a project's participants)."""

    _ref_fields: ClassVar[tuple[str, ...]] = ("items",)

    context: JsonLdContext = msgspec.field(name="@context")
    id: IRI
    total_items: Count | None = None
    items: list[Ref] = []
    first: IRI | None = None
    last: IRI | None = None


class OrderedCollection(Typed, frozen=True, kw_only=True):
    """An ordered collection (outbox, followers, following)."""

    _ref_fields: ClassVar[tuple[str, ...]] = ("ordered_items",)

    context: JsonLdContext = msgspec.field(name="@context")
    id: IRI
    total_items: Count | None = None
    ordered_items: list[Ref] = []
    first: IRI | None = None
    last: IRI | None = None


class OrderedCollectionPage(Typed, frozen=True, kw_only=True):
    """One page of an ordered collection."""

    _ref_fields: ClassVar[tuple[str, ...]] = ("ordered_items",)

    context: JsonLdContext = msgspec.field(name="@context")
    id: IRI
    part_of: IRI
    total_items: Count | None = None
    ordered_items: list[Ref] = []
    next: IRI | None = None
    prev: IRI | None = None
