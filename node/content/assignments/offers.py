"""Offers on assignments: a member offers (``Offer{Agreement}``), the author answers
(``Accept``/``Reject``), and each side's node keeps the offer and its state."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import msgspec

from protocol import validation, wire

from ...api.auth import ApiError
from ...clock import iso
from ...cooperative import Cooperative
from ...processor import Handlers, Outcome
from ...storage import assignments as offers_db
from ...storage import objects as objects_db
from ...storage.actors import LocalActor
from ...storage.inbox import InboxItem
from .documents import agreement_of, build_offer, build_response, plain_text

if TYPE_CHECKING:
    from .service import Service

__all__ = ["OfferDesk", "offer_json"]


def offer_json(offer: offers_db.Offer) -> dict[str, Any]:
    return {
        "id": offer.id,
        "iri": offer.activity_id,
        "direction": offer.direction,
        "assignment": offer.assignment,
        "author": offer.author,
        "actor": offer.actor,
        "state": offer.state,
        "message": offer.message,
        "answer": offer.answer_id,
        "created": offer.created_at,
        "updated": offer.updated_at,
    }


def _proposal_of(agreement: dict[str, Any]) -> str | None:
    """The Proposal an Agreement answers: its ``stipulates`` satisfies ``{proposal}#primary``."""
    stipulates = agreement.get("stipulates")
    satisfies = wire.first_id(stipulates.get("satisfies")) if isinstance(stipulates, dict) else None
    return satisfies.split("#", 1)[0] if satisfies else None


class OfferDesk:
    """Offers made by our members and offers received on our members' assignments."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.rt = service.rt
        self.db, self.fed, self.urls = service.db, service.fed, service.urls

    def handlers(self) -> Handlers:
        return {"Offer": [self.on_offer], "Accept": [self.on_accept], "Reject": [self.on_reject]}

    # -- the offerer's side ------------------------------------------------------------

    async def _proposal(self, iri: str) -> tuple[dict[str, Any], str]:
        """The Proposal document and its status: as kept here, or fetched from its origin."""
        row = await objects_db.get(self.db, iri)
        if row is not None and row.type == "Proposal":
            return row.document, row.status or "open"
        if self.urls.is_local(iri):
            raise ApiError(f"no assignment {iri}", status_hint=404)
        assert self.fed.fetcher is not None
        result = await self.fed.fetcher.fetch_json(iri)
        doc = msgspec.json.decode(result.body)
        if not isinstance(doc, dict) or doc.get("id") != iri:
            raise ApiError(f"{iri} did not answer with that assignment", status_hint=502)
        if "Proposal" not in wire.type_names(doc.get("type")):
            raise ApiError(f"{iri} is not an assignment (Proposal)", status_hint=400)
        status = doc.get("status")
        return doc, status if isinstance(status, str) else "open"

    async def make(self, member: LocalActor, assignment: str, message: str = "") -> offers_db.Offer:
        """``member`` offers to do ``assignment`` (an IRI, or the short id of a local one)."""
        iri = self.service.iri(assignment)
        proposal, status = await self._proposal(iri)
        author = wire.first_id(proposal.get("attributedTo"))
        if author is None or not validation.same_origin(author, iri):
            raise ApiError(f"{iri} does not live on its author's server", status_hint=502)
        member_id = self.fed.actor_id(member)
        if author == member_id:
            raise ApiError("you cannot make an offer on your own assignment", status_hint=400)
        if status != "open":
            raise ApiError(f"the assignment is {status}", status_hint=409)
        ident = secrets.token_hex(6)
        now = self.rt.clock()
        offer_id = self.urls.object("offers", ident)
        document = build_offer(
            offer_id=offer_id,
            actor_id=member_id,
            proposal=proposal,
            message=message,
            published=now,
        )
        signed = self.fed.sign_document(member, document)
        local = self.urls.is_local(iri)
        row = offers_db.Offer(
            id=ident,
            activity_id=offer_id,
            direction="in" if local else "out",
            assignment=iri,
            author=author,
            actor=member_id,
            state="pending",
            message=message.strip(),
            raw=msgspec.json.encode(signed),
            created_at=iso(now),
            updated_at=iso(now),
        )
        targets: list[tuple[str, str]] = []
        if not local:
            remote = await self.fed.remote_actor(author)
            targets = [(remote.inbox, remote.host)]
        await self.db.write(lambda c: offers_db.insert(c, row))
        await self.fed.publish(
            member, signed, to_followers=False, targets=targets, public=False, object_id=offer_id
        )
        return row

    async def on_accept(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        return await self._answered(item, doc, "accepted")

    async def on_reject(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        return await self._answered(item, doc, "rejected")

    async def _answered(self, item: InboxItem, doc: dict[str, Any], state: str) -> Outcome:
        offer_id = wire.first_id(doc.get("object"))
        offer = await offers_db.get_by_activity(self.db, offer_id) if offer_id else None
        if offer is None or offer.direction != "out":
            return Outcome.discard("answer to no offer of ours")
        if item.actor != offer.author:
            return Outcome.discard(f"{item.actor} did not receive offer {offer.activity_id}")
        now = iso(self.rt.clock())
        answer_id = wire.first_id(doc.get("id"))
        changed = await self.db.write(
            lambda c: offers_db.set_state(c, offer.id, state, now, answer_id=answer_id)
        )
        if not changed:
            return Outcome.discard(f"offer {offer.activity_id} was already {offer.state}")
        return Outcome.done(f"offer {offer.activity_id} {state}")

    # -- the author's side -------------------------------------------------------------

    async def _may_see(self, actor: str, row: objects_db.StoredObject) -> bool:
        if row.visibility == "public":
            return True
        if row.visibility == "cooperative":
            coop = Cooperative(self.db, self.rt.settings.slug)
            return await coop.includes(validation.host_of(actor))
        return False

    async def on_offer(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        agreement = agreement_of(doc)
        offer_id = wire.first_id(doc.get("id"))
        if agreement is None or offer_id is None:
            return Outcome.discard("Offer of something other than an embedded Agreement")
        proposal_id = _proposal_of(agreement)
        row = await objects_db.get(self.db, proposal_id) if proposal_id else None
        if row is None or not row.local or row.type != "Proposal":
            return Outcome.discard("offer on no assignment of ours")
        if not validation.same_origin(item.actor, offer_id):
            return Outcome.discard(f"{item.actor} may not speak for {offer_id}")
        if item.actor == row.author:
            return Outcome.discard("an author cannot make an offer on their own assignment")
        if not await self._may_see(item.actor, row):
            return Outcome.discard(f"{item.actor} may not see {row.id}")
        status = row.status or "open"
        now = iso(self.rt.clock())
        offer = offers_db.Offer(
            id=secrets.token_hex(6),
            activity_id=offer_id,
            direction="in",
            assignment=row.id,
            author=row.author,
            actor=item.actor,
            state="pending",
            message=plain_text(str(agreement.get("content") or ""))[:5000],
            raw=item.raw,
            created_at=now,
            updated_at=now,
        )
        if not await self.db.write(lambda c: offers_db.insert(c, offer)):
            return Outcome.discard(f"offer {offer_id} is known")
        if status != "open":
            author = await self.service.author_of(row)
            await self._respond(author, offer, "Reject", f"the assignment is {status}")
            return Outcome.done(f"offer {offer_id} on a {status} assignment rejected")
        return Outcome.done(f"offer {offer_id} on {row.id} from {item.actor}")

    async def _respond(
        self, author: LocalActor, offer: offers_db.Offer, kind: str, summary: str | None
    ) -> str:
        """Record and send ``Accept``/``Reject`` of an incoming offer; return the activity id."""
        state = "accepted" if kind == "Accept" else "rejected"
        activity_id = self.urls.new_activity()
        response = build_response(
            kind,
            activity_id=activity_id,
            actor_id=self.fed.actor_id(author),
            offer=offer.document,
            summary=summary,
            published=self.rt.clock(),
        )
        now = iso(self.rt.clock())
        changed = await self.db.write(
            lambda c: offers_db.set_state(c, offer.id, state, now, answer_id=activity_id)
        )
        if not changed:
            raise ApiError("the offer is no longer pending", status_hint=409)
        targets: list[tuple[str, str]] = []
        if not self.urls.is_local(offer.actor):
            remote = await self.fed.remote_actor(offer.actor)
            targets = [(remote.inbox, remote.host)]
        await self.fed.publish(author, response, to_followers=False, targets=targets, public=False)
        return activity_id

    async def get(self, offer_id: str) -> offers_db.Offer:
        offer = await offers_db.get(self.db, offer_id)
        if offer is None:
            raise ApiError(f"no offer {offer_id}", status_hint=404)
        return offer

    async def answer(
        self, actor: LocalActor, offer_id: str, accept: bool, reason: str | None = None
    ) -> offers_db.Offer:
        """The assignment's author (or an admin) accepts or rejects an offer."""
        offer = await self.get(offer_id)
        if offer.direction != "in":
            raise ApiError("only the assignment's author answers this offer", status_hint=403)
        row = await self.service.get(offer.assignment)
        author = await self.service.author_of(row)
        self.service.may_manage(actor, author)
        if offer.state != "pending":
            raise ApiError(f"the offer is already {offer.state}", status_hint=409)
        await self._respond(author, offer, "Accept" if accept else "Reject", reason)
        return await self.get(offer_id)

    async def for_assignment(self, actor: LocalActor, ref: str) -> list[offers_db.Offer]:
        """The offers on an assignment, for its author or an admin."""
        row = await self.service.get(ref)
        self.service.may_manage(actor, await self.service.author_of(row))
        return await offers_db.listing(self.db, assignment=row.id, direction="in")

    async def mine(self, member: LocalActor) -> list[offers_db.Offer]:
        """Offers ``member`` made (anywhere) and offers on ``member``'s assignments."""
        member_id = self.fed.actor_id(member)
        made = await offers_db.listing(self.db, actor=member_id)
        received = [
            o for o in await offers_db.listing(self.db, direction="in") if o.author == member_id
        ]
        seen = {o.id for o in made}
        return made + [o for o in received if o.id not in seen]
