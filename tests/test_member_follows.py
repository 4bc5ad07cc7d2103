"""Members follow other networks from their home node; the node keeps one calendar.

- two members of B follow network A: A delivers each meetup once, to B's shared inbox,
  and each member who follows sees it in their feed (and nobody else, until B's
  network follows A too);
- a Gancio-shaped ``Create{Event}`` (the captured fixture, re-hosted on a loopback
  peer whose actor is an ``Application``) is kept and listed in the calendar.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from node.clock import iso
from node.content.publishing import ContentPublisher
from node.storage import objects as objects_db
from nodes import Node, start_node, wait_for
from peers import FakeActor, FakePeer
from projects_support import add_member, api, state_of
from protocol import vocab

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "fixtures" / "mobilizon"


async def _publish_meetup(node: Node, name: str, start: datetime) -> tuple[str, str]:
    """The network publishes a public meetup; return (activity id, event id)."""
    network = await node.network()
    publisher = ContentPublisher(node.rt)
    event_id = node.rt.urls.object("events", uuid.uuid4().hex)
    event = {
        "id": event_id,
        "type": "Event",
        "attributedTo": node.network_id,
        "name": name,
        "startTime": start.isoformat(),
        "endTime": (start + timedelta(hours=2)).isoformat(),
        "timezone": "Europe/Amsterdam",
        "location": {"type": "Place", "name": "De Kantine"},
        "to": [vocab.AS_PUBLIC],
        "cc": [node.network_id + "/followers"],
    }
    activity = publisher.activity(network, "Create", event, "public")
    signed = await publisher.publish(network, activity, visibility="public", object_id=event_id)
    return signed["id"], event_id


async def _deliveries(node: Node, activity_id: str) -> list[Any]:
    return await node.rt.db.fetchall(
        "SELECT d.inbox_url, d.state FROM deliveries d JOIN outbox o ON o.seq = d.outbox_seq"
        " WHERE o.activity_id = ?",
        (activity_id,),
    )


async def _feed_ids(node: Node, token: str) -> list[str]:
    status, body = await api(node, "GET", "/api/v1/me/feed", token)
    assert status == 200, body
    return [item["id"] for item in body["items"]]


async def _cli(*args: str) -> int:
    """Run ``kantine …`` in a child process, as an admin would next to the running node."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "node.cli", *args, env=dict(os.environ)
    )
    return await proc.wait()


async def test_members_follow_a_network_and_it_delivers_once_per_node(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2")
    b = await start_node(tmp_path, "Loosduinen", host="127.0.0.3")
    try:
        _, bo_token = await add_member(b, "bo")
        _, bas_token = await add_member(b, "bas")
        _, bert_token = await add_member(b, "bert")
        # bo follows from the command line, bas through the API: both send a Follow
        # from their own actor.
        assert await _cli("follow", a.handle, "--as", "bo", "--data", str(b.data)) == 0
        status, answer = await api(b, "POST", "/api/v1/me/follows", bas_token, {"target": a.handle})
        assert status == 202, answer
        for member in ("bo", "bas"):
            await wait_for(lambda m=member: _accepted(b, m, a.network_id), timeout=15)
        assert await state_of(a, a.settings.slug, b.url + "/members/bo", "in") == "accepted"
        assert await state_of(a, a.settings.slug, b.url + "/members/bas", "in") == "accepted"
        status, mine = await api(b, "GET", "/api/v1/me/follows", bas_token)
        assert [(f["actor"], f["state"]) for f in mine["following"]] == [(a.network_id, "accepted")]

        soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
        activity_id, event_id = await _publish_meetup(a, "Open Coffee Leeuwarden", soon)
        await wait_for(lambda: objects_db.get(b.rt.db, event_id))
        await a.settle()
        # One POST to B's shared inbox, however many of B's members follow A.
        sent = await _deliveries(a, activity_id)
        assert [(r["inbox_url"], r["state"]) for r in sent] == [(b.url + "/inbox", "done")]
        received = await b.rt.db.fetchall(
            "SELECT recipient FROM inbox WHERE activity_id = ?", (activity_id,)
        )
        assert [r["recipient"] for r in received] == [None]  # the shared inbox, once

        # Each member who follows sees it; bert follows nobody and does not.
        assert event_id in await _feed_ids(b, bo_token)
        assert event_id in await _feed_ids(b, bas_token)
        assert event_id not in await _feed_ids(b, bert_token)
        # The node keeps it in its one calendar, whoever follows.
        status, calendar = await api(b, "GET", "/api/v1/calendar")
        assert [(e["id"], e["name"], e["location"]) for e in calendar["events"]] == [
            (event_id, "Open Coffee Leeuwarden", "De Kantine")
        ]
        assert calendar["events"][0]["startTime"] == soon.isoformat()

        # The network as a whole follows A too: now bert sees A's meetups as well,
        # and A still delivers once per node.
        network = await b.network()
        await b.rt.follows.follow(network, await b.rt.follows.resolve(a.handle))
        await wait_for(lambda: _accepted(b, b.settings.slug, a.network_id))
        assert event_id in await _feed_ids(b, bert_token)
        activity_id, second = await _publish_meetup(a, "Walk and talk", soon + timedelta(days=1))
        await wait_for(lambda: objects_db.get(b.rt.db, second))
        await a.settle()
        assert len(await _deliveries(a, activity_id)) == 1
        assert await _feed_ids(b, bert_token) == [second, event_id]
        assert (await api(b, "GET", "/api/v1/me/feed"))[0] == 401
    finally:
        await a.stop()
        await b.stop()


async def _accepted(node: Node, local: str, remote: str) -> bool:
    return await state_of(node, local, remote, "out") == "accepted"


class _GancioActor(FakeActor):
    """Gancio's federation actor is an ``Application`` (see the captured gancio-actor.json)."""

    def document(self) -> dict[str, Any]:
        return {**super().document(), "type": "Application", "name": "gancio"}


async def test_gancio_event_appears_in_the_cooperative_calendar(tmp_path: Path) -> None:
    peer = await FakePeer("127.0.0.5").start()
    b = await start_node(tmp_path, "Loosduinen", host="127.0.0.3")
    try:
        gancio = peer.actors["gancio"] = _GancioActor("gancio", peer.base)
        # B's network follows the Gancio instance; Gancio accepts.
        network = await b.network()
        follow_id = await b.rt.follows.follow(network, await b.rt.follows.resolve(gancio.id))
        await wait_for(lambda: [r for r in peer.received if follow_id.encode() in r.body])
        accept = peer.activity(gancio, "Accept", follow_id)
        assert (await peer.post(gancio, b.url + "/inbox", accept))[0] == 202
        await wait_for(lambda: _accepted(b, b.settings.slug, gancio.id))

        # The captured Gancio Create{Event}, re-hosted on the peer (ids and hosts only).
        text = (FIXTURES / "gancio-event-activity.json").read_text()
        text = text.replace("https://demo.gancio.org/federation/u/gancio", gancio.id)
        text = text.replace("https://demo.gancio.org", peer.base)
        activity = json.loads(text)
        status, answer = await peer.post(gancio, b.url + "/inbox", activity)
        assert status == 202, answer
        await b.settle()
        row = await b.rt.db.fetchone(
            "SELECT state, note FROM inbox WHERE activity_id = ?", (activity["id"],)
        )
        assert row["state"] == "done", row["note"]

        event_id = activity["object"]["id"]
        status, calendar = await api(b, "GET", "/api/v1/calendar?from=2021-07-01T00:00:00Z")
        assert status == 200
        [entry] = [e for e in calendar["events"] if e["id"] == event_id]
        assert entry["name"] == "Demo event"
        assert entry["startTime"] == "2021-07-14T17:30:57+02:00"
        assert entry["location"] == "Colosseo"
        assert entry["attributedTo"] == gancio.id and entry["local"] is False
        # Upcoming only by default: a 2021 meetup is not listed from today on.
        status, upcoming = await api(b, "GET", "/api/v1/calendar")
        assert event_id not in [e["id"] for e in upcoming["events"]]

        # Co-operative meetups are listed for signed-in members only.
        start = datetime.now(UTC) + timedelta(days=3)
        private = objects_db.StoredObject(
            id=b.url + "/events/members-only",
            type="Event",
            author=b.network_id,
            local=True,
            visibility="cooperative",
            host=b.settings.host,
            raw=json.dumps({"name": "Members' dinner", "startTime": start.isoformat()}).encode(),
            published=iso(start),
            updated=iso(start),
            name="Members' dinner",
            start_time=iso(start),
        )
        await b.rt.db.write(lambda c: objects_db.save(c, private))
        _, member_token = await add_member(b, "bea")
        status, public_view = await api(b, "GET", "/api/v1/calendar")
        assert private.id not in [e["id"] for e in public_view["events"]]
        status, member_view = await api(b, "GET", "/api/v1/calendar", member_token)
        assert private.id in [e["id"] for e in member_view["events"]]
        assert (await api(b, "GET", "/api/v1/calendar?from=yesterday"))[0] == 400
    finally:
        await b.stop()
        await peer.stop()
