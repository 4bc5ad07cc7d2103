"""The meetup, calendar, project and networks pages over HTTP: content negotiation, RSVP,
organisers' forms (with recurrence), hostile remote meetups shown inert, and visibility."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from node.content.event_docs import EventSpec, PlaceSpec
from node.storage import events as events_db
from node.web import i18n, meetup_strings
from nodes import FakeClock, Node, start_node
from web_support import EVIL, SCRIPT, csrf_of, inert_problems, seed, session, sign_in

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
AS = {"Accept": "application/activity+json"}
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
AMS = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
async def node(tmp_path: Path):  # type: ignore[no-untyped-def]
    n = await start_node(tmp_path, "zwolle", host="127.0.0.1", clock=FakeClock(NOW))
    await seed(n, hostile=True)
    members = n.rt.services["members"]
    await members.set_role("bob", "organiser", by=None)
    start = datetime(2030, 3, 6, 19, 0, tzinfo=AMS)
    place = PlaceSpec(name="De Kantine", street_address="Oosterstraat 1", postal_code="8911 AA",
                      address_locality="Leeuwarden")  # fmt: skip
    ev = await n.rt.services["events"].create(
        EventSpec(title="Open Coffee", timezone="Europe/Amsterdam", place=place, capacity=3,
                  description="Koffie.\n\nEn wie je nog niet kende.",
                  organizers=[n.url + "/members/bob"]),
        start, start + timedelta(hours=2),
    )  # fmt: skip
    n.coffee = ev  # type: ignore[attr-defined]
    secret = await n.rt.services["events"].create(
        EventSpec(title="Members-only dinner", timezone="Europe/Amsterdam", visibility="network"),
        start, None,
    )  # fmt: skip
    n.secret = secret  # type: ignore[attr-defined]
    yield n
    await n.stop()


async def _page(client, url: str, status: int = 200) -> str:  # type: ignore[no-untyped-def]
    async with client.get(url, headers=HTML) as resp:
        body = await resp.text()
        assert resp.status == status, body[:500]
        return body


def test_strings_in_both_languages() -> None:
    assert set(meetup_strings.EN) == set(meetup_strings.NL)
    meetup_strings.install()  # again: harmless
    assert set(i18n.STRINGS["en"]) == set(i18n.STRINGS["nl"])


async def test_negotiation_for_events_and_projects(node: Node) -> None:
    await node.rt.services["projects"].create(
        "werkplaats", "Werkplaats", "Een gedeelde werkplaats."
    )
    ev = node.coffee  # type: ignore[attr-defined]
    async with session() as client:
        for path, kind in ((f"/events/{ev.ident}", "Event"), ("/projects/werkplaats", "Group")):
            async with client.get(node.url + path, headers=HTML) as resp:
                assert resp.status == 200 and resp.content_type == "text/html"
                assert "Accept" in resp.headers["Vary"]
            async with client.get(node.url + path, headers=AS) as resp:
                assert resp.status == 200 and resp.content_type == "application/activity+json"
                assert json.loads(await resp.read())["type"] == kind
        async with client.get(node.url + "/events/nothing-here", headers=HTML) as resp:
            assert resp.status == 404 and resp.content_type == "text/html"


async def test_meetup_page_and_rsvp(node: Node) -> None:
    ev = node.coffee  # type: ignore[attr-defined]
    url = f"{node.url}/events/{ev.ident}?lang=en"
    async with session() as client:
        page = await _page(client, url)
        assert "Open Coffee" in page and "Wed 6 March 2030, 19:00\u201321:00" in page
        assert "(Europe/Amsterdam)" in page and "Oosterstraat 1" in page
        assert "https://www.openstreetmap.org/search?query=" in page
        assert "Bob Bakker" in page and "3 of 3 places left" in page
        assert f"/feeds/events/{ev.ident}.ics" in page
        assert 'action="/interact"' in page  # RSVP from your own server, for visitors
        await sign_in(client, node, "anna")
        page = await _page(client, url)
        form = {"csrf": csrf_of(page), "event": ev.id, "action": "join"}
        async with client.post(node.url + "/rsvp", data=form, allow_redirects=False) as resp:
            assert resp.status == 303
            assert resp.headers["Location"] == f"/events/{ev.ident}?notice=rsvp_accepted"
        page = await _page(client, url)
        assert "2 of 3 places left" in page and "You are coming." in page
        form["action"] = "leave"
        async with client.post(node.url + "/rsvp", data=form, headers=HTML) as resp:
            assert "3 of 3 places left" in await resp.text()
        form["csrf"] = "forged"
        async with client.post(node.url + "/rsvp", data=form, headers=HTML) as resp:
            assert resp.status == 403


async def test_organiser_forms(node: Node) -> None:
    async with session() as client:
        await sign_in(client, node, "cleo")  # a plain member
        await _page(client, node.url + "/meetups/new", 403)
    async with session() as client:
        await sign_in(client, node, "bob")
        page = await _page(client, node.url + "/meetups/new?lang=en")
        form = {
            "csrf": csrf_of(page), "title": "Breakfast club", "description": "Eggs.",
            "date": "2030-03-05", "start_time": "08:00", "end_time": "09:30",
            "timezone": "Europe/Amsterdam", "place_name": "Café", "city": "Zwolle",
            "capacity": "10", "waitlist": "yes", "join_mode": "free", "visibility": "public",
            "repeat": "monthly_weekday", "until": "2030-05-31",
        }  # fmt: skip
        async with client.post(node.url + "/meetups/new", data=form, allow_redirects=False) as resp:
            assert resp.status == 303, await resp.text()
            assert resp.headers["Location"].endswith("notice=series_created")
        series = await events_db.list_series(node.rt.db)
        assert [s.rrule for s in series] == ["FREQ=MONTHLY;BYDAY=1TU;UNTIL=20300531T235959"]
        occurrences = await events_db.list_events(node.rt.db, series=series[0].id)
        assert [e.start_time[:10] for e in occurrences] == ["2030-03-05", "2030-04-02"]
        first = occurrences[0]
        page = await _page(client, f"{node.url}/events/{first.ident}/edit?lang=en")
        form.update(csrf=csrf_of(page), title="Breakfast club (new café)", start_time="08:30",
                    series_too="yes", status="EventScheduled")  # fmt: skip
        async with client.post(
            f"{node.url}/events/{first.ident}/edit", data=form, headers=HTML
        ) as resp:
            assert resp.status == 200
            page = await resp.text()
            assert "Breakfast club (new café)" in page and "08:30" in page
        later = await events_db.get_event(node.rt.db, occurrences[1].id)
        assert later is not None and later.spec["title"] == "Breakfast club (new café)"
        bad = dict(form, date="not a date")
        async with client.post(
            f"{node.url}/events/{first.ident}/edit", data=bad, headers=HTML
        ) as resp:
            assert resp.status == 400 and "Give a date." in await resp.text()
        cancel = {"csrf": form["csrf"], "confirm": "yes"}
        async with client.post(
            f"{node.url}/events/{first.ident}/cancel", data=cancel, headers=HTML
        ) as resp:
            assert "This meetup is cancelled." in await resp.text()
        async with client.get(f"{node.url}/feeds/events/{first.ident}.ics") as resp:
            assert b"STATUS:CANCELLED" in await resp.read()
        # anna (admin) may manage it too; cleo may not edit
    async with session() as client:
        await sign_in(client, node, "cleo")
        await _page(client, f"{node.url}/events/{first.ident}/edit", 403)


async def test_hostile_remote_meetup_is_inert(node: Node) -> None:
    evil = f"{EVIL}/events/evil-meetup"
    async with session() as client:
        for url in (
            node.url + "/calendar/event?id=" + quote(evil, safe=""),
            node.url + "/calendar",
            node.url + "/",
        ):
            page = await _page(client, url)
            assert "Evil meetup" in page
            assert not inert_problems(page), (url, inert_problems(page))
            assert SCRIPT not in page  # shown as text (escaped), never as a tag
    # A partner meetup with a long hostile description, bad links and a fake time zone.
    from node.clock import iso
    from node.content.ingest import stored_from_document
    from node.storage import objects as objects_db

    doc = {
        "id": f"{EVIL}/events/evil2", "type": "Event", "name": "X" * 10_000,
        "startTime": "2030-03-08T10:00:00+01:00", "timezone": "../../etc/passwd",
        "attributedTo": f"{EVIL}/network",
        "content": "<p onclick=alert(1)>hi</p><script>x()</script>" + "<p>bulk</p>" * 20_000,
        "location": [{"type": "VirtualLocation", "url": "javascript:alert(1)"},
                     {"type": "Place", "name": "<img src=x onerror=alert(1)>", "latitude": "1e999"}],
        "url": "javascript:alert(2)", "maximumAttendeeCapacity": "many",
    }  # fmt: skip
    row = stored_from_document(doc, local=False, visibility="public", origin_actor=None,
                               now=iso(NOW))  # fmt: skip
    await node.rt.db.write(lambda c: objects_db.save(c, row))
    async with session() as client:
        page = await _page(client, node.url + "/calendar/event?id=" + quote(doc["id"], safe=""))
        assert not inert_problems(page) and "javascript:" not in page
        assert "X" * 300 not in page and "(UTC)" in page
        assert len(page) < 80_000


async def test_visibility_and_home(node: Node) -> None:
    secret = node.secret  # type: ignore[attr-defined]
    async with session() as client:
        home = await _page(client, node.url + "/?lang=en")
        assert "Open Coffee" in home and "Members-only dinner" not in home
        assert "Freelancers" not in home  # the hostile seed: the partner network is "Evil…"
        assert "3 of 3 places left" in home
        calendar = await _page(client, node.url + "/calendar?lang=en")
        assert "Members-only dinner" not in calendar and "Open Coffee" in calendar
        await _page(client, f"{node.url}/events/{secret.ident}", 404)
        await sign_in(client, node, "cleo")
        calendar = await _page(client, node.url + "/calendar?lang=en")
        assert "Members-only dinner" in calendar
        await _page(client, f"{node.url}/events/{secret.ident}")


async def test_project_and_networks_pages(node: Node) -> None:
    projects = node.rt.services["projects"]
    await projects.create("werkplaats", "Werkplaats", "Een gedeelde werkplaats.\n\nVoor makers.")
    anna = await node.rt.services["members"].get("anna")
    await projects.join(anna, "werkplaats")
    await projects.post(anna, "werkplaats", "<p>De zaagtafel is er!</p>", name="Nieuws")
    async with session() as client:
        page = await _page(client, node.url + "/projects/werkplaats?lang=en")
        assert "Werkplaats" in page and "Voor makers." in page
        assert "Anna de Vries" in page and "1 taking part" in page
        assert "De zaagtafel is er!" in page
        assert not inert_problems(page)
        page = await _page(client, node.url + "/networks?lang=en")
        assert "We follow" in page and "127.0.0.66:9" in page  # the seeded partner
        assert "<script>" not in page
        await sign_in(client, node, "bob")
        page = await _page(client, node.url + "/projects/werkplaats?lang=en")
        form = {"csrf": csrf_of(page), "action": "join"}
        async with client.post(
            node.url + "/projects/werkplaats/take-part", data=form, headers=HTML
        ) as resp:
            assert "2 taking part" in await resp.text()
