"""Activities we publish: Create, Update, Delete, Follow, Accept, Reject, Undo, Announce, ..."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from ._base import IRI, JsonLdContext, Ref, Time, Typed
from .actors import Application, Group, Person
from .objects import Agreement, Event, Note, Proposal, Tombstone
from .parts import DataIntegrityProof

__all__ = [
    "Accept",
    "Announce",
    "Create",
    "Delete",
    "Flag",
    "Follow",
    "Join",
    "Leave",
    "Offer",
    "Reject",
    "TentativeAccept",
    "Undo",
    "Update",
]


class _Activity(Typed, frozen=True, kw_only=True):
    """Fields every activity we publish has; ``to``, ``cc`` and ``@context`` are required."""

    context: JsonLdContext = msgspec.field(name="@context")
    id: IRI
    actor: IRI
    target: IRI | None = None
    summary: str | None = None
    content: str | None = None
    audience: IRI | None = None
    published: Time | None = None
    updated: Time | None = None
    to: list[IRI]
    cc: list[IRI]
    proof: DataIntegrityProof | None = None


class Create(_Activity, frozen=True, kw_only=True):
    """Publish a new object (embedded whole)."""

    object: IRI | Event | Proposal | Note


class Update(_Activity, frozen=True, kw_only=True):
    """Publish a new version of an object or actor (embedded whole)."""

    object: IRI | Event | Proposal | Note | Person | Group | Application


class Delete(_Activity, frozen=True, kw_only=True):
    """Delete an object or an actor: a ``Tombstone`` or the IRI."""

    object: IRI | Tombstone


class Follow(_Activity, frozen=True, kw_only=True):
    """Follow an actor."""

    object: IRI


class _Response(_Activity, frozen=True, kw_only=True):
    """An answer to a peer's activity, which may be embedded verbatim (a ``dict``)."""

    _ref_fields: ClassVar[tuple[str, ...]] = ("object",)

    object: Ref
    #: For an accepted ``Offer``: the resulting ``Agreement`` (FEP-0837).
    result: IRI | Agreement | None = None


class Accept(_Response, frozen=True, kw_only=True):
    """Accept a Follow, a Join (an RSVP) or an Offer."""


class Reject(_Response, frozen=True, kw_only=True):
    """Refuse a Follow, a Join (full, closed or past event) or an Offer."""


class TentativeAccept(_Response, frozen=True, kw_only=True):
    """Put a Join on the waitlist of a full event."""


class Join(_Activity, frozen=True, kw_only=True):
    """RSVP to an event, or join a project."""

    object: IRI


class Leave(_Activity, frozen=True, kw_only=True):
    """Withdraw an RSVP, or leave a project."""

    object: IRI


class Offer(_Activity, frozen=True, kw_only=True):
    """Respond to an assignment: an ``Agreement`` whose ``target`` is the ``Proposal``."""

    object: IRI | Agreement


class Undo(_Activity, frozen=True, kw_only=True):
    """Undo one of our own activities."""

    object: IRI | Follow | Announce | Join | Offer


class Announce(_Activity, frozen=True, kw_only=True):
    """Share an object; a wrapped peer activity is kept verbatim (a ``dict``)."""

    _ref_fields: ClassVar[tuple[str, ...]] = ("object",)

    object: Ref


class Flag(_Activity, frozen=True, kw_only=True):
    """Report an actor and/or objects to their node's moderators."""

    object: IRI | list[IRI]
