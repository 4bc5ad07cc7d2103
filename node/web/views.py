"""What pages show, built from stored rows: assignments, meetups and member cards as plain dicts.

Everything from a peer passes through ``sanitize`` here (text capped, HTML cleaned, URLs
checked), so templates only ever print safe values.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from markupsafe import Markup

from ..cooperative import Cooperative
from ..storage import objects as objects_db
from ..storage import remote as remote_db
from ..storage.db import Database
from ..storage.objects import StoredObject
from .sanitize import clean_html, paragraphs, safe_url, text

__all__ = ["assignment_item", "card_item", "meetup_item", "network_names", "visibilities_for"]


def visibilities_for(signed_in: bool) -> tuple[str, ...]:
    """What a visitor may see: the public, or (a member of this network) everything."""
    return ("public", "cooperative", "network") if signed_in else ("public",)


async def network_names(db: Database, network: str, host: str, name: str) -> dict[str, str]:
    """Host -> the network's display name: ours, and each partner network's (else its host)."""
    names = {host: name}
    for actor_id, partner_host, _ in await Cooperative(db, network).partners():
        actor = await remote_db.get_actor(db, actor_id)
        label = ""
        if actor is not None:
            try:
                doc = msgspec.json.decode(actor.raw)
            except msgspec.DecodeError:
                doc = {}
            label = text(doc.get("name") if isinstance(doc, dict) else "", 80)
        names[partner_host] = label or partner_host
    return names


def _deadline(value: Any) -> str | None:
    return value[:40] if isinstance(value, str) and value else None


def assignment_url(row: StoredObject) -> str:
    if row.local:
        return "/assignments/" + row.id.rsplit("/", 1)[1]
    return "/board/item?id=" + quote(row.id, safe="")


def assignment_item(
    fields: dict[str, Any], row: StoredObject, names: dict[str, str], *, full: bool = False
) -> dict[str, Any]:
    """An assignment as pages show it; ``fields`` is the assignments service's ``to_json(row)``."""
    budget = fields.get("budget")
    budget_text = ""
    if isinstance(budget, dict) and budget.get("amount"):
        budget_text = text(f"{budget['amount']} {budget.get('currency') or ''}", 40)
    item: dict[str, Any] = {
        "ref": row.id.rsplit("/", 1)[1] if row.local else row.id,
        "iri": row.id,
        "local": row.local,
        "url": assignment_url(row),
        "title": text(fields.get("title")) or "…",
        "network": names.get(row.host, text(row.host, 100)),
        "host": row.host,
        "place": text(fields.get("place") or "", 100),
        "remote": bool(fields.get("remote")),
        "deadline": _deadline(fields.get("deadline")),
        "budget": budget_text,
        "visibility": row.visibility,
        "status": fields.get("status") if fields.get("status") in STATUSES else "open",
        "skills": [text(s, 40) for s in fields.get("skills", [])][:20],
        "snippet": text(fields.get("description") or "", 220),
        "published": _deadline(row.published),
        "author": row.author,
    }
    if full:
        document = row.document
        content = document.get("content") if isinstance(document, dict) else None
        item["description"] = clean_html(content) if isinstance(content, str) else Markup("")
        item["origin_url"] = None if row.local else safe_url(row.id)
    return item


STATUSES = ("open", "filled", "withdrawn")


def _place(document: Any) -> str:
    if not isinstance(document, dict):
        return ""
    location = document.get("location")
    first = location[0] if isinstance(location, list) and location else location
    if isinstance(first, dict):
        return text(first.get("name") or "", 100)
    return ""


def meetup_item(row: StoredObject, names: dict[str, str]) -> dict[str, Any]:
    """A meetup (an ``Event`` row of the objects table) for the home page's list."""
    try:
        document = row.document
    except msgspec.DecodeError:
        document = {}
    url = "/events/" + row.id.rsplit("/", 1)[1] if row.local else safe_url(row.id)
    return {
        "name": text(row.name) or "…",
        "start": row.start_time or "",
        "url": url,
        "network": names.get(row.host, text(row.host, 100)),
        "place": _place(document),
        "local": row.local,
        "visibility": row.visibility,
    }


async def upcoming_meetups(
    db: Database, names: dict[str, str], *, signed_in: bool, now: str, limit: int = 10
) -> list[dict[str, Any]]:
    rows = await objects_db.listing(
        db,
        type="Event",
        visibilities=visibilities_for(signed_in),
        starts_after=now,
        limit=limit,
    )
    return [meetup_item(r, names) for r in rows]


def card_item(card: Any, names: dict[str, str]) -> dict[str, Any]:
    """A member card (``members.Card``) for the directory and the card page.

    A remote card's summary and link values are a peer's HTML: cleaned. Our own are
    plain text, and a link value is a link only when it is an http(s) or mailto URL.
    """
    links = []
    for label, value in card.links[:10]:
        if card.local:
            url = safe_url(value)
            shown = (
                Markup('<a href="{}" rel="me nofollow noopener">{}</a>').format(
                    url, text(value, 100)
                )
                if url
                else text(value, 200)
            )
        else:
            shown = clean_html(value, 500)
        links.append((text(label, 50), shown))
    return {
        "id": card.id,
        "url": "/members/" + card.username if card.local else safe_url(card.id),
        "handle": f"{text(card.username, 60)}" + ("" if card.local else f"@{text(card.host, 100)}"),
        "name": text(card.name, 100) or text(card.username, 60),
        "local": card.local,
        "host": card.host,
        "network": names.get(card.host, text(card.host, 100)),
        "discipline": text(card.discipline, 100),
        "city": text(card.city, 100),
        "skills": [text(s, 40) for s in card.skills][:30],
        "summary": paragraphs(card.summary, 2000) if card.local else clean_html(card.summary, 2000),
        "links": links,
        "available": card.available,
        "visibility": card.visibility,
        "shown": True,
    }
