"""Meetups between real nodes on loopback and Mastodon/Mobilizon-like peers: RSVPs, waitlists,
updates, cancellation, roles, and what Mastodon shows of an Event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from eventkit import add_member, answers, api, follow_network, get_json, kept, participants, run_cli
from node.content.event_docs import EventSpec, SpecError, parse_place, rsvp_answer
from node.storage import events as events_db
from nodes import FakeClock, Node, start_node, wait_for
from peers import FakePeer

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "fixtures" / "mobilizon"
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def _soon(days: int = 7) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


async def _meetup(node: Node, token: str, **fields: Any) -> dict[str, Any]:
    body = {
        "title": "Open Coffee Leeuwarden",
        "start": _soon(),
        "place": "De Kantine, Oosterstraat 1, 8911 AA Leeuwarden",
        **fields,
    }
    status, created = await api(node, "POST", "/api/v1/events", token, body)
    assert status == 201, created
    return created  # type: ignore[no-any-return]


async def _count(node: Node, event_id: str) -> int:
    return await events_db.count(node.rt.db, event_id)


def _join(peer: FakePeer, username: str, event_id: str) -> dict[str, Any]:
    actor = peer.actor(username)
    return peer.activity(actor, "Join", event_id, to=[event_id.rsplit("/events/", 1)[0]])


# -- pure rules --------------------------------------------------------------------------------


def test_rsvp_rules() -> None:
    base = {"status": "EventScheduled", "past": False, "join_mode": "free", "waitlist": False}
    assert rsvp_answer(**base, accepted=0, capacity=None)[0] == "accepted"
    assert rsvp_answer(**base, accepted=1, capacity=2)[0] == "accepted"
    assert rsvp_answer(**base, accepted=2, capacity=2) == ("rejected", "the meetup is full")
    assert rsvp_answer(**{**base, "waitlist": True}, accepted=2, capacity=2)[0] == "waitlist"
    assert rsvp_answer(**{**base, "past": True}, accepted=0, capacity=None)[0] == "rejected"
    cancelled = {**base, "status": "EventCancelled"}
    assert rsvp_answer(**cancelled, accepted=0, capacity=None)[0] == "rejected"
    assert rsvp_answer(**{**base, "join_mode": "invite"}, accepted=0, capacity=None)[0] == (
        "rejected"
    )
    assert rsvp_answer(**{**base, "join_mode": "restricted"}, accepted=0, capacity=None)[0] == (
        "pending"
    )


def test_place_parsing() -> None:
    place = parse_place("De Kantine, Oosterstraat 1, 8911 AA Leeuwarden")
    assert (place.name, place.street_address, place.postal_code, place.address_locality) == (
        "De Kantine",
        "Oosterstraat 1",
        "8911 AA",
        "Leeuwarden",
    )
    assert parse_place("Bibliotheek, Loosduinen").address_locality == "Loosduinen"
    with pytest.raises(SpecError):
        parse_place(" , ")


# -- federation --------------------------------------------------------------------------------


async def test_loosduinen_member_rsvps_to_leeuwarden_meetup(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2", event_update_interval=0)
    b = await start_node(tmp_path, "Loosduinen", host="127.0.0.3", event_update_interval=0)
    try:
        _, organiser = await add_member(a, "sjoukje", "organiser")
        _, plain = await add_member(a, "piet")
        await add_member(b, "anna")
        await follow_network(b, a)
        created = await _meetup(a, organiser, capacity=10)
        event_id = created["iri"]
        await wait_for(lambda: kept(b, event_id))

        # A Loosduinen member RSVPs from the command line while her node runs.
        rc = await run_cli("event", "rsvp", event_id, "--as", "anna", "--data", str(b.data))
        assert rc == 0
        anna = b.url + "/members/anna"
        await wait_for(lambda: _state_is(b, event_id, anna, "accepted"), timeout=15)
        assert await _count(a, event_id) == 1
        assert (await participants(a, event_id)) == {anna: "accepted"}

        # The count is public: in the served Event and in the copy Loosduinen keeps.
        status, doc = await get_json(event_id)
        assert status == 200
        assert doc["participantCount"] == 1 and doc["attendees"]["totalItems"] == 1
        assert doc["remainingAttendeeCapacity"] == 9
        await wait_for(lambda: _kept_count(b, event_id, 1))
        status, attendees = await get_json(event_id + "/attendees")
        assert attendees == {**attendees, "type": "Collection", "totalItems": 1}
        assert "items" not in attendees

        # The list is for the organisers only.
        path = f"/api/v1/events/{created['id']}/participants"
        status, rows = await api(a, "GET", path, organiser)
        assert status == 200 and [r["actor"] for r in rows] == [anna]
        assert (await api(a, "GET", path, plain))[0] == 403
        assert (await api(a, "GET", path))[0] == 401

        # Leaving frees the place, on both sides.
        rc = await run_cli(
            "event", "rsvp", event_id, "--as", "anna", "--leave", "--data", str(b.data)
        )
        assert rc == 0
        await wait_for(lambda: _count_is(a, event_id, 0), timeout=15)
        assert (await participants(b, event_id))[anna] == "left"
    finally:
        await a.stop()
        await b.stop()


async def _state_is(node: Node, event: str, actor: str, state: str) -> bool:
    return (await participants(node, event)).get(actor) == state


async def _count_is(node: Node, event: str, n: int) -> bool:
    return await _count(node, event) == n


async def _kept_count(node: Node, event: str, n: int) -> bool:
    doc = await kept(node, event)
    return doc is not None and doc.get("participantCount") == n


async def test_waitlist_and_leave(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2", event_update_interval=0)
    peer = await FakePeer("127.0.0.5").start()
    try:
        _, organiser = await add_member(a, "sjoukje", "organiser")
        created = await _meetup(a, organiser, capacity=1, waitlist=True)
        event_id = created["iri"]
        inbox = a.network_id + "/inbox"
        first, second = _join(peer, "first", event_id), _join(peer, "second", event_id)
        assert (await peer.post(peer.actor("first"), inbox, first))[0] == 202
        await wait_for(lambda: answers(peer, "first", "Accept"))
        assert (await peer.post(peer.actor("second"), inbox, second))[0] == 202
        tentative = (await wait_for(lambda: answers(peer, "second", "TentativeAccept")))[0]
        assert tentative.json["object"]["id"] == second["id"]
        assert tentative.json["actor"] == a.network_id
        assert tentative.key_id == a.network_id + "#main-key"  # signed by the organising actor
        assert "proof" in tentative.json
        assert await _count(a, event_id) == 1

        # The first leaves: the second gets an Accept of their own Join, and the place.
        leave = peer.activity(peer.actor("first"), "Leave", event_id)
        assert (await peer.post(peer.actor("first"), inbox, leave))[0] == 202
        accept = (await wait_for(lambda: answers(peer, "second", "Accept")))[0]
        assert accept.json["object"]["id"] == second["id"]
        states = await participants(a, event_id)
        assert states == {peer.actor("first").id: "left", peer.actor("second").id: "accepted"}
        assert await _count(a, event_id) == 1
    finally:
        await a.stop()
        await peer.stop()


async def test_full_past_and_cancelled_meetups_reject(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2", event_update_interval=0)
    peer = await FakePeer("127.0.0.5").start()
    try:
        _, organiser = await add_member(a, "sjoukje", "organiser")
        inbox = a.network_id + "/inbox"
        full = (await _meetup(a, organiser, capacity=1))["iri"]
        await peer.post(peer.actor("first"), inbox, _join(peer, "first", full))
        await wait_for(lambda: answers(peer, "first", "Accept"))
        await peer.post(peer.actor("second"), inbox, _join(peer, "second", full))
        reject = (await wait_for(lambda: answers(peer, "second", "Reject")))[0]
        assert reject.json["summary"] == "the meetup is full"

        past = (await _meetup(a, organiser, start=_soon(-3)))["iri"]
        await peer.post(peer.actor("late"), inbox, _join(peer, "late", past))
        reject = (await wait_for(lambda: answers(peer, "late", "Reject")))[0]
        assert reject.json["summary"] == "the meetup is over"

        created = await _meetup(a, organiser)
        status, _ = await api(a, "POST", f"/api/v1/events/{created['id']}/cancel", organiser)
        assert status == 200
        await peer.post(peer.actor("hopeful"), inbox, _join(peer, "hopeful", created["iri"]))
        reject = (await wait_for(lambda: answers(peer, "hopeful", "Reject")))[0]
        assert reject.json["summary"] == "the meetup is cancelled"
        assert await _count(a, full) == 1 and await _count(a, past) == 0
    finally:
        await a.stop()
        await peer.stop()


async def test_mobilizon_join_and_leave(tmp_path: Path) -> None:
    """Mobilizon's Join (object: the event IRI, an LD signature, litepub context) as is."""
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2", event_update_interval=0)
    peer = await FakePeer("127.0.0.6").start()
    try:
        _, organiser = await add_member(a, "sjoukje", "organiser")
        event_id = (await _meetup(a, organiser, capacity=5))["iri"]
        admin = peer.actor("admin")
        join = json.loads((FIXTURES / "mobilizon-join-activity.json").read_text())
        join.update(id=f"{peer.base}/@admin/join/event/1", actor=admin.id, object=event_id)
        status, text = await peer.post(admin, a.network_id + "/inbox", join)
        assert status == 202, text

        accept = (await wait_for(lambda: answers(peer, "admin", "Accept")))[0]
        assert accept.error is None and accept.key_id == a.network_id + "#main-key"
        assert accept.json["object"]["id"] == join["id"]
        assert accept.json["object"]["object"] == event_id
        assert await _count(a, event_id) == 1
        assert (await get_json(event_id))[1]["participantCount"] == 1

        leave = json.loads((FIXTURES / "mobilizon-leave-activity.json").read_text())
        # The fixture reuses its Join's id; an inbox accepts an id once, so it gets its own.
        leave.update(id=f"{peer.base}/@admin/leave/event/1", actor=admin.id, object=event_id)
        status, text = await peer.post(admin, a.network_id + "/inbox", leave)
        assert status == 202, text
        await wait_for(lambda: _count_is(a, event_id, 0))
        assert (await get_json(event_id))[1]["participantCount"] == 0
    finally:
        await a.stop()
        await peer.stop()


# -- what Mastodon shows, and the CLI ----------------------------------------------------------


async def test_event_renders_for_mastodon_and_cli(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2")
    try:
        await add_member(a, "sjoukje", "organiser")
        rc = await run_cli(
            "event", "add", "--data", str(a.data), "--title", "Open Coffee",
            "--start", "2030-03-06T19:00", "--end", "2030-03-06T21:00",
            "--organiser", "sjoukje", "--place", "De Kantine, Oosterstraat 1, 8911 AA Leeuwarden",
            "--online", "https://meet.example/coffee", "--capacity", "20", "--waitlist",
        )  # fmt: skip
        assert rc == 0
        ev = (await events_db.list_events(a.rt.db))[0]
        status, doc = await get_json(ev.id)
        assert status == 200
        jsonschema.validate(doc, json.loads((SCHEMAS / "Event.schema.json").read_text()))
        # Mastodon renders an Event as name, summary and link: the summary says it all.
        assert doc["name"] == "Open Coffee"
        assert "Wednesday 6 March 2030, 19:00-21:00 (Europe/Amsterdam)" in doc["summary"]
        assert "De Kantine, Oosterstraat 1, 8911 AA Leeuwarden" in doc["summary"]
        assert ev.id in doc["summary"] and doc["url"] == ev.id
        # Times carry their offset (wall time in the node's zone), and the zone itself.
        assert doc["startTime"] == "2030-03-06T19:00:00+01:00"
        assert doc["timezone"] == "Europe/Amsterdam"
        assert doc["attributedTo"] == a.network_id
        assert doc["organizers"] == [a.url + "/members/sjoukje"]
        place, online = doc["location"]
        assert place["address"]["postalCode"] == "8911 AA"
        assert online == {"type": "VirtualLocation", "url": "https://meet.example/coffee",
                          "name": "Online"}  # fmt: skip
        assert doc["maximumAttendeeCapacity"] == 20 and doc["joinMode"] == "free"
        assert doc["eventStatus"] == "EventScheduled" and doc["waitlist"] is True
        assert "proof" in doc

        assert await run_cli("event", "list", "--data", str(a.data)) == 0
        assert await run_cli("event", "show", ev.ident, "--data", str(a.data)) == 0
        assert await run_cli("event", "cancel", ev.ident, "--data", str(a.data)) == 0
        assert (await get_json(ev.id))[1]["eventStatus"] == "EventCancelled"
        assert await run_cli("event", "remove", ev.ident, "--data", str(a.data)) == 0
        assert (await get_json(ev.id))[0] == 410
        assert await run_cli("event", "show", ev.ident, "--data", str(a.data)) == 1
    finally:
        await a.stop()


async def test_roles(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2")
    try:
        _, plain = await add_member(a, "piet")
        _, organiser = await add_member(a, "sjoukje", "organiser")
        _, other = await add_member(a, "klaas", "organiser")
        _, admin = await add_member(a, "beheer", "admin")
        rc = await run_cli(
            "event", "add", "--data", str(a.data), "--title", "Borrel",
            "--start", _soon(), "--organiser", "piet",
        )  # fmt: skip
        assert rc == 1
        body = {"title": "Borrel", "start": _soon()}
        assert (await api(a, "POST", "/api/v1/events", plain, body))[0] == 403
        assert (await api(a, "POST", "/api/v1/events", None, body))[0] == 401
        status, created = await api(a, "POST", "/api/v1/events", organiser, body)
        assert status == 201
        path = f"/api/v1/events/{created['id']}"
        # Only its organisers (and admins) manage a meetup; any member may RSVP.
        assert (await api(a, "PATCH", path, other, {"title": "Mine"}))[0] == 403
        assert (await api(a, "PATCH", path, plain, {"title": "Mine"}))[0] == 403
        assert (await api(a, "PATCH", path, admin, {"capacity": 3}))[0] == 200
        assert (await api(a, "PATCH", path, organiser, {"capacity": 0}))[0] == 400
        status, rsvp = await api(a, "POST", path + "/rsvp", plain)
        assert status == 200 and rsvp["state"] == "accepted"
        status, shown = await api(a, "GET", path, plain)
        assert shown["my_rsvp"] == "accepted" and shown["participant_count"] == 1
        assert (await api(a, "DELETE", path, plain))[0] == 403
        assert (await api(a, "DELETE", path, organiser))[0] == 200
        assert (await api(a, "GET", path))[0] == 404
    finally:
        await a.stop()


async def test_changes_reach_following_nodes(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2", event_update_interval=0)
    b = await start_node(tmp_path, "Loosduinen", host="127.0.0.3")
    try:
        _, organiser = await add_member(a, "sjoukje", "organiser")
        await follow_network(b, a)
        created = await _meetup(a, organiser)
        event_id, path = created["iri"], f"/api/v1/events/{created['id']}"
        await wait_for(lambda: kept(b, event_id))

        status, _ = await api(
            a, "PATCH", path, organiser, {"title": "Open Coffee (new place)", "online": None,
                                           "place": {"name": "Het Café"}, "capacity": 12},
        )  # fmt: skip
        assert status == 200
        await wait_for(lambda: _kept_field(b, event_id, "name", "Open Coffee (new place)"))
        copy = await kept(b, event_id)
        assert copy is not None and copy["location"]["name"] == "Het Café"
        assert copy["maximumAttendeeCapacity"] == 12

        assert (await api(a, "POST", path + "/cancel", organiser))[0] == 200
        await wait_for(lambda: _kept_field(b, event_id, "eventStatus", "EventCancelled"))
        row = await b.rt.db.fetchone("SELECT status FROM objects WHERE id = ?", (event_id,))
        assert row["status"] == "EventCancelled"

        assert (await api(a, "DELETE", path, organiser))[0] == 200
        await wait_for(lambda: _gone(b, event_id))
    finally:
        await a.stop()
        await b.stop()


async def _kept_field(node: Node, event: str, name: str, value: Any) -> bool:
    doc = await kept(node, event)
    return doc is not None and doc.get(name) == value


async def _gone(node: Node, event: str) -> bool:
    return await kept(node, event) is None


async def test_count_updates_are_debounced(tmp_path: Path) -> None:
    clock = FakeClock()
    a = await start_node(
        tmp_path, "Leeuwarden", host="127.0.0.2", clock=clock, event_update_interval=300
    )
    peer = await FakePeer("127.0.0.5").start()
    peer.clock = clock
    try:
        svc = a.rt.services["events"]
        await svc.stop()  # the test flushes by hand, at the clock's pace
        await peer.follow(peer.actor("watcher"), a.url, a.network_id, date=clock())
        one, _ = await add_member(a, "een")
        two, _ = await add_member(a, "twee")
        start = clock() + timedelta(days=3)
        spec = EventSpec(title="Open Coffee", timezone="Europe/Amsterdam")
        ev = await svc.create(spec, start, start + timedelta(hours=2))
        await a.drain()

        def updates() -> list[int]:
            return [
                r.json["object"]["participantCount"]
                for r in peer.received
                if r.error is None and r.json.get("type") == "Update"
            ]

        await svc.rsvp(one, ev.id)
        await a.drain()
        assert updates() == []  # the Create went out moments ago
        clock.advance(301)
        assert await svc.flush_counts() == 1
        await wait_for(lambda: updates() == [1])
        await svc.rsvp(two, ev.id)
        assert await svc.flush_counts() == 0
        clock.advance(120)
        assert await svc.flush_counts() == 0
        clock.advance(200)
        assert await svc.flush_counts() == 1
        await wait_for(lambda: updates() == [1, 2])
    finally:
        await a.stop()
        await peer.stop()


async def test_restricted_meetup_waits_for_an_organiser(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2", event_update_interval=0)
    peer = await FakePeer("127.0.0.5").start()
    try:
        _, organiser = await add_member(a, "sjoukje", "organiser")
        created = await _meetup(a, organiser, join_mode="restricted", capacity=2)
        event_id, inbox = created["iri"], a.network_id + "/inbox"
        join = _join(peer, "guest", event_id)
        assert (await peer.post(peer.actor("guest"), inbox, join))[0] == 202
        await wait_for(lambda: _state_is(a, event_id, peer.actor("guest").id, "pending"))
        assert answers(peer, "guest") == []  # nothing until an organiser decides

        path = f"/api/v1/events/{created['id']}/participants/decide"
        body = {"actor": peer.actor("guest").id, "approve": True}
        status, decided = await api(a, "POST", path, organiser, body)
        assert status == 200 and decided["state"] == "accepted"
        accept = (await wait_for(lambda: answers(peer, "guest", "Accept")))[0]
        assert accept.json["object"]["id"] == join["id"]
        assert await _count(a, event_id) == 1
        assert (await api(a, "POST", path, organiser, body))[0] == 404  # decided already

        # Undo of the Join works as a Leave.
        undo = peer.activity(peer.actor("guest"), "Undo", join)
        assert (await peer.post(peer.actor("guest"), inbox, undo))[0] == 202
        await wait_for(lambda: _count_is(a, event_id, 0))
    finally:
        await a.stop()
        await peer.stop()


async def test_member_rsvps_to_a_remote_meetup_through_the_api(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2", event_update_interval=0)
    b = await start_node(tmp_path, "Loosduinen", host="127.0.0.3")
    try:
        _, organiser = await add_member(a, "sjoukje", "organiser")
        _, anna = await add_member(b, "anna")
        event_id = (await _meetup(a, organiser, capacity=1))["iri"]
        status, rsvp = await api(b, "POST", "/api/v1/rsvps", anna, {"event": event_id})
        assert status == 202 and rsvp["state"] == "pending"
        member = b.url + "/members/anna"
        await wait_for(lambda: _state_is(b, event_id, member, "accepted"))
        status, mine = await api(b, "GET", "/api/v1/rsvps", anna)
        assert mine == [{"event": event_id, "state": "accepted", "since": mine[0]["since"]}]
        status, left = await api(b, "DELETE", f"/api/v1/rsvps?event={event_id}", anna)
        assert status == 200 and left["was"] == "accepted"
        await wait_for(lambda: _count_is(a, event_id, 0))
    finally:
        await a.stop()
        await b.stop()
