"""Meetups: create, update, cancel and delete events; RSVPs in and out; debounced count Updates.

RSVP rules (DESIGN.md): a ``Join`` to one of our events gets ``Accept``,
``TentativeAccept`` (full, on the waitlist) or ``Reject`` (full without a
waitlist, cancelled, closed or past), signed by the actor the event is
attributed to; a ``Leave`` (or ``Undo`` of the ``Join``) frees a place and the
first person on the waitlist gets an ``Accept``. The count is public; followers
learn it through an ``Update`` at most once per ``event_update_interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import unicodedata
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from protocol import models, validation, vocab, wire
from protocol.errors import RemoteProtocolError

from ..clock import from_iso, iso
from ..cooperative import Cooperative
from ..processor import Handlers, Outcome
from ..storage import actors as actors_db
from ..storage import events as events_db
from ..storage import objects as objects_db
from ..storage.actors import LocalActor
from ..storage.events import ACTIVE, LocalEvent, Participant
from ..storage.inbox import InboxItem
from .event_api import routes
from .event_cli import register_cli
from .event_docs import ANSWERS, EventSpec, SpecError, build_event, rsvp_answer, validate_spec
from .event_rsvps import OutgoingRsvps
from .ingest import stored_from_document
from .publishing import ContentPublisher
from .series import SeriesService

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["Service", "SpecError", "register_cli", "routes"]

log = logging.getLogger("kantine.events")


def new_ident(title: str) -> str:
    """A short, readable, unguessable identifier: ``open-coffee-k3j9x2``."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:40].strip("-")
    tail = secrets.token_hex(3)
    return f"{slug}-{tail}" if slug else tail


def spec_of(ev: LocalEvent) -> EventSpec:
    return msgspec.convert(ev.spec, EventSpec)


def _join_ref(join_id: str, actor: str, event: str) -> dict[str, Any]:
    """The Join an answer refers to, embedded (without the sender's own extras)."""
    return {"id": join_id, "type": "Join", "actor": actor, "object": event}


class Service:
    """Our meetups and everyone's RSVPs to them; our members' RSVPs to other nodes' meetups."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.db = rt.db
        self.fed = rt.federation
        self.urls = rt.urls
        self.publisher = ContentPublisher(rt)
        self.series = SeriesService(self)
        self.outgoing = OutgoingRsvps(self)
        self.tick = 5.0  # seconds between two rounds of the count and series worker
        self._task: asyncio.Task[None] | None = None

    def handlers(self) -> Handlers:
        return {
            "Join": [self.on_join],
            "Leave": [self.on_leave],
            "Undo": [self.on_undo],
            "Accept": [self.outgoing.on_accept],
            "TentativeAccept": [self.outgoing.on_tentative_accept],
            "Reject": [self.outgoing.on_reject],
        }

    # -- the worker: debounced count Updates and series occurrences --------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kantine-events")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.flush_counts()
                await self.publish_due_occurrences()
            except Exception:  # the worker must survive anything one round throws
                log.exception("events round failed")
            await asyncio.sleep(self.tick)

    async def flush_counts(self) -> int:
        """Publish an ``Update`` for each event whose count changed, unless one went out lately."""
        interval = timedelta(seconds=self.rt.settings.event_update_interval)
        due = await events_db.dirty_due(self.db, iso(self.rt.clock() - interval))
        sent = 0
        for ev in due:
            if await self.publish(ev, "Update", only_if_dirty=True):
                sent += 1
        return sent

    async def publish_due_occurrences(self) -> list[LocalEvent]:
        """Publish every series occurrence that comes within its horizon (idempotent)."""
        return await self.series.publish_due()

    # -- who may do what ------------------------------------------------------------------

    async def author_of(self, ev: LocalEvent) -> LocalActor:
        actor = await actors_db.get_local(self.db, ev.author)
        if actor is None:
            raise LookupError(f"the author {ev.author!r} of {ev.id} is gone")
        return actor

    def may_manage(self, actor: LocalActor, organizers: list[str]) -> bool:
        """Admins manage every meetup; organisers those they organise (or nobody's)."""
        if actor.role == "admin":
            return True
        if actor.role != "organiser":
            return False
        return not organizers or self.fed.actor_id(actor) in organizers

    async def get(self, key: str) -> LocalEvent:
        """One of our meetups by its ident or IRI (``LookupError`` if there is none)."""
        ev = await events_db.get_event(self.db, key)
        if ev is None:
            raise LookupError(f"no meetup {key!r}")
        return ev

    # -- organisers: create, update, cancel, delete --------------------------------------------

    async def create(
        self,
        spec: EventSpec,
        start: datetime,
        end: datetime | None,
        *,
        author: LocalActor | None = None,
        ident: str | None = None,
        series: str | None = None,
        occurrence: str | None = None,
    ) -> LocalEvent | None:
        """Store and publish a meetup; None if that series occurrence exists already."""
        validate_spec(spec, start, end)
        author = author or await self.publisher.network()
        now = iso(self.rt.clock())
        ident = ident or new_ident(spec.title)
        ev = LocalEvent(
            id=self.urls.object("events", ident),
            ident=ident,
            author=author.username,
            spec=msgspec.to_builtins(spec),
            start_time=iso(start),
            end_time=iso(end) if end else None,
            created_at=now,
            updated_at=now,
            series=series,
            occurrence=occurrence,
        )
        if not await self.db.write(lambda c: events_db.insert_event(c, ev)):
            return None
        await self.publish(ev, "Create")
        return ev

    async def update(
        self,
        ev: LocalEvent,
        changes: dict[str, Any],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        clear_end: bool = False,
        status: str | None = None,
    ) -> LocalEvent:
        """Change a meetup's fields and publish the ``Update`` at once."""
        spec = msgspec.convert({**ev.spec, **changes}, EventSpec)
        new_start = start or from_iso(ev.start_time)
        new_end = None if clear_end else (end or (from_iso(ev.end_time) if ev.end_time else None))
        validate_spec(spec, new_start, new_end)
        ev.spec = msgspec.to_builtins(spec)
        ev.start_time = iso(new_start)
        ev.end_time = iso(new_end) if new_end else None
        if status is not None:
            ev.status = status
        ev.updated_at = iso(self.rt.clock())
        now = ev.updated_at

        def write(conn):  # type: ignore[no-untyped-def]
            events_db.update_event(conn, ev)
            return self._promote(conn, ev, spec, now)

        promoted = await self.db.write(write)
        await self.publish(ev, "Update")
        await self._tell_promoted(ev, promoted)
        return ev

    async def cancel(self, ev: LocalEvent) -> LocalEvent:
        return await self.update(ev, {}, status="EventCancelled")

    async def delete(self, ev: LocalEvent) -> None:
        """Delete a meetup: a ``Delete`` with a ``Tombstone`` goes where its copies went."""
        author = await self.author_of(ev)
        spec = spec_of(ev)
        targets = await self._participant_targets(ev)
        now_dt = self.rt.clock()
        now = iso(now_dt)
        ev.deleted_at = ev.updated_at = now

        def write(conn):  # type: ignore[no-untyped-def]
            events_db.update_event(conn, ev)
            objects_db.delete(conn, ev.id, now)

        await self.db.write(write)
        tombstone = models.to_dict(
            models.Tombstone(id=ev.id, former_type="Event", deleted=now_dt.replace(microsecond=0))
        )
        activity = self.publisher.activity(author, "Delete", tombstone, spec.visibility)
        await self.publisher.publish(
            author,
            activity,
            visibility=spec.visibility,
            object_id=ev.id,
            extra_targets=targets,
            announce=False,
        )

    async def document(self, ev: LocalEvent) -> dict[str, Any]:
        """The Event as published now (unsigned), with the current count."""
        author = await self.author_of(ev)
        spec = spec_of(ev)
        to, cc = self.publisher.addressing(author, spec.visibility)
        recurrence = None
        if ev.series is not None:
            series = await events_db.get_series(self.db, ev.series, include_deleted=True)
            recurrence = series.rrule if series else None
        return build_event(
            ev,
            attributed_to=self.fed.actor_id(author),
            accepted=await events_db.count(self.db, ev.id),
            to=to,
            cc=cc,
            context=vocab.CONTEXT,
            recurrence=recurrence,
        )

    async def publish(self, ev: LocalEvent, kind: str, *, only_if_dirty: bool = False) -> bool:
        """Sign the Event, keep it as the served copy, and send ``Create``/``Update`` of it."""
        now = iso(self.rt.clock())
        claimed = await self.db.write(
            lambda c: events_db.claim_count_update(c, ev.id, now, force=not only_if_dirty)
        )
        if not claimed:
            return False
        author = await self.author_of(ev)
        spec = spec_of(ev)
        signed = self.fed.sign_document(author, await self.document(ev))
        row = stored_from_document(
            signed, local=True, visibility=spec.visibility, origin_actor=None, now=now
        )
        await self.db.write(lambda c: objects_db.save(c, row))
        targets = [] if kind == "Create" else await self._participant_targets(ev)
        activity = self.publisher.activity(author, kind, signed, spec.visibility)
        await self.publisher.publish(
            author,
            activity,
            visibility=spec.visibility,
            object_id=ev.id,
            extra_targets=targets,
        )
        return True

    async def _participant_targets(self, ev: LocalEvent) -> list[tuple[str, str]]:
        """Inboxes of remote participants (they hear of changes even if they follow nobody)."""
        targets = []
        for p in await events_db.list_participants(self.db, ev.id):
            if self.urls.is_local(p.actor):
                continue
            try:
                remote = await self.fed.remote_actor(p.actor)
            except RemoteProtocolError as exc:
                log.info("participant %s unreachable: %s", p.actor, exc.reason)
                continue
            targets.append((remote.shared_inbox or remote.inbox, remote.host))
        return targets

    # -- RSVPs to our meetups ---------------------------------------------------------------

    def _past(self, ev: LocalEvent) -> bool:
        return from_iso(ev.end_time or ev.start_time) <= self.rt.clock()

    def _promote(self, conn: Any, ev: LocalEvent, spec: EventSpec, now: str) -> list[Participant]:
        """Move people from the waitlist while there is room (in the writer's transaction)."""
        promoted = []
        while spec.capacity is None or events_db.count_sync(conn, ev.id) < spec.capacity:
            nxt = events_db.first_waitlisted(conn, ev.id)
            if nxt is None:
                break
            events_db.set_state(conn, ev.id, nxt.actor, "accepted", now)
            promoted.append(nxt)
        if promoted:
            events_db.mark_dirty(conn, ev.id)
        return promoted

    async def join(
        self, ev: LocalEvent, actor: str, join_id: str, *, welcome: bool = True
    ) -> tuple[str, str | None]:
        """Decide a Join and record it; return ``(state, reason)``."""
        spec = spec_of(ev)
        past = self._past(ev)
        now = iso(self.rt.clock())

        def write(conn):  # type: ignore[no-untyped-def]
            existing = events_db.participant_sync(conn, ev.id, actor)
            if existing is not None and existing.state in ACTIVE:
                return existing.state, None  # a repeated Join keeps its place in the queue
            state, reason = rsvp_answer(
                status=ev.status,
                past=past,
                join_mode=spec.join_mode,
                accepted=events_db.count_sync(conn, ev.id),
                capacity=spec.capacity,
                waitlist=spec.waitlist,
                welcome=welcome,
            )
            events_db.upsert_participant(conn, ev.id, actor, state, join_id, now)
            if state == "accepted":
                events_db.mark_dirty(conn, ev.id)
            return state, reason

        state, reason = await self.db.write(write)
        if state == "accepted":
            await self.flush_counts()
        return state, reason

    async def leave(self, ev: LocalEvent, actor: str) -> str | None:
        """Withdraw an RSVP; the freed place goes to the waitlist. Returns the former state."""
        spec = spec_of(ev)
        now = iso(self.rt.clock())

        def write(conn):  # type: ignore[no-untyped-def]
            existing = events_db.participant_sync(conn, ev.id, actor)
            if existing is None or existing.state not in ACTIVE:
                return None, []
            events_db.set_state(conn, ev.id, actor, "left", now)
            promoted = self._promote(conn, ev, spec, now) if existing.state == "accepted" else []
            if existing.state == "accepted":
                events_db.mark_dirty(conn, ev.id)
            return existing.state, promoted

        former, promoted = await self.db.write(write)
        await self._tell_promoted(ev, promoted)
        if former == "accepted":
            await self.flush_counts()
        return former  # type: ignore[no-any-return]

    async def decide(self, ev: LocalEvent, actor: str, approve: bool) -> str:
        """An organiser answers an RSVP to a ``restricted`` meetup."""
        spec = spec_of(ev)
        now = iso(self.rt.clock())

        def write(conn):  # type: ignore[no-untyped-def]
            existing = events_db.participant_sync(conn, ev.id, actor)
            if existing is None or existing.state != "pending":
                raise LookupError(f"{actor} has no RSVP awaiting a decision")
            state: str = "rejected"
            reason: str | None = "an organiser declined"
            if approve:
                state, reason = rsvp_answer(
                    status=ev.status,
                    past=self._past(ev),
                    join_mode="free",
                    accepted=events_db.count_sync(conn, ev.id),
                    capacity=spec.capacity,
                    waitlist=spec.waitlist,
                )
            events_db.set_state(conn, ev.id, actor, state, now)
            if state == "accepted":
                events_db.mark_dirty(conn, ev.id)
            return state, reason, existing.join_id

        state, reason, join_id = await self.db.write(write)
        await self.answer(ev, actor, _join_ref(join_id, actor, ev.id), state, reason)
        await self.flush_counts()
        return state  # type: ignore[no-any-return]

    async def answer(
        self, ev: LocalEvent, actor: str, join: dict[str, Any], state: str, reason: str | None
    ) -> None:
        """Tell a remote participant their RSVP's state, signed by the event's author."""
        kind = ANSWERS.get(state)
        if kind is None or self.urls.is_local(actor):
            return  # pending waits for an organiser; our own members read their state locally
        remote = await self.fed.remote_actor(actor)
        author = await self.author_of(ev)
        cls = {"Accept": models.Accept, "TentativeAccept": models.TentativeAccept}.get(
            kind, models.Reject
        )
        activity = models.to_dict(
            cls(
                context=vocab.CONTEXT,
                id=self.urls.new_activity(),
                actor=self.fed.actor_id(author),
                object=join,
                summary=reason,
                to=[actor],
                cc=[],
                published=self.rt.clock().replace(microsecond=0),
            )
        )
        await self.fed.publish(
            author,
            activity,
            to_followers=False,
            targets=[(remote.inbox, remote.host)],
            public=False,
        )

    async def _tell_promoted(self, ev: LocalEvent, promoted: list[Participant]) -> None:
        for p in promoted:
            await self.answer(ev, p.actor, _join_ref(p.join_id, p.actor, ev.id), "accepted", None)

    async def _welcome(self, ev: LocalEvent, actor: str) -> bool:
        visibility = spec_of(ev).visibility
        if visibility == "public":
            return True
        if visibility == "cooperative":
            cooperative = Cooperative(self.db, self.rt.settings.slug)
            return await cooperative.includes(validation.host_of(actor))
        return False

    async def _local_event(self, target: str | None) -> LocalEvent | None:
        if target is None or not self.urls.is_local(target):
            return None
        return await events_db.get_event(self.db, target)

    # -- inbox handlers -------------------------------------------------------------------

    async def on_join(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        target = wire.first_id(doc.get("object"))
        ev = await self._local_event(target)
        if ev is None:
            return Outcome.discard(f"Join of {target}, which is not one of our meetups")
        welcome = await self._welcome(ev, item.actor)
        state, reason = await self.join(ev, item.actor, item.activity_id, welcome=welcome)
        await self.answer(
            ev, item.actor, _join_ref(item.activity_id, item.actor, ev.id), state, reason
        )
        return Outcome.done(f"{item.actor} is {state} for {ev.id}")

    async def on_leave(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        target = wire.first_id(doc.get("object"))
        ev = await self._local_event(target)
        if ev is None:
            return Outcome.discard(f"Leave of {target}, which is not one of our meetups")
        former = await self.leave(ev, item.actor)
        return Outcome.done(f"{item.actor} left {ev.id} (was {former or 'not attending'})")

    async def on_undo(self, item: InboxItem, doc: dict[str, Any]) -> Outcome:
        obj = doc.get("object")
        target = None
        if isinstance(obj, dict) and "Join" in wire.type_names(obj.get("type")):
            target = wire.first_id(obj.get("object"))
        else:
            found = await events_db.by_join(self.db, wire.first_id(obj) or "")
            target = found.event if found is not None and found.actor == item.actor else None
        ev = await self._local_event(target)
        if ev is None:
            return Outcome.discard("Undo of no RSVP to our meetups")
        former = await self.leave(ev, item.actor)
        return Outcome.done(f"{item.actor} undid the RSVP to {ev.id} (was {former})")

    # -- our members' RSVPs (to our meetups here, or to other nodes' by Join and Leave) --------

    async def rsvp(self, member: LocalActor, event_iri: str) -> str:
        """RSVP as ``member``: decided here for our meetups, a ``Join`` sent for others."""
        if not self.urls.is_local(event_iri):
            return await self.outgoing.join(member, event_iri)
        ev = await self.get(event_iri)
        state, _ = await self.join(ev, self.fed.actor_id(member), self.urls.new_activity())
        return state

    async def withdraw(self, member: LocalActor, event_iri: str) -> str | None:
        """Withdraw ``member``'s RSVP; for another node's meetup a ``Leave`` is sent."""
        if not self.urls.is_local(event_iri):
            return await self.outgoing.leave(member, event_iri)
        return await self.leave(await self.get(event_iri), self.fed.actor_id(member))
