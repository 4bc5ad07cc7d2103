"""Shared projects: project Group actors, their participants, and relaying what they post."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from protocol import addressing, validation, vocab, wire

from ...clock import iso
from ...commands import RESERVED
from ...config import SLUG_RE
from ...processor import Handlers, Outcome
from ...storage import actors as actors_db
from ...storage import follows as follows_db
from ...storage import objects as objects_db
from ...storage import projects as projects_db
from ...storage import remote as remote_db
from ...storage.actors import LocalActor
from ...storage.inbox import InboxItem
from ..publishing import ContentPublisher
from . import relay
from .listing import Listing
from .relay import addressed_to

if TYPE_CHECKING:
    from ...runtime import Runtime

__all__ = ["ProjectError", "ProjectRef", "Service"]

log = logging.getLogger("kantine.projects")


#: Most of what an inbox hears: nothing for a project here (a routine discard).
_NOT_FOR_A_PROJECT = "not addressed to a local project"


class ProjectError(LookupError):
    """A project request cannot be served; ``status`` is the HTTP status the API answers."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message, self.status = message, status

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ProjectRef:
    """A project named by a slug, handle or IRI: local (``local``) or on another node (``remote``)."""

    id: str
    local: LocalActor | None = None
    remote: remote_db.RemoteActor | None = None


class Service(Listing):
    """Projects hosted here, membership of projects anywhere, and the FEP-1b12 relay."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt)
        self.rt = rt
        self.fed = rt.federation
        self.db = rt.db
        self.urls = rt.urls
        self.publisher = ContentPublisher(rt)

    def handlers(self) -> Handlers:
        return {
            "Join": [self.on_join],
            "Leave": [self.on_leave],
            "Create": [self.on_create],
            "Update": [self.on_update],
            "Delete": [self.on_delete],
            "Announce": [self.on_announce],
        }

    def _now(self) -> str:
        return iso(self.rt.clock())

    # -- projects hosted here ------------------------------------------------------

    async def create(self, slug: str, name: str, summary: str = "") -> LocalActor:
        """A new project actor at ``/projects/{slug}``; ``NameTaken`` if the name is in use."""
        if not SLUG_RE.match(slug) or slug in RESERVED:
            raise ProjectError(f"{slug!r} is not a valid name (a-z, 0-9, - and _)", 400)
        if not name.strip():
            raise ProjectError("a project needs a name", 400)
        actor = LocalActor.new(
            slug, "project", f"/projects/{slug}", name.strip(), self._now(), summary=summary
        )
        await self.db.write(lambda c: actors_db.insert_local(c, actor))
        return actor

    async def get(self, slug: str) -> LocalActor:
        actor = await actors_db.get_local(self.db, slug)
        if actor is None or actor.kind != "project" or actor.deleted_at is not None:
            raise ProjectError(f"no project {slug!r} on this node", 404)
        return actor

    async def hosted(self) -> list[LocalActor]:
        """The projects this node hosts."""
        return [a for a in await actors_db.list_local(self.db, "project") if a.deleted_at is None]

    async def participants(self, slug: str) -> list[projects_db.Participant]:
        project = await self.get(slug)
        return await projects_db.participants(self.db, project.username)

    async def remove(self, slug: str) -> None:
        """Delete the project actor: its followers are told (``Delete``), participants forgotten."""
        project = await self.get(slug)
        project_id = self.fed.actor_id(project)
        delete = {
            "@context": vocab.CONTEXT,
            "id": self.urls.new_activity(),
            "type": "Delete",
            "actor": project_id,
            "object": project_id,
            "to": [vocab.AS_PUBLIC],
            "cc": [self.urls.followers(project_id)],
            "published": self._now(),
        }
        await self.fed.publish(project, delete)  # queued to the followers before they go
        project.deleted_at = project.updated_at = self._now()
        followers = await follows_db.list_for(self.db, project.username, "in", None, limit=100_000)

        def write(conn):  # type: ignore[no-untyped-def]
            actors_db.update_local(conn, project)
            projects_db.remove_all(conn, project.username)
            for f in followers:
                follows_db.delete(conn, project.username, f.remote, "in")

        await self.db.write(write)

    # -- taking part, from any node ---------------------------------------------------

    async def resolve(self, ref: str) -> ProjectRef:
        """A local slug, a handle ``name@host`` or an actor IRI -> the project."""
        if "@" not in ref and "://" not in ref:
            project = await self.get(ref)
            return ProjectRef(self.fed.actor_id(project), local=project)
        if "://" in ref and self.urls.is_local(ref):
            found = await self.fed.local_by_iri(ref)
            if found is None or found.kind != "project":
                raise ProjectError(f"{ref} is not a project on this node", 404)
            return ProjectRef(ref, local=found)
        if "://" not in ref:
            name, _, host = ref.removeprefix("@").removeprefix("acct:").partition("@")
            if host.lower() == self.urls.host:
                return await self.resolve(name)
        remote = await self.rt.follows.resolve(ref)
        if remote.type != "Group":
            raise ProjectError(f"{remote.id} is a {remote.type}, not a project (Group)", 400)
        return ProjectRef(remote.id, remote=remote)

    async def join(self, member: LocalActor, ref: str) -> ProjectRef:
        """``member`` joins a project: at once if it is hosted here, else by sending ``Join``."""
        project = await self.resolve(ref)
        member_id = self.fed.actor_id(member)
        if project.local is not None:
            slug, join_id = project.local.username, self.urls.new_activity()
            await self.db.write(
                lambda c: projects_db.add_participant(c, slug, member_id, join_id, self._now())
            )
            return project
        assert project.remote is not None
        remote = project.remote
        join = self._activity(member, "Join", remote.id, [remote.id])
        await self.db.write(
            lambda c: follows_db.upsert(
                c, member.username, remote.id, "out", "pending", join["id"], self._now()
            )
        )
        await self.fed.publish(
            member, join, to_followers=False, targets=[(remote.inbox, remote.host)], public=False
        )
        return project

    async def leave(self, member: LocalActor, ref: str) -> ProjectRef:
        project = await self.resolve(ref)
        member_id = self.fed.actor_id(member)
        if project.local is not None:
            slug = project.local.username
            gone = await self.db.write(lambda c: projects_db.remove_participant(c, slug, member_id))
            if not gone:
                raise ProjectError(f"{member.username} does not take part in {project.id}", 403)
            return project
        assert project.remote is not None
        remote = project.remote
        if await follows_db.get(self.db, member.username, remote.id, "out") is None:
            raise ProjectError(f"{member.username} does not take part in {remote.id}", 403)
        leave = self._activity(member, "Leave", remote.id, [remote.id])
        await self.db.write(lambda c: follows_db.delete(c, member.username, remote.id, "out"))
        await self.fed.publish(
            member, leave, to_followers=False, targets=[(remote.inbox, remote.host)], public=False
        )
        return project

    async def takes_part(self, member: LocalActor, project: ProjectRef) -> bool:
        member_id = self.fed.actor_id(member)
        if project.local is not None:
            found = await projects_db.get_participant(self.db, project.local.username, member_id)
            return found is not None and found.state == "accepted"
        follow = await follows_db.get(self.db, member.username, project.id, "out")
        return follow is not None and follow.state == "accepted"

    async def post(
        self, member: LocalActor, ref: str, content: str, *, name: str | None = None
    ) -> dict[str, Any]:
        """``member`` posts a public Note to a project it takes part in; the signed Create."""
        project = await self.resolve(ref)
        if not await self.takes_part(member, project):
            raise ProjectError(
                f"{member.username} does not take part in {project.id}; join first", 403
            )
        if not content.strip():
            raise ProjectError("a post needs some text", 400)
        member_id = self.fed.actor_id(member)
        note_id = self.urls.object("notes", uuid.uuid4().hex)
        to, cc = self.publisher.addressing(member, "public")
        note: dict[str, Any] = {
            "id": note_id,
            "type": "Note",
            "attributedTo": member_id,
            "content": content,
            "audience": project.id,
            "to": to,
            "cc": [project.id, *cc],
            "published": self._now(),
        }
        if name:
            note["name"] = name
        activity = self.publisher.activity(
            member, "Create", note, "public", audience=project.id, cc=[project.id, *cc]
        )
        targets = []
        if project.remote is not None:
            inbox = project.remote.shared_inbox or project.remote.inbox
            targets.append((inbox, project.remote.host))
        signed = await self.publisher.publish(
            member,
            activity,
            visibility="public",
            object_id=note_id,
            extra_targets=targets,
            announce=False,
        )
        row = objects_db.StoredObject(
            id=note_id,
            type="Note",
            author=member_id,
            local=True,
            visibility="public",
            host=self.urls.host,
            raw=msgspec.json.encode(signed["object"]),
            published=note["published"],
            updated=note["published"],
            name=name or "",
            audience=project.id,
        )
        await self.db.write(lambda c: objects_db.save(c, row))
        if project.local is not None:
            # The project lives here: relay at once, from the very bytes that were published.
            await self.relay(project.local, msgspec.json.encode(signed))
        return signed

    def _activity(self, actor: LocalActor, kind: str, obj: Any, to: list[str]) -> dict[str, Any]:
        return {
            "@context": vocab.CONTEXT,
            "id": self.urls.new_activity(),
            "type": kind,
            "actor": self.fed.actor_id(actor),
            "object": obj,
            "to": to,
            "cc": [],
            "published": self._now(),
        }

    async def relay(self, project: LocalActor, raw: bytes) -> str:
        """The project Announces ``raw`` (an activity's bytes) to its followers; the Announce id."""
        body, document = relay.build_announce(self.rt, project, raw)
        queued = await relay.publish_raw(self.rt, project, document, body)
        log.info("project %s announced %s to %d inboxes", project.username, document["id"], queued)
        return str(document["id"])

    # -- inbox ----------------------------------------------------------------------

    async def _local_project(self, iri: str | None) -> LocalActor | None:
        if not iri or not self.urls.is_local(iri):
            return None
        found = await self.fed.local_by_iri(iri)
        return found if found is not None and found.kind == "project" else None

    async def on_join(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        project = await self._local_project(wire.first_id(doc.get("object")))
        if project is None:
            return Outcome.discard("Join of something that is not a local project")
        remote = await self.fed.remote_actor(item.actor)
        now = self._now()

        def write(conn):  # type: ignore[no-untyped-def]
            projects_db.add_participant(conn, project.username, remote.id, item.activity_id, now)
            follows_db.upsert(
                conn, project.username, remote.id, "in", "accepted", item.activity_id, now
            )

        await self.db.write(write)
        join = {
            "id": item.activity_id,
            "type": "Join",
            "actor": remote.id,
            "object": self.fed.actor_id(project),
        }
        accept = self._activity(project, "Accept", join, [remote.id])
        await self.fed.publish(
            project,
            accept,
            to_followers=False,
            targets=[(remote.inbox, remote.host)],
            public=False,
        )
        return Outcome.done(f"{remote.id} takes part in project {project.username}")

    async def on_leave(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        project = await self._local_project(wire.first_id(doc.get("object")))
        if project is None:
            return Outcome.discard("Leave of something that is not a local project")

        def write(conn):  # type: ignore[no-untyped-def]
            gone = projects_db.remove_participant(conn, project.username, item.actor)
            follows_db.delete(conn, project.username, item.actor, "in")
            return gone

        if not await self.db.write(write):
            return Outcome.discard(f"{item.actor} did not take part in {project.username}")
        return Outcome.done(f"{item.actor} left project {project.username}")

    async def _relayed_by(self, item: InboxItem, doc: dict[str, Any]) -> tuple[list[str], str]:
        """Relay ``item`` through each local project it is addressed to; (relayed, why not)."""
        # Only a local IRI can name a local project: the others are not looked up at all.
        local = [i for i in addressed_to(doc) if i and self.urls.is_local(i)]
        projects = [p for p in [await self._local_project(i) for i in local] if p]
        if not projects:
            return [], _NOT_FOR_A_PROJECT
        obj = doc.get("object")
        object_id = wire.first_id(obj)
        if object_id is None or not validation.same_origin(item.actor, object_id):
            return [], f"{item.actor} may not speak for {object_id}"
        if isinstance(obj, dict):
            author = wire.first_id(obj.get("attributedTo"))
            if author is not None and author != item.actor:
                return [], f"{item.actor} relays {author}'s object; projects relay authors only"
        if "bto" in doc or "bcc" in doc:
            return [], "activity has hidden recipients; not relayed"
        if not (addressing.is_publicly_addressed(doc) or addressing.is_publicly_addressed(obj)):
            return [], "non-public activities are never relayed"
        relayed, refused = [], []
        for project in projects:
            member = await projects_db.get_participant(self.db, project.username, item.actor)
            if member is None or member.state != "accepted":
                refused.append(f"{item.actor} does not take part in {project.username}")
                continue
            relayed.append(f"project {project.username} announced it")
            await self.relay(project, item.raw)
        return relayed, "; ".join(refused)

    async def _relay_then_keep(self, item: InboxItem, doc: dict[str, Any], kind: str) -> Outcome:
        relayed, why = await self._relayed_by(item, doc)
        if not relayed:  # the next handler (ingest) decides about keeping it
            return Outcome.ignore(why) if why == _NOT_FOR_A_PROJECT else Outcome.discard(why)
        # The project's node keeps the object too (its own pages show the project's stream).
        ingest = self.rt.services.get("ingest")
        kept = await getattr(ingest, f"on_{kind}")(item, doc) if ingest else None
        notes = [*relayed, *([kept.note] if kept and kept.note else []), why]
        return Outcome.done("; ".join(n for n in notes if n))

    async def on_create(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        return await self._relay_then_keep(item, doc, "create")

    async def on_update(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        return await self._relay_then_keep(item, doc, "update")

    async def on_delete(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        """A participant deletes a post it addressed to a project here: relay the Delete too."""
        object_id = wire.first_id(doc.get("object"))
        stored = await objects_db.get(self.db, object_id) if object_id else None
        if stored is None or stored.local or await self._local_project(stored.audience) is None:
            return Outcome.discard("Delete of nothing addressed to a local project")
        if not validation.same_origin(item.actor, stored.id) or stored.author != item.actor:
            return Outcome.discard(f"{item.actor} cannot delete {stored.id}")
        project = await self._local_project(stored.audience)
        assert project is not None
        await self.relay(project, item.raw)
        ingest = self.rt.services.get("ingest")
        kept = await ingest.on_delete(item, doc) if ingest else None
        return Outcome.done(
            f"project {project.username} announced the Delete; {kept.note if kept else ''}"
        )

    async def on_announce(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        """A followed project relays a participant's ``Delete``: verify the author, then forget."""
        inner = doc.get("object")
        if not isinstance(inner, dict) or "Delete" not in wire.type_names(inner.get("type")):
            return Outcome.discard("not a relayed Delete")  # Create/Update: ingest keeps them
        if not await follows_db.followed_by_anyone(self.db, item.actor):
            return Outcome.discard(f"Announce from {item.actor}, which nobody here follows")
        if "proof" not in inner:
            return Outcome.discard("relayed Delete without the author's proof")
        owner = await self.fed.verify_proof(inner)
        if owner != wire.first_id(inner.get("actor")):
            return Outcome.discard("the relayed Delete's proof is not by its actor")
        object_id = wire.first_id(inner.get("object"))
        stored = await objects_db.get(self.db, object_id) if object_id else None
        if stored is None or stored.local:
            return Outcome.discard(f"relayed Delete of {object_id}, which we do not keep")
        if stored.author != owner or not validation.same_origin(owner, stored.id):
            return Outcome.discard(f"{owner} cannot delete {stored.id}")
        now = self._now()
        await self.db.write(lambda c: objects_db.delete(c, stored.id, now))
        return Outcome.done(f"deleted {stored.id} (relayed by {item.actor})")
