"""Assignment documents: the FEP-0837 Proposal we publish, the Offer/Accept/Reject around it,
and the plain view (title, skills, budget, ...) read back from any Proposal, ours or a peer's.

Wire shapes (docs/FEDERATION.md, "Open assignments"):
- ``Proposal`` with ``purpose: "request"``; ``publishes`` is the primary ``Intent``
  (``{id}#primary``, ``action: "deliverService"``, one unit) whose ``due`` is the deadline;
  the budget is the ``reciprocal`` Intent (``{id}#reciprocal``, ``action: "transfer"``,
  ``resourceConformsTo`` the currency's Wikidata IRI, ``resourceQuantity`` ``{hasUnit: "one",
  hasNumericalValue}``); skills are ``Hashtag`` tags; ``location`` is a ``Place`` (by name)
  and/or, for remote work, a ``VirtualLocation`` named "Remote" whose ``url`` is the
  assignment itself; ``status`` (``kantine:status``) is open, filled or withdrawn.
- ``Offer`` (id ``{base}/offers/{ident}``) of an ``Agreement`` (``{offer}#agreement``) whose
  ``stipulates`` Commitment ``satisfies`` the primary Intent (and ``stipulatesReciprocal``
  the budget's); ``Accept``/``Reject`` name the Offer, an Accept's ``result`` is the Agreement.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from protocol import models as m
from protocol import vocab, wire
from protocol.errors import RemoteProtocolError

from ...api.auth import ApiError

__all__ = [
    "CURRENCIES",
    "Budget",
    "Draft",
    "agreement_of",
    "build_offer",
    "build_proposal",
    "build_response",
    "draft_from_document",
    "normalise_skill",
    "parse_deadline",
    "plain_text",
    "view",
]

#: Budget currencies and the Wikidata items FEP-0837 names them by.
CURRENCIES = {
    "EUR": "https://www.wikidata.org/wiki/Q4916",
    "USD": "https://www.wikidata.org/wiki/Q4917",
    "GBP": "https://www.wikidata.org/wiki/Q25224",
    "CHF": "https://www.wikidata.org/wiki/Q25344",
}
_CURRENCY_BY_IRI = {iri: code for code, iri in CURRENCIES.items()}
_AMOUNT = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
_SKILL = re.compile(r"[^\w]+", re.UNICODE)
STATUSES = ("open", "filled", "withdrawn")
MAX_TITLE, MAX_DESCRIPTION, MAX_SKILLS = 200, 20_000, 20


def _bad(reason: str) -> ApiError:
    return ApiError(reason, status_hint=400)


@dataclass(frozen=True)
class Budget:
    amount: str
    currency: str = "EUR"

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``"1500"``, ``"1500 EUR"`` or ``"EUR 1500"``."""
        parts = text.replace(",", ".").split()
        amount = next((p for p in parts if _AMOUNT.match(p)), None)
        codes = [p.upper() for p in parts if not _AMOUNT.match(p)]
        if amount is None or len(codes) > 1 or len(parts) > 2:
            raise _bad(f"budget {text!r} is not like '1500 EUR'")
        return cls(amount, codes[0] if codes else "EUR").checked()

    def checked(self) -> Budget:
        if not _AMOUNT.match(self.amount):
            raise _bad(f"budget amount {self.amount!r} is not a number like 1500 or 1500.50")
        if self.currency not in CURRENCIES:
            raise _bad(f"budget currency must be one of {', '.join(CURRENCIES)}")
        return self


@dataclass(frozen=True)
class Draft:
    """What a member writes: the assignment's fields, before ids and addressing."""

    title: str
    description: str = ""
    skills: tuple[str, ...] = ()
    place: str | None = None
    remote: bool = False
    deadline: datetime | None = None
    budget: Budget | None = None

    def checked(self) -> Draft:
        title = " ".join(self.title.split())
        if not title:
            raise _bad("an assignment needs a title")
        if len(title) > MAX_TITLE:
            raise _bad(f"the title is longer than {MAX_TITLE} characters")
        if len(self.description) > MAX_DESCRIPTION:
            raise _bad(f"the description is longer than {MAX_DESCRIPTION} characters")
        skills = tuple(dict.fromkeys(s for s in map(normalise_skill, self.skills) if s))
        if len(skills) > MAX_SKILLS:
            raise _bad(f"at most {MAX_SKILLS} skills")
        if self.deadline is not None and self.deadline.utcoffset() is None:
            raise _bad("the deadline needs a time zone offset")
        place = (self.place or "").strip() or None
        budget = self.budget.checked() if self.budget else None
        return replace(self, title=title, skills=skills, place=place, budget=budget)


def parse_deadline(text: str, timezone: str) -> datetime:
    """An RFC 3339 time; a time without offset is in the node's zone; a date means its evening."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time(23, 59))
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(f"deadline {text!r} is not a date (2025-06-01) or an RFC 3339 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment


def normalise_skill(text: str) -> str:
    """``"#Web Design"`` -> ``"webdesign"`` (a hashtag: word characters only, lower case)."""
    return _SKILL.sub("", text.strip().lstrip("#")).lower()[:60]


def _html(text: str) -> str:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.splitlines()) + "</p>"
        for p in paragraphs
    )


def plain_text(content: str) -> str:
    """Our own HTML back to text (and any peer's, roughly: tags dropped)."""
    content = re.sub(r"</p>\s*<p>", "\n\n", content)
    content = re.sub(r"<br\s*/?>", "\n", content)
    return html.unescape(re.sub(r"<[^>]+>", "", content)).strip()


def build_proposal(
    *,
    object_id: str,
    author_id: str,
    draft: Draft,
    visibility: str,
    status: str,
    to: list[str],
    cc: list[str],
    published: datetime,
    updated: datetime | None,
    tag_base: str,
) -> dict[str, Any]:
    """The Proposal document (unsigned) for a checked draft."""
    locations: list[m.Place | m.VirtualLocation] = []
    if draft.place:
        locations.append(m.Place(name=draft.place))
    if draft.remote:
        locations.append(m.VirtualLocation(name="Remote", url=object_id))
    reciprocal = None
    if draft.budget is not None:
        reciprocal = m.Intent(
            id=object_id + "#reciprocal",
            action="transfer",
            resource_conforms_to=CURRENCIES[draft.budget.currency],
            resource_quantity=m.Quantity(has_unit="one", has_numerical_value=draft.budget.amount),
        )
    proposal = m.Proposal(
        context=vocab.CONTEXT,
        id=object_id,
        attributed_to=author_id,
        name=draft.title,
        content=_html(draft.description),
        media_type="text/html",
        purpose="request",
        publishes=m.Intent(
            id=object_id + "#primary",
            action="deliverService",
            resource_quantity=m.Quantity(has_unit="one", has_numerical_value="1"),
            due=draft.deadline,
        ),
        reciprocal=reciprocal,
        location=(locations[0] if len(locations) == 1 else locations) or None,
        tag=[m.Hashtag(name="#" + s, href=f"{tag_base}/{s}") for s in draft.skills],
        url=object_id,
        visibility=visibility,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        published=published,
        updated=updated,
        to=to,
        cc=cc,
    )
    m.check(proposal)
    return m.to_dict(proposal)


def _intent(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    return value if isinstance(value, dict) else {}


def _locations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    value = doc.get("location")
    items = value if isinstance(value, list) else [value]
    return [i for i in items if isinstance(i, dict)]


def view(doc: dict[str, Any]) -> dict[str, Any]:
    """The plain fields of any Proposal document (ours or a peer's)."""
    primary, reciprocal = _intent(doc, "publishes"), _intent(doc, "reciprocal")
    places = [
        str(loc.get("name") or "")
        for loc in _locations(doc)
        if "Place" in wire.type_names(loc.get("type"))
    ]
    remote = any("VirtualLocation" in wire.type_names(loc.get("type")) for loc in _locations(doc))
    budget = None
    quantity = reciprocal.get("resourceQuantity")
    if isinstance(quantity, dict) and isinstance(quantity.get("hasNumericalValue"), str):
        currency = _CURRENCY_BY_IRI.get(str(reciprocal.get("resourceConformsTo")), "")
        budget = {"amount": quantity["hasNumericalValue"], "currency": currency or None}
    tag = doc.get("tag")
    tags: list[Any] = tag if isinstance(tag, list) else [tag]
    skills = [
        str(t["name"]).lstrip("#")
        for t in tags
        if isinstance(t, dict) and "Hashtag" in wire.type_names(t.get("type")) and t.get("name")
    ]
    status = doc.get("status")
    return {
        "iri": doc.get("id"),
        "author": wire.first_id(doc.get("attributedTo")),
        "title": str(doc.get("name") or ""),
        "description": plain_text(str(doc.get("content") or "")),
        "skills": skills,
        "place": next((p for p in places if p), None),
        "remote": remote,
        "deadline": primary.get("due"),
        "budget": budget,
        "visibility": doc.get("visibility"),
        "status": status if status in STATUSES else "open",
        "published": doc.get("published"),
        "updated": doc.get("updated"),
    }


def draft_from_document(doc: dict[str, Any]) -> Draft:
    """The draft one of our own Proposals was built from (for edits)."""
    fields = view(doc)
    deadline = fields["deadline"]
    budget = fields["budget"]
    return Draft(
        title=fields["title"],
        description=fields["description"],
        skills=tuple(fields["skills"]),
        place=fields["place"],
        remote=fields["remote"],
        deadline=datetime.fromisoformat(deadline.replace("Z", "+00:00")) if deadline else None,
        budget=Budget(budget["amount"], budget["currency"] or "EUR") if budget else None,
    )


def build_offer(
    *,
    offer_id: str,
    actor_id: str,
    proposal: dict[str, Any],
    message: str,
    published: datetime,
) -> dict[str, Any]:
    """An ``Offer`` of an ``Agreement`` answering ``proposal``'s intents (unsigned)."""
    proposal_id = str(proposal["id"])
    primary, reciprocal = _intent(proposal, "publishes"), _intent(proposal, "reciprocal")
    quantity = reciprocal.get("resourceQuantity")
    stipulates_reciprocal = None
    if reciprocal:
        stipulates_reciprocal = m.Commitment(
            satisfies=str(reciprocal.get("id") or proposal_id + "#reciprocal"),
            action="transfer",
            resource_conforms_to=reciprocal.get("resourceConformsTo")
            if isinstance(reciprocal.get("resourceConformsTo"), str)
            else None,
            resource_quantity=m.Quantity(
                has_unit=str(quantity.get("hasUnit") or "one"),
                has_numerical_value=str(quantity["hasNumericalValue"]),
            )
            if isinstance(quantity, dict) and _AMOUNT.match(str(quantity.get("hasNumericalValue")))
            else None,
        )
    offer = m.Offer(
        context=vocab.CONTEXT,
        id=offer_id,
        actor=actor_id,
        object=m.Agreement(
            id=offer_id + "#agreement",
            attributed_to=actor_id,
            content=_html(message) or None,
            stipulates=m.Commitment(
                satisfies=str(primary.get("id") or proposal_id + "#primary"),
                action="deliverService",
                resource_quantity=m.Quantity(has_unit="one", has_numerical_value="1"),
            ),
            stipulates_reciprocal=stipulates_reciprocal,
        ),
        published=published,
        to=[str(wire.first_id(proposal.get("attributedTo")))],
        cc=[],
    )
    m.check(offer)
    return m.to_dict(offer)


def agreement_of(offer: dict[str, Any]) -> dict[str, Any] | None:
    obj = offer.get("object")
    if isinstance(obj, dict) and "Agreement" in wire.type_names(obj.get("type")):
        return obj
    return None


def build_response(
    kind: str,
    *,
    activity_id: str,
    actor_id: str,
    offer: dict[str, Any],
    summary: str | None,
    published: datetime,
) -> dict[str, Any]:
    """``Accept`` (with the Agreement as ``result``) or ``Reject`` of an Offer (unsigned)."""
    offerer = str(wire.first_id(offer.get("actor")))
    result: Any = None
    agreement = agreement_of(offer)
    if kind == "Accept" and agreement is not None:
        try:
            result = m.from_dict(agreement, m.Agreement)
        except RemoteProtocolError:  # a peer's Agreement with terms we do not model: name it
            result = wire.first_id(agreement)
    cls = m.Accept if kind == "Accept" else m.Reject
    response = cls(
        context=vocab.CONTEXT,
        id=activity_id,
        actor=actor_id,
        object=str(offer["id"]),
        result=result,
        summary=summary,
        published=published,
        to=[offerer],
        cc=[],
    )
    return m.to_dict(response)
