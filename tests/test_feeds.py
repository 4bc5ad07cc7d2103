"""iCalendar and Atom feeds, read back by independent parsers (icalendar,
recurring-ical-events, feedparser): the right events, in the right time zones, cancelled
ones marked, hostile text made harmless, and nothing that is not public in public feeds."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import feedparser
import icalendar
import pytest
import recurring_ical_events

from node.clock import iso
from node.content.event_docs import EventSpec, PlaceSpec
from node.content.ingest import stored_from_document
from node.storage import objects as objects_db
from nodes import FakeClock, Node, start_node
from web_support import EVIL, SCRIPT, csrf_of, inert_problems, seed, session, sign_in

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
AMS = ZoneInfo("Europe/Amsterdam")
NYC = ZoneInfo("America/New_York")


def spec(title: str, **kw: object) -> EventSpec:
    fields: dict[str, object] = {"title": title, "timezone": "Europe/Amsterdam"} | kw
    return EventSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def node(tmp_path: Path):  # type: ignore[no-untyped-def]
    n = await start_node(tmp_path, "zwolle", host="127.0.0.1", clock=FakeClock(NOW))
    await seed(n, hostile=True)
    svc = n.rt.services["events"]
    place = PlaceSpec(name="De Kantine", street_address="Oosterstraat 1", postal_code="8911 AA",
                      address_locality="Leeuwarden")  # fmt: skip
    start = datetime(2030, 3, 6, 19, 0, tzinfo=AMS)
    ids = {}
    ev = await svc.create(
        spec("Open Coffee", place=place, capacity=5), start, start + timedelta(hours=2)
    )
    ids["coffee"] = ev.ident
    ny = datetime(2030, 3, 10, 18, 30, tzinfo=NYC)  # New York is on summer time already, Europe not
    ev = await svc.create(spec("Meetup in New York", timezone="America/New_York"), ny, None)
    ids["ny"] = ev.ident
    ev = await svc.create(spec("Called off", place=place), start + timedelta(days=1), None)
    await svc.cancel(ev)
    ids["cancelled"] = ev.ident
    ev = await svc.create(spec("Co-op only", visibility="cooperative"), start, None)
    ids["coop"] = ev.ident
    ev = await svc.create(spec("Members only", visibility="network"), start, None)
    ids["network"] = ev.ident
    # A partner's co-operative meetup, kept as ingestion keeps non-public content.
    doc = {"id": f"{EVIL}/events/coop1", "type": "Event", "name": "Partner co-op meetup",
           "startTime": "2030-03-07T10:00:00+01:00", "attributedTo": f"{EVIL}/network"}  # fmt: skip
    row = stored_from_document(doc, local=False, visibility="cooperative", origin_actor=None,
                               now=iso(NOW))  # fmt: skip
    await n.rt.db.write(lambda c: objects_db.save(c, row))
    n.ids = ids  # type: ignore[attr-defined]
    yield n
    await n.stop()


async def _get(node: Node, path: str, client=None) -> tuple[int, str, bytes]:  # type: ignore[no-untyped-def]
    if client is None:
        async with session() as c:
            return await _get(node, path, c)
    async with client.get(node.url + path) as resp:
        return resp.status, resp.content_type, await resp.read()


def _events(body: bytes) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(body)
    found = recurring_ical_events.of(cal).between(datetime(2029, 1, 1), datetime(2031, 1, 1))
    return {str(e["SUMMARY"]): e for e in found}


async def test_network_calendar(node: Node) -> None:
    status, ctype, body = await _get(node, "/feeds/calendar.ics")
    assert status == 200 and ctype == "text/calendar"
    events = _events(body)
    assert {"Open Coffee", "Meetup in New York", "Called off"} <= set(events)
    # Not public: never in the public calendar (ours or a partner's).
    assert not {"Co-op only", "Members only", "Partner co-op meetup"} & set(events)
    coffee = events["Open Coffee"]
    start = coffee["DTSTART"].dt
    assert start.tzinfo.key == "Europe/Amsterdam" and (start.hour, start.minute) == (19, 0)
    assert coffee["DTEND"].dt == datetime(2030, 3, 6, 21, 0, tzinfo=AMS)
    assert "Oosterstraat 1" in str(coffee["LOCATION"])
    assert str(coffee["STATUS"]) == "CONFIRMED"
    assert str(coffee["UID"]) == f"{node.url}/events/{node.ids['coffee']}"  # type: ignore[attr-defined]
    ny = events["Meetup in New York"]["DTSTART"].dt
    assert ny.tzinfo.key == "America/New_York" and ny.hour == 18
    assert ny.astimezone(UTC) == datetime(2030, 3, 10, 22, 30, tzinfo=UTC)
    assert str(events["Called off"]["STATUS"]) == "CANCELLED"
    cal = icalendar.Calendar.from_ical(body)
    zones = {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
    assert zones == {"Europe/Amsterdam", "America/New_York"}
    assert b"DTSTART;TZID=Europe/Amsterdam:20300306T190000" in body


async def test_hostile_remote_event_in_calendar(node: Node) -> None:
    _, _, body = await _get(node, "/feeds/calendar.ics")
    events = _events(body)
    evil = next(e for name, e in events.items() if "Evil meetup" in name)
    assert SCRIPT in str(evil["SUMMARY"])  # plain text in a calendar: shown, never run
    assert all(ord(ch) >= 32 for line in body.decode().splitlines() for ch in line)


async def test_one_meetup_and_visibility(node: Node) -> None:
    ids = node.ids  # type: ignore[attr-defined]
    status, _, body = await _get(node, f"/feeds/events/{ids['coffee']}.ics")
    assert status == 200 and list(_events(body)) == ["Open Coffee"]
    for hidden in ("coop", "network"):
        status, _, _ = await _get(node, f"/feeds/events/{ids[hidden]}.ics")
        assert status == 404
    async with session() as client:  # a member of this network (a browser with a session)
        await sign_in(client, node, "bob")
        status, _, body = await _get(node, f"/feeds/events/{ids['coop']}.ics", client)
        assert status == 200 and list(_events(body)) == ["Co-op only"]
    status, _, body = await _get(node, "/feeds/event.ics?id=" + f"{EVIL}/events/evil-meetup")
    assert status == 200 and len(_events(body)) == 1


async def test_series_keeps_wall_time_across_daylight_saving(node: Node) -> None:
    svc = node.rt.services["events"]
    first = datetime(2030, 3, 5, 19, 0, tzinfo=AMS)  # before the clocks go forward (31 March)
    _, occurrences = await svc.series.create(
        spec("Monthly coffee"), first, first + timedelta(hours=2), "FREQ=WEEKLY;BYDAY=TU",
        horizon_days=40,
    )  # fmt: skip
    assert len(occurrences) >= 5
    _, _, body = await _get(node, "/feeds/calendar.ics")
    cal = icalendar.Calendar.from_ical(body)
    found = recurring_ical_events.of(cal).between(datetime(2030, 3, 1), datetime(2030, 4, 15))
    starts = [e["DTSTART"].dt for e in found if str(e["SUMMARY"]) == "Monthly coffee"]
    assert len(starts) == len(occurrences)
    assert {(s.hour, s.minute) for s in starts} == {(19, 0)}
    offsets = {s.utcoffset() for s in starts}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}  # CET, then CEST


async def test_member_calendar_token(node: Node) -> None:
    ids = node.ids  # type: ignore[attr-defined]
    svc = node.rt.services["events"]
    bob = await node.rt.services["members"].get("bob")
    await svc.rsvp(bob, f"{node.url}/events/{ids['coop']}")
    async with session() as client:
        await sign_in(client, node, "bob")
        async with client.get(node.url + "/me/calendar") as resp:
            token = csrf_of(await resp.text())
        async with client.post(
            node.url + "/me/calendar", data={"csrf": token, "action": "new"}
        ) as resp:
            page = await resp.text()
        url = re.search(r'id="calendar-url">([^<]+)<', page).group(1)  # type: ignore[union-attr]
        assert url.startswith(node.url + "/feeds/private/") and url.endswith(".ics")
        row = await node.rt.db.fetchone("SELECT token_hash FROM calendar_tokens")
        assert row["token_hash"] not in url  # only the hash is kept
        async with client.get(url) as resp:
            assert resp.status == 200 and resp.headers["Cache-Control"] == "private, no-store"
            events = _events(await resp.read())
        # bob's RSVP (a co-operative meetup) and the network's meetups, members-only ones too
        assert {"Co-op only", "Open Coffee", "Members only"} <= set(events)
        async with client.post(
            node.url + "/me/calendar", data={"csrf": token, "action": "new"}
        ) as resp:
            newer = re.search(r'id="calendar-url">([^<]+)<', await resp.text()).group(1)  # type: ignore[union-attr]
        async with client.get(url) as resp:
            assert resp.status == 404  # the old link stopped working
        async with client.post(
            node.url + "/me/calendar", data={"csrf": token, "action": "revoke"}
        ) as resp:
            assert resp.status == 200
        async with client.get(newer) as resp:
            assert resp.status == 404
    status, _, _ = await _get(node, "/feeds/private/" + "x" * 43 + ".ics")
    assert status == 404


async def test_atom_feeds(node: Node) -> None:
    status, ctype, body = await _get(node, "/feeds/meetups.atom")
    assert status == 200 and ctype == "application/atom+xml"
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.bozo_exception
    titles = [e.title for e in feed.entries]
    assert "Open Coffee" in titles and "CANCELLED: Called off" in titles
    assert not {"Co-op only", "Members only", "Partner co-op meetup"} & set(titles)
    coffee = next(e for e in feed.entries if e.title == "Open Coffee")
    assert coffee.link == f"{node.url}/events/{node.ids['coffee']}"  # type: ignore[attr-defined]
    assert "Europe/Amsterdam" in coffee.summary
    evil = next(e for e in feed.entries if "Evil meetup" in e.title)
    assert evil.link.startswith(node.url + "/calendar/event?id=")

    status, ctype, body = await _get(node, "/feeds/assignments.atom")
    assert status == 200 and ctype == "application/atom+xml"
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.bozo_exception
    titles = [e.title for e in feed.entries]
    assert "Logo for a bakery" in titles
    assert "Kitchen cabinets" not in titles and "Members only sign painting" not in titles
    evil = next(e for e in feed.entries if "Build our website" in e.title)
    assert len(evil.content[0].value) < 30_000  # the bulk is capped
    # What a reader renders as HTML (content) is cleaned; the rest is text (escaped, inert).
    root = ElementTree.fromstring(body)
    for element in root.iter():
        kind = element.get("type")
        if element.tag == ATOM + "content":
            assert kind == "html"
            assert not inert_problems(element.text or ""), element.text[:200]
        elif element.tag in (ATOM + "title", ATOM + "summary"):
            assert kind in (None, "text")


async def test_feeds_with_authorized_fetch(tmp_path: Path) -> None:
    """Calendar apps and feed readers cannot sign their GETs: feeds stay readable."""
    n = await start_node(tmp_path, "closed", host="127.0.0.1", authorized_fetch=True)
    try:
        for path in ("/feeds/calendar.ics", "/feeds/meetups.atom", "/feeds/assignments.atom"):
            status, _, _ = await _get(n, path)
            assert status == 200, path
        async with session() as client, client.get(n.url + "/network") as resp:
            assert resp.status == 401  # ActivityStreams documents still need a signature
    finally:
        await n.stop()
