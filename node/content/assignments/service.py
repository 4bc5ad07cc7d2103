"""Open assignments: publish, edit, fill, withdraw and remove a member's FEP-0837 Proposal."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ...api.auth import ROLE_RANK, ApiError
from ...clock import from_iso, iso
from ...processor import Handlers
from ...storage import follows as follows_db
from ...storage import objects as objects_db
from ...storage.actors import LocalActor
from ...storage.objects import StoredObject
from ..ingest import stored_from_document
from ..publishing import VISIBILITIES, ContentPublisher
from .documents import STATUSES, Draft, build_proposal, draft_from_document, view
from .offers import OfferDesk

if TYPE_CHECKING:
    from ...runtime import Runtime

__all__ = ["DEFAULT_VISIBILITY", "Service"]

#: What an assignment is visible to when its author does not say.
DEFAULT_VISIBILITY = "cooperative"
#: Kinds of local actor that may author an assignment (the network posts a client's work).
AUTHOR_KINDS = ("member", "network")


def _not_found(what: str) -> ApiError:
    return ApiError(f"no assignment {what}", status_hint=404)


class Service:
    """The assignments area: local assignments, the board, and (through ``offers``) offers."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.db, self.fed, self.urls = rt.db, rt.federation, rt.urls
        self.publisher = ContentPublisher(rt)
        self.offers = OfferDesk(self)

    def handlers(self) -> Handlers:
        return self.offers.handlers()

    # -- look-ups --------------------------------------------------------------------

    def iri(self, ref: str) -> str:
        """An assignment's IRI from its short id or its IRI."""
        return ref if "://" in ref else self.urls.object("assignments", ref)

    @staticmethod
    def ident(row: StoredObject) -> str:
        return row.id.rsplit("/", 1)[1]

    async def get(self, ref: str, *, local: bool = True) -> StoredObject:
        """A (by default local) assignment that is not deleted; 404 otherwise."""
        row = await objects_db.get(self.db, self.iri(ref))
        if row is None or row.type != "Proposal" or (local and not row.local):
            raise _not_found(ref)
        return row

    async def author_of(self, row: StoredObject) -> LocalActor:
        author = await self.fed.local_by_iri(row.author)
        if author is None:
            raise ApiError(f"the author of {row.id} is gone", status_hint=410)
        return author

    def may_manage(self, actor: LocalActor, author: LocalActor) -> None:
        """403 unless ``actor`` is the author or an admin."""
        if actor.username != author.username and ROLE_RANK.get(actor.role, -1) < ROLE_RANK["admin"]:
            raise ApiError(
                f"{actor.username} may not act for {author.username} (author or admin only)",
                status_hint=403,
            )

    def to_json(self, row: StoredObject) -> dict[str, Any]:
        fields = view(row.document)
        fields.update(
            id=self.ident(row) if row.local else row.id,
            local=row.local,
            visibility=row.visibility,
            status=row.status if row.status in STATUSES else fields["status"],
        )
        return fields

    # -- publishing ------------------------------------------------------------------

    async def _publish(
        self,
        author: LocalActor,
        kind: str,
        object_id: str,
        draft: Draft,
        *,
        visibility: str,
        status: str,
        published: str | None = None,
    ) -> StoredObject:
        now = self.rt.clock()
        to, cc = self.publisher.addressing(author, visibility)
        document = build_proposal(
            object_id=object_id,
            author_id=self.fed.actor_id(author),
            draft=draft,
            visibility=visibility,
            status=status,
            to=to,
            cc=cc,
            published=from_iso(published) if published else now,
            updated=now if published else None,
            tag_base=self.urls.base + "/tags",
        )
        signed = self.fed.sign_document(author, document)
        row = stored_from_document(
            signed, local=True, visibility=visibility, origin_actor=None, now=iso(now)
        )
        await self.db.write(lambda c: objects_db.save(c, row))
        activity = self.publisher.activity(author, kind, signed, visibility)
        await self.publisher.publish(author, activity, visibility=visibility, object_id=object_id)
        return row

    async def create(
        self, author: LocalActor, draft: Draft, visibility: str = DEFAULT_VISIBILITY
    ) -> StoredObject:
        """Publish a new assignment of ``author``: ``Create{Proposal}`` by visibility."""
        if author.kind not in AUTHOR_KINDS or author.deleted_at is not None:
            raise ApiError(f"{author.username} cannot author assignments", status_hint=400)
        if visibility not in VISIBILITIES:
            raise ApiError(f"visibility must be one of {', '.join(VISIBILITIES)}", status_hint=400)
        object_id = self.urls.object("assignments", secrets.token_hex(6))
        return await self._publish(
            author, "Create", object_id, draft.checked(), visibility=visibility, status="open"
        )

    async def edit(self, actor: LocalActor, ref: str, changes: dict[str, Any]) -> StoredObject:
        """Change an assignment's fields: ``Update{Proposal}`` to the same audience."""
        row = await self.get(ref)
        author = await self.author_of(row)
        self.may_manage(actor, author)
        if "visibility" in changes and changes.pop("visibility") != row.visibility:
            raise ApiError(
                "the visibility of a published assignment cannot change; remove it and add it"
                " again",
                status_hint=400,
            )
        draft = replace(draft_from_document(row.document), **changes).checked()
        return await self._publish(
            author,
            "Update",
            row.id,
            draft,
            visibility=row.visibility,
            status=row.status or "open",
            published=row.published,
        )

    async def set_status(self, actor: LocalActor, ref: str, status: str) -> StoredObject:
        """Fill or withdraw an open assignment: ``Update{Proposal}`` with its new ``status``."""
        row = await self.get(ref)
        author = await self.author_of(row)
        self.may_manage(actor, author)
        if (row.status or "open") != "open":
            raise ApiError(f"the assignment is already {row.status}", status_hint=409)
        return await self._publish(
            author,
            "Update",
            row.id,
            draft_from_document(row.document),
            visibility=row.visibility,
            status=status,
            published=row.published,
        )

    async def remove(self, actor: LocalActor, ref: str) -> StoredObject:
        """Delete an assignment: ``Delete{Tombstone}`` to everyone who got it."""
        row = await self.get(ref)
        author = await self.author_of(row)
        self.may_manage(actor, author)
        now = self.rt.clock()
        tombstone = {
            "id": row.id,
            "type": "Tombstone",
            "formerType": "Proposal",
            "deleted": iso(now),
        }
        await self.db.write(lambda c: objects_db.delete(c, row.id, iso(now)))
        extra: list[tuple[str, str]] = []
        if row.visibility == "public":
            # The network's followers got the Proposal through the network's Announce;
            # an announced Delete is not acted on, so the author tells them directly.
            network = await self.publisher.network()
            extra = await follows_db.delivery_targets(self.db, network.username)
        activity = self.publisher.activity(author, "Delete", tombstone, row.visibility)
        await self.publisher.publish(
            author, activity, visibility=row.visibility, object_id=row.id, extra_targets=extra
        )
        return row

    # -- reading -----------------------------------------------------------------------

    async def listing(
        self,
        viewer: LocalActor | None,
        *,
        local: bool | None = True,
        author: LocalActor | None = None,
        skill: str | None = None,
        status: str | None = "open",
        limit: int = 200,
    ) -> list[StoredObject]:
        """Assignments ``viewer`` may see (None: an anonymous reader), newest first."""
        visibilities = ("public",) if viewer is None else ("public", "cooperative", "network")
        rows = await objects_db.listing(
            self.db,
            type="Proposal",
            visibilities=visibilities,
            local=local,
            author=self.fed.actor_id(author) if author else None,
            limit=1000,
            newest_first=True,
        )
        wanted = skill.lstrip("#").lower() if skill else None
        found = []
        for row in rows:
            if status is not None and (row.status or "open") != status:
                continue
            if wanted and wanted not in [s.lower() for s in view(row.document)["skills"]]:
                continue
            found.append(row)
        return found[:limit]
