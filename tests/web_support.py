"""Helpers for the web page tests: a node with members, passwords, assignments, meetups and
hostile content from a (pretend) partner network stored as ingestion would store it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import aiohttp
import msgspec

from node.clock import iso
from node.content.assignments.documents import Draft
from node.content.ingest import stored_from_document
from node.content.members.cards import NewMember
from node.storage import follows as follows_db
from node.storage import members as members_db
from node.storage import objects as objects_db
from node.storage import remote as remote_db
from node.storage import sessions as sessions_db
from node.web.passwords import hash_password
from nodes import Node

__all__ = [
    "EVIL_HOST",
    "FRIEND_HOST",
    "PASSWORD",
    "Seeded",
    "csrf_of",
    "inert_problems",
    "seed",
    "session",
    "sign_in",
]

PASSWORD = "correct horse battery"
EVIL_HOST = "127.0.0.66:9"  # never contacted: rows are stored as ingestion would store them
EVIL = f"http://{EVIL_HOST}"
SCRIPT = "<script>window.pwned = 1; alert('pwned')</script>"
LONG_WORD = "Lorem"
HOSTILE_HTML = (
    "<p>We need help.</p>" + SCRIPT
    + "<img src=x onerror=\"window.pwned = 2\">"
    + "<a href=\"javascript:window.pwned=3\">click me</a>"
    + "<a href=\"https://fine.example/\" onclick=\"window.pwned=4\">fine link</a>"
    + "<iframe src=\"https://evil.example/\"></iframe><style>body{display:none}</style>"
    + "<p>" + (LONG_WORD + " ") * 30_000 + "</p>"
)  # fmt: skip


@dataclass
class Seeded:
    """What ``seed`` made: usernames and the ids of the things pages should show (or not)."""

    public_id: str = ""
    coop_id: str = ""
    network_id: str = ""
    evil_assignment: str = ""
    evil_member: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


async def _member(node: Node, username: str, **card: Any) -> None:
    members = node.rt.services["members"]
    await members.add(NewMember(username=username, **card), by=None)
    hashed = hash_password(PASSWORD)
    now = iso(node.rt.clock())
    await node.rt.db.write(lambda c: sessions_db.set_password(c, username, hashed, now))


async def seed(node: Node, *, hostile: bool = True) -> Seeded:
    """Members (anna admin, bob member, cleo with a network-only card), assignments of each
    visibility, a meetup of ours, and a partner network's assignment, meetup and card:
    hostile ones (script, handlers, bulk), or with ``hostile=False`` a friendly network's."""
    out = Seeded()
    await _member(node, "anna", name="Anna de Vries", role="admin", city="Zwolle",
                  discipline="graphic design", skills=["illustration", "typography"],
                  summary="Illustrator.", available=True)  # fmt: skip
    await _member(node, "bob", name="Bob Bakker", city="Deventer", discipline="carpentry",
                  skills=["furniture", "timber"], website="https://bob.example")  # fmt: skip
    await _member(node, "cleo", name="Cleo Secret", city="Kampen", skills=["hiddenskill"],
                  visibility="network")  # fmt: skip
    assignments = node.rt.services["assignments"]
    tick = getattr(node.rt.clock, "advance", lambda minutes: None)  # a FakeClock: a stable order
    actors = {a.username: a for a in await node.rt.services["members"].members()}
    row = await assignments.create(
        actors["anna"],
        Draft(title="Logo for a bakery", description="A new logo.\n\nTwo weeks.",
              skills=("illustration",), place="Zwolle", budget=None),
        "public",
    )  # fmt: skip
    out.public_id = row.id
    tick(minutes=5)
    row = await assignments.create(
        actors["bob"],
        Draft(title="Kitchen cabinets", description="Oak.", skills=("furniture",),
              place="Deventer"),
        "cooperative",
    )  # fmt: skip
    out.coop_id = row.id
    tick(minutes=5)
    row = await assignments.create(
        actors["anna"],
        Draft(title="Members only sign painting", description="Secret.", skills=("signs",),
              place="Kampen"),
        "network",
    )  # fmt: skip
    out.network_id = row.id
    tick(minutes=5)
    if hostile:
        await _hostile_partner(node, out)
    else:
        await _friendly_partner(node)
    await _meetup(node, f"{node.url}/events/m1", "Monthly meetup Zwolle", "Kantine Zwolle")
    return out


FRIEND_HOST = "127.0.0.67:9"


async def _partner(
    node: Node, host: str, name: str, person: dict[str, Any], proposal: dict[str, Any]
) -> None:
    """A partner network at ``host`` (never contacted) with one member card and one assignment."""
    now = iso(node.rt.clock())
    network = f"http://{host}/network"
    network_doc = {
        "id": network, "type": "Group", "name": name, "inbox": network + "/inbox",
        "cooperative": network + "/cooperative",
    }  # fmt: skip
    member = person["id"]
    proposal = {"type": "Proposal", "attributedTo": member, "status": "open",
                "visibility": "public", "published": now} | proposal  # fmt: skip
    row = stored_from_document(
        proposal, local=False, visibility="public", origin_actor=network, now=now
    )

    def write(conn):  # type: ignore[no-untyped-def]
        for actor_id, doc, kind in ((network, network_doc, "Group"), (member, person, "Person")):
            remote_db.save_actor(conn, remote_db.RemoteActor(
                id=actor_id, host=host, type=kind, inbox=actor_id + "/inbox",
                shared_inbox=None, rfc9421=False, raw=msgspec.json.encode(doc), fetched_at=now,
            ))  # fmt: skip
        follows_db.upsert(
            conn, node.settings.slug, network, "out", "accepted", f"{node.url}/f/{host}", now
        )
        members_db.save_remote(conn, member, network, host, now)
        objects_db.save(conn, row)

    await node.rt.db.write(write)


async def _friendly_partner(node: Node) -> None:
    base = f"http://{FRIEND_HOST}"
    person = {
        "id": f"{base}/members/daan", "type": "Person", "preferredUsername": "daan",
        "name": "Daan Visser", "summary": "<p>Web developer and <em>accessibility</em> auditor.</p>",
        "inbox": f"{base}/members/daan/inbox",
        "tag": [{"type": "Hashtag", "name": "#python"}, {"type": "Hashtag", "name": "#accessibility"}],
        "attachment": [{"type": "PropertyValue", "name": "city", "value": "Deventer"}],
        "availableForAssignments": True,
    }  # fmt: skip
    proposal = {
        "id": f"{base}/assignments/web1", "name": "Accessible website for a food co-op",
        "content": "<p>Our co-op needs a small, <strong>accessible</strong> website.</p>",
        "tag": [{"type": "Hashtag", "name": "#python"}, {"type": "Hashtag", "name": "#webdesign"}],
        "location": {"type": "Place", "name": "Deventer"},
    }  # fmt: skip
    await _partner(node, FRIEND_HOST, "ZZP Deventer", person, proposal)
    await _meetup(node, f"{base}/events/d1", "Freelancers' breakfast Deventer", "De Bakkerij",
                  author=f"{base}/network")  # fmt: skip


async def _meetup(node: Node, event_id: str, name: str, place: str, **extra: Any) -> None:
    start = node.rt.clock() + timedelta(days=7)
    doc = {
        "id": event_id, "type": "Event", "name": name, "startTime": start.isoformat(),
        "attributedTo": extra.pop("author", node.network_id),
        "location": {"type": "Place", "name": place}, **extra,
    }  # fmt: skip
    row = stored_from_document(
        doc, local=event_id.startswith(node.url), visibility="public",
        origin_actor=None, now=iso(node.rt.clock()),
    )  # fmt: skip
    await node.rt.db.write(lambda c: objects_db.save(c, row))


async def _hostile_partner(node: Node, out: Seeded) -> None:
    """A partner network at EVIL_HOST whose content is full of script, handlers and bulk."""
    member = f"{EVIL}/members/mallory"
    person = {
        "id": member, "type": "Person", "preferredUsername": "mallory",
        "name": "Mallory" + SCRIPT, "summary": HOSTILE_HTML, "inbox": member + "/inbox",
        "tag": [{"type": "Hashtag", "name": "#hacking"}],
        "attachment": [
            {"type": "PropertyValue", "name": "Site",
             "value": "<a href=\"javascript:window.pwned=5\">me</a><script>x()</script>"},
        ],
        "city": "<img src=x onerror=alert(1)>Zwolle",
    }  # fmt: skip
    proposal = {
        "id": f"{EVIL}/assignments/evil1",
        "name": SCRIPT + "Build our website " + "X" * 5000, "content": HOSTILE_HTML,
        "tag": [{"type": "Hashtag", "name": "#<b>webdesign</b>"}, {"type": "Hashtag", "name": "#python"}],
        "location": {"type": "Place", "name": "<img src=x onerror=\"window.pwned=6\">Leeuwarden"},
    }  # fmt: skip
    await _partner(node, EVIL_HOST, "Evil" + SCRIPT, person, proposal)
    await _meetup(node, f"{EVIL}/events/evil-meetup", SCRIPT + "Evil meetup",
                  "<b onmouseover=alert(1)>Somewhere</b>", author=f"{EVIL}/network")  # fmt: skip
    out.evil_assignment = proposal["id"]
    out.evil_member = member


def session() -> aiohttp.ClientSession:
    """A client that keeps cookies from IP hosts (the nodes listen on 127.0.0.x)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


async def sign_in(client: aiohttp.ClientSession, node: Node, username: str) -> None:
    async with client.get(node.url + "/signin") as resp:
        token = csrf_of(await resp.text())
    form = {"csrf": token, "username": username, "password": PASSWORD, "next": "/me"}
    async with client.post(node.url + "/signin", data=form, allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "img", "style", "base", "frame"):
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}=")
            if name in ("href", "src", "action", "formaction") and value is not None:
                scheme = value.strip().split(":", 1)[0].lower()
                if ":" in value and scheme not in ("http", "https", "mailto"):
                    self.problems.append(f"{tag} {name}={value[:40]}")
            if name == "style":
                self.problems.append(f"{tag} style=")


def inert_problems(html: str) -> list[str]:
    """Active content in a page: script-like tags, event handlers, non-http(s) URLs, inline style."""
    parser = _Tags()
    parser.feed(html)
    return parser.problems
