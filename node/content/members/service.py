"""Members: add, update, roles, tokens and removal, with their federation; remote member cards.

Who may do what (checked here, for the CLI and the API alike): ``by`` is the
member acting, or ``None`` for the node's operator at the shell (who may do
anything). Adding members and changing roles needs ``admin``; a member may
update, remove and make tokens for themselves, an admin for anyone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from protocol import validation, wire

from ...api.auth import ROLE_RANK, ApiError, require_role
from ...clock import iso
from ...cooperative import Cooperative
from ...documents import actor_document
from ...processor import Handlers, Outcome
from ...storage import actors as actors_db
from ...storage import follows as follows_db
from ...storage import members as members_db
from ...storage import objects as objects_db
from ...storage import remote as remote_db
from ...storage import tokens as tokens_db
from ...storage.actors import LocalActor, NameTaken
from ...storage.inbox import InboxItem
from ..publishing import ContentPublisher
from .cards import (
    RANK,
    RESERVED,
    USERNAME_RE,
    CardChange,
    NewMember,
    apply_change,
    card_visibility,
    shows,
    validate,
)

if TYPE_CHECKING:
    from ...runtime import Runtime

__all__ = ["Card", "Service"]

log = logging.getLogger("kantine.members")


@dataclass(frozen=True)
class Card:
    """A member card in the directory, local or from another network."""

    id: str
    username: str
    host: str
    local: bool
    visibility: str
    name: str
    summary: str = ""
    discipline: str = ""
    city: str = ""
    skills: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (label, value as published: text or HTML)
    available: bool = False
    network: str | None = None  # remote: the network that vouches for the card


class Service:
    """Members of this node, and the cards of members of the networks it follows."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.db = rt.db
        self.fed = rt.federation
        self.urls = rt.urls
        self.publisher = ContentPublisher(rt)
        self.cooperative = Cooperative(rt.db, rt.settings.slug)

    def handlers(self) -> Handlers:
        return {"Announce": [self.on_announce]}

    # -- reading ------------------------------------------------------------------

    async def get(self, username: str) -> LocalActor:
        """A current member; 404 otherwise."""
        actor = await actors_db.get_local(self.db, username)
        if actor is None or actor.kind != "member" or actor.deleted_at is not None:
            raise ApiError(f"no member {username!r}", status_hint=404)
        return actor

    async def members(self) -> list[LocalActor]:
        return [a for a in await actors_db.list_local(self.db, "member") if a.deleted_at is None]

    async def directory(self, viewer: str = "public") -> list[Card]:
        """Local and remote member cards whose fields ``viewer`` may see, local ones first.

        Remote cards are those of networks we have an accepted follow with; a card
        another network marks non-public is shown only to viewers of at least
        ``cooperative`` rank, and never on public pages.
        """
        cards = [
            _local_card(a, self.urls.actor(a.path), self.urls.host)
            for a in await self.members()
            if shows(card_visibility(a), viewer)
        ]
        for row in await members_db.list_remote(self.db):
            card = _remote_card(row)
            if card is not None and card.visibility != "network" and shows(card.visibility, viewer):
                cards.append(card)
        return cards

    # -- writing ------------------------------------------------------------------

    async def add(self, new: NewMember, *, by: LocalActor | None) -> LocalActor:
        if by is not None:
            require_role(by, "admin")
        if not USERNAME_RE.match(new.username):
            raise ApiError(
                f"username {new.username!r} must be 1-30 characters of a-z, 0-9 and _",
                status_hint=400,
            )
        if new.username in RESERVED:
            raise ApiError(f"the name {new.username!r} is reserved", status_hint=409)
        validate(new)
        if not isinstance(new.name, str):
            raise ApiError("name is required", status_hint=400)
        now = iso(self.rt.clock())
        actor = LocalActor.new(
            new.username,
            "member",
            f"/members/{new.username}",
            new.name.strip(),
            now,
            role=new.role if isinstance(new.role, str) else "member",
            profile={"visibility": "public"},
        )
        apply_change(actor, msgspec.structs.replace(new, role=msgspec.UNSET))
        try:
            await self.db.write(lambda c: actors_db.insert_local(c, actor))
        except NameTaken as exc:
            raise ApiError(str(exc), status_hint=409) from exc
        await self._publish_update(actor)
        return actor

    async def update(
        self, username: str, change: CardChange, *, by: LocalActor | None
    ) -> LocalActor:
        """Change a card (and the role, admins only); followers and the network's followers learn."""
        actor = await self.get(username)
        self._may_act_for(by, actor)
        if isinstance(change.role, str) and change.role != actor.role:
            if by is not None:
                require_role(by, "admin")
            validate(change)
            actor.role = change.role
        changed = apply_change(actor, msgspec.structs.replace(change, role=msgspec.UNSET))
        actor.updated_at = iso(self.rt.clock())
        await self.db.write(lambda c: actors_db.update_local(c, actor))
        if changed:
            await self._publish_update(actor)
        return actor

    async def set_role(self, username: str, role: str, *, by: LocalActor | None) -> LocalActor:
        if by is not None:
            require_role(by, "admin")
        if role not in ROLE_RANK:
            raise ApiError(f"role must be one of {', '.join(ROLE_RANK)}", status_hint=400)
        return await self.update(username, CardChange(role=role), by=by)

    async def new_token(self, username: str, *, by: LocalActor | None, label: str = "") -> str:
        """A new API token; the network's own token acts as an admin of the network."""
        actor = await actors_db.get_local(self.db, username)
        if actor is None or actor.deleted_at is not None or actor.kind not in ("member", "network"):
            raise ApiError(f"no member {username!r}", status_hint=404)
        self._may_act_for(by, actor)
        now = iso(self.rt.clock())
        return await self.db.write(lambda c: tokens_db.create(c, actor.username, now, label))

    async def remove(self, username: str, *, by: LocalActor | None) -> LocalActor:
        """Delete the member everywhere: ``Delete{Tombstone}`` to its followers, the network's
        followers and the co-operative; then the actor answers 410 and its tokens are revoked."""
        actor = await self.get(username)
        self._may_act_for(by, actor)
        member_id = self.urls.actor(actor.path)
        now = iso(self.rt.clock())
        tombstone = {"id": member_id, "type": "Tombstone", "formerType": "Person", "deleted": now}
        activity = self.publisher.activity(actor, "Delete", tombstone, "public")
        targets = await self.cooperative.targets()
        targets += await follows_db.delivery_targets(self.db, self.rt.settings.slug)
        await self.publisher.publish(
            actor, activity, visibility="public", object_id=member_id, extra_targets=targets
        )
        actor.deleted_at = actor.updated_at = now

        def write(conn):  # type: ignore[no-untyped-def]
            actors_db.update_local(conn, actor)
            tokens_db.revoke_all(conn, actor.username)
            objects_db.delete_by_author(conn, member_id, now)

        await self.db.write(write)
        return actor

    def _may_act_for(self, by: LocalActor | None, actor: LocalActor) -> None:
        if by is None or by.username == actor.username:
            return
        if ROLE_RANK.get(by.role, -1) < ROLE_RANK["admin"]:
            raise ApiError(
                f"only {actor.username} or an admin may do this; {by.username} is {by.role}",
                status_hint=403,
            )

    async def _publish_update(self, actor: LocalActor) -> None:
        """``Update{Person}`` with the public view of the card, Announced by the network.

        Receivers refresh the card with a signed GET, which shows each of them what
        it may see (a co-operative host sees a ``cooperative`` card), so the public
        activity never carries non-public fields.
        """
        document = actor_document(actor, self.urls, self.rt.settings, viewer="public")
        activity = self.publisher.activity(actor, "Update", document, "public")
        await self.publisher.publish(
            actor, activity, visibility="public", object_id=self.urls.actor(actor.path)
        )

    # -- remote cards ---------------------------------------------------------------

    async def on_announce(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        """A network we follow relays ``Update``/``Create`` or ``Delete`` of one of its members."""
        inner = doc.get("object")
        if not isinstance(inner, dict):
            return Outcome.discard("not an announced member card")
        kinds = wire.type_names(inner.get("type"))
        obj = inner.get("object")
        target = wire.first_id(obj)
        if target is None:
            return Outcome.discard("announced activity has no object")
        if "Delete" in kinds:
            person = wire.first_id(inner.get("actor")) == target or (
                isinstance(obj, dict) and obj.get("formerType") == "Person"
            )
            if not person:
                return Outcome.discard("not a member's deletion")
            return await self._forget(item.actor, target)
        if ("Update" in kinds or "Create" in kinds) and isinstance(obj, dict):
            if "Person" not in wire.type_names(obj.get("type")):
                return Outcome.discard("not a member card")
            return await self._remember(item.actor, target)
        return Outcome.discard("not an announced member card")

    async def _remember(self, network: str, member_id: str) -> Outcome:
        if not validation.same_origin(network, member_id):
            return Outcome.discard(f"{network} cannot vouch for {member_id} on another origin")
        if not await follows_db.followed_by_anyone(self.db, network):
            return Outcome.discard(f"card from {network}, which nobody here follows")
        # The card is fetched from its origin with a signed GET: what we may see of it.
        remote = await self.fed.remote_actor(member_id, refresh=True)
        if remote.type != "Person":
            return Outcome.discard(f"{member_id} is a {remote.type}, not a member")
        now = iso(self.rt.clock())
        host = validation.host_of(member_id)
        await self.db.write(lambda c: members_db.save_remote(c, member_id, network, host, now))
        return Outcome.done(f"kept the card of {member_id}")

    async def _forget(self, network: str, member_id: str) -> Outcome:
        """A network's relayed Delete of its own member: same origin, so the network may say so."""
        if not validation.same_origin(network, member_id):
            return Outcome.discard(f"{network} cannot delete {member_id} on another origin")
        known = await remote_db.get_actor(self.db, member_id)
        if known is None and await members_db.get_remote(self.db, member_id) is None:
            return Outcome.done(f"{member_id} was already forgotten")
        now = iso(self.rt.clock())

        def forget(conn):  # type: ignore[no-untyped-def]
            members_db.forget(conn, member_id)
            follows_db.delete_remote(conn, member_id)
            remote_db.delete_actor(conn, member_id)
            objects_db.delete_by_author(conn, member_id, now)

        await self.db.write(forget)
        return Outcome.done(f"forgot deleted member {member_id} and its card")


def _local_card(actor: LocalActor, actor_id: str, host: str) -> Card:
    profile = actor.profile
    links = [("Website", profile["website"])] if profile.get("website") else []
    links += [(x["name"], x["value"]) for x in profile.get("links", [])]
    return Card(
        id=actor_id,
        username=actor.username,
        host=host,
        local=True,
        visibility=card_visibility(actor),
        name=actor.name,
        summary=actor.summary,
        discipline=profile.get("discipline", ""),
        city=profile.get("city", ""),
        skills=tuple(profile.get("skills", [])),
        links=tuple(links),
        available=bool(profile.get("available", False)),
    )


def _remote_card(row: members_db.RemoteMember) -> Card | None:
    """A remote member's card from its cached actor document (lenient: peers vary)."""
    try:
        doc = msgspec.json.decode(row.raw)
    except msgspec.DecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    visibility = doc.get("visibility") if doc.get("visibility") in RANK else "public"
    username = str(doc.get("preferredUsername") or row.id.rsplit("/", 1)[-1])
    tags: list[Any] = doc["tag"] if isinstance(doc.get("tag"), list) else []
    fields: list[Any] = doc["attachment"] if isinstance(doc.get("attachment"), list) else []
    return Card(
        id=row.id,
        username=username,
        host=row.host,
        local=False,
        visibility=str(visibility),
        name=str(doc.get("name") or username),
        summary=str(doc.get("summary") or ""),
        discipline=str(doc.get("discipline") or ""),
        city=str(doc.get("city") or ""),
        skills=tuple(
            str(t["name"]).lstrip("#")
            for t in tags
            if isinstance(t, dict) and t.get("type") == "Hashtag" and t.get("name")
        ),
        links=tuple(
            (str(f.get("name")), str(f.get("value")))
            for f in fields
            if isinstance(f, dict) and f.get("type") == "PropertyValue"
        ),
        available=doc.get("availableForAssignments") is True,
        network=row.network,
    )
