"""Meetup pages in a real headless Chromium (Debian's package, driven by Playwright), set up
as tests/test_browser.py does: a member signs in, RSVPs and sees the places change; a
hostile partner's meetup stays inert on the meetup and calendar pages. Screenshots of the
meetup and calendar pages go to docs/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from browser_support import Browser, Page, browser_fixture, shot  # noqa: F401 (fixture)
from node.content.event_docs import EventSpec, PlaceSpec
from nodes import FakeClock, Node, start_node
from web_support import EVIL, PASSWORD, seed

#: A fixed time, so screenshots show the same dates on every run.
START = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
AMS = ZoneInfo("Europe/Amsterdam")


async def _node(tmp_path: Path, *, hostile: bool) -> Node:
    node = await start_node(tmp_path, "zwolle", host="127.0.0.1", clock=FakeClock(START))
    await seed(node, hostile=hostile)
    await node.rt.services["members"].set_role("bob", "organiser", by=None)
    start = datetime(2025, 6, 4, 19, 30, tzinfo=AMS)
    spec = EventSpec(
        title="Open Coffee Zwolle", timezone="Europe/Amsterdam",
        description="Koffie, en wie je nog niet kende.\n\nIedereen is welkom; neem je vragen mee.",
        place=PlaceSpec(name="De Kantine", street_address="Oosterstraat 1",
                        postal_code="8011 AA", address_locality="Zwolle"),
        capacity=5, waitlist=True, organizers=[node.url + "/members/bob"],
    )  # fmt: skip
    events = node.rt.services["events"]
    ev = await events.create(spec, start, start + timedelta(hours=2))
    members = {m.username: m for m in await node.rt.services["members"].members()}
    for name in ("bob", "cleo"):
        await events.rsvp(members[name], ev.id)
    await events.series.create(
        EventSpec(title="Werkochtend", timezone="Europe/Amsterdam", online="https://meet.example/werk",
                  organizers=[node.url + "/members/bob"]),
        datetime(2025, 6, 6, 9, 0, tzinfo=AMS), datetime(2025, 6, 6, 12, 0, tzinfo=AMS),
        "FREQ=WEEKLY;BYDAY=FR", horizon_days=20,
    )  # fmt: skip
    node.meetup = ev  # type: ignore[attr-defined]
    return node


async def _shot(page: Page, name: str) -> None:
    await shot(page, name)


async def test_member_rsvps_and_sees_places_change(browser: Browser, tmp_path: Path) -> None:
    node = await _node(tmp_path, hostile=False)
    try:
        ev = node.meetup  # type: ignore[attr-defined]
        context = await browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB")
        context.set_default_timeout(15_000)
        page = await context.new_page()
        await page.goto(f"{node.url}/events/{ev.ident}")
        assert await page.inner_text("h1") == "Open Coffee Zwolle"
        assert await page.inner_text("#places") == "3 of 5 places left"
        assert "RSVP from your own server" in await page.inner_text("main")

        await page.click("text=Sign in to RSVP")
        await page.fill("#username", "anna")
        await page.fill("#password", PASSWORD)
        await page.click("form.narrow button[type=submit]")
        await page.wait_for_url(f"{node.url}/events/{ev.ident}")
        await page.click("#rsvp-button")
        await page.wait_for_url("**notice=rsvp_accepted")
        assert await page.inner_text("#places") == "2 of 5 places left"
        assert await page.inner_text("#my-rsvp") == "You are coming."
        assert "You are coming. See you there!" in await page.inner_text("p.notice")
        await _shot(page, "meetup")

        await page.click("header nav >> text=Meetups")
        await page.wait_for_url(node.url + "/calendar")
        calendar = await page.inner_text("main")
        assert "Open Coffee Zwolle" in calendar and "2 of 5 places left" in calendar
        assert "Freelancers' breakfast Deventer" in calendar and "ZZP Deventer" in calendar
        assert "Werkochtend" in calendar
        await _shot(page, "calendar")

        await page.goto(f"{node.url}/events/{ev.ident}")
        await page.click("text=I can't come after all")
        await page.wait_for_url("**notice=rsvp_left")
        assert await page.inner_text("#places") == "3 of 5 places left"
        await context.close()
    finally:
        await node.stop()


async def test_hostile_meetup_stays_inert(browser: Browser, tmp_path: Path) -> None:
    node = await _node(tmp_path, hostile=True)
    try:
        context = await browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB")
        context.set_default_timeout(15_000)
        page = await context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        evil = f"{EVIL}/events/evil-meetup"
        for url in (f"{node.url}/calendar", f"{node.url}/calendar/event?id={quote(evil, safe='')}"):
            await page.goto(url)
            text = await page.inner_text("main")
            assert "Evil meetup" in text and "<script>" in text  # shown as text
            for selector in ("a:has-text('Evil meetup')", "text=Somewhere"):
                if await page.locator(selector).count():
                    await page.locator(selector).first.hover()
            assert await page.evaluate("typeof window.pwned") == "undefined"
            assert await page.locator("main script, main img, main iframe").count() == 0
        assert dialogs == []
        await context.close()
    finally:
        await node.stop()
