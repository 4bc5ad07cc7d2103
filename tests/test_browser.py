"""The web pages in a real headless Chromium (Debian's package, driven by Playwright).

A visitor browses, a member signs in and filters the board, both languages render, and a
hostile partner's content stays inert. Screenshots of the main pages go to docs/screenshots/.
Outside CI a machine without Chromium skips these; in CI (``CI`` set) they fail instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from browser_support import Browser, BrowserContext, Page, browser_fixture, shot  # noqa: F401 (fixture)
from nodes import FakeClock, Node, start_node
from web_support import EVIL_HOST, FRIEND_HOST, PASSWORD, seed

#: A fixed time, so screenshots show the same dates on every run.
START = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


async def _node(tmp_path: Path, *, hostile: bool) -> Node:
    node = await start_node(tmp_path, "zwolle", host="127.0.0.1", clock=FakeClock(START))
    await seed(node, hostile=hostile)
    return node


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    n = await _node(tmp_path, hostile=False)
    yield n
    await n.stop()


async def _context(browser: Browser, **kw: Any) -> BrowserContext:
    context = await browser.new_context(viewport={"width": 1100, "height": 900}, **kw)
    context.set_default_timeout(15_000)
    return context


async def _shot(page: Page, name: str) -> None:
    await shot(page, name)


async def _sign_in(page: Page, node: Node, username: str) -> None:
    await page.goto(node.url + "/signin?next=/me")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("form.narrow button[type=submit]")
    await page.wait_for_url(node.url + "/me")


async def test_visitor_browses(browser: Browser, node: Node) -> None:
    context = await _context(browser, locale="nl-NL")
    page = await context.new_page()
    await page.goto(node.url + "/")
    assert await page.inner_text("h1") == "zwolle"
    assert await page.get_attribute("html", "lang") == "nl"
    meetups = await page.inner_text("ul.meetups")
    assert "Monthly meetup Zwolle" in meetups and "Freelancers' breakfast Deventer" in meetups
    assert "ZZP Deventer" in meetups  # a followed network's meetup, marked by network
    assert "Logo for a bakery" in await page.inner_text("main")
    assert "Kitchen cabinets" not in await page.inner_text("main")  # co-operative only
    await _shot(page, "home")

    await page.click("header nav >> text=Opdrachten")
    await page.wait_for_url(node.url + "/board")
    board = await page.inner_text("main")
    assert "Accessible website for a food co-op" in board and "Logo for a bakery" in board
    await _shot(page, "board")

    await page.click("text=Logo for a bakery")
    assert await page.inner_text("h1") == "Logo for a bakery"
    assert "Log in om te reageren" in await page.inner_text("main")
    await _shot(page, "assignment")

    await page.click("header nav >> text=Leden")
    await page.wait_for_url(node.url + "/members")
    directory = await page.inner_text("main")
    assert "Daan Visser" in directory and "Anna de Vries" in directory
    assert "Cleo Secret" not in directory  # a network-only card
    await page.fill("#d-skill", "typography")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**skill=typography**")
    assert "Bob Bakker" not in await page.inner_text("main")
    await _shot(page, "directory")

    await page.click("text=Anna de Vries")
    await page.wait_for_url(node.url + "/members/anna")
    assert "Illustrator." in await page.inner_text("main")
    await _shot(page, "member")

    phone = await browser.new_context(viewport={"width": 390, "height": 844}, locale="nl-NL",
                                      device_scale_factor=2, is_mobile=True)  # fmt: skip
    small = await phone.new_page()
    await small.goto(node.url + "/")
    width = await small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the home page scrolls sideways on a phone ({width}px)"
    await _shot(small, "home-phone")
    await phone.close()
    await context.close()


async def test_member_signs_in_and_filters(browser: Browser, node: Node) -> None:
    context = await _context(browser, locale="en-GB")
    page = await context.new_page()
    await page.goto(node.url + "/signin")
    await _shot(page, "signin")
    await page.fill("#username", "anna")
    await page.fill("#password", "not the password")
    await page.click("form.narrow button[type=submit]")
    assert "do not match" in await page.inner_text("main")
    await _sign_in(page, node, "anna")
    assert "My assignments" in await page.inner_text("main")
    cookies = {c["name"]: c for c in await context.cookies()}
    assert (
        cookies["kantine_session"]["httpOnly"] and cookies["kantine_session"]["sameSite"] == "Lax"
    )

    await page.goto(node.url + "/board")
    assert "Kitchen cabinets" in await page.inner_text("main")  # members see co-operative work
    await page.select_option("#f-skill", "furniture")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**skill=furniture**")
    titles = await page.locator("article.assignment h3").all_inner_texts()
    assert titles == ["Kitchen cabinets"]
    await page.goto(node.url + "/board")
    await page.select_option("#f-network", FRIEND_HOST)
    await page.click("form.filters button[type=submit]")
    assert await page.locator("article.assignment h3").all_inner_texts() == [
        "Accessible website for a food co-op"
    ]
    await page.goto(node.url + "/board")
    await page.select_option("#f-visibility", "network")
    await page.click("form.filters button[type=submit]")
    assert await page.locator("article.assignment h3").all_inner_texts() == [
        "Members only sign painting"
    ]
    await page.goto(node.url + "/board")
    await page.select_option("#f-city", "Deventer")
    await page.click("form.filters button[type=submit]")
    assert set(await page.locator("article.assignment h3").all_inner_texts()) == {
        "Kitchen cabinets", "Accessible website for a food co-op",
    }  # fmt: skip

    # post an assignment from the form, and see it on the board
    await page.goto(node.url + "/board/new")
    await page.fill("#title", "Flyers for the summer fair")
    await page.fill("#description", "Two sides, A5.")
    await page.fill("#skills", "illustration, print")
    await page.fill("#place", "Zwolle")
    await page.check("#vis-public")
    await page.click("form.form button[type=submit]")
    await page.wait_for_url("**/assignments/**")
    assert await page.inner_text("h1") == "Flyers for the summer fair"
    assert "Your assignment is published." in await page.inner_text("main")

    await page.goto(node.url + "/admin")
    assert "Delivery queue" in await page.inner_text("main")
    assert "ZZP Deventer" in await page.inner_text("main") or FRIEND_HOST in await page.inner_text(
        "main"
    )
    await _shot(page, "admin")

    await page.goto(node.url + "/me")
    await _shot(page, "me")
    await page.click("header .account button")  # sign out (a POST form with its token)
    await page.wait_for_url(node.url + "/?notice=signed_out")
    assert "You are signed out." in await page.inner_text("main")
    await context.close()


async def test_dutch_and_english(browser: Browser, node: Node) -> None:
    context = await _context(browser, locale="en-US")
    page = await context.new_page()
    await page.goto(node.url + "/board")
    assert await page.inner_text("h1") == "Assignment board"
    assert await page.get_attribute("html", "lang") == "en"
    await page.click("a[hreflang=nl]")
    assert await page.inner_text("h1") == "Opdrachtenbord"
    await page.goto(node.url + "/members")  # the choice is remembered
    assert await page.inner_text("h1") == "Ledenoverzicht"
    await page.click("a[hreflang=en]")
    assert await page.inner_text("h1") == "Member directory"
    await context.close()


async def test_hostile_content_is_inert(browser: Browser, tmp_path: Path) -> None:
    node = await _node(tmp_path, hostile=True)
    try:
        context = await _context(browser, locale="en-GB")
        page = await context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        await _sign_in(page, node, "anna")
        paths = ["/", "/board", "/members", "/board?network=" + EVIL_HOST.replace(":", "%3A"),
                 "/board/item?id=http%3A%2F%2F" + EVIL_HOST.replace(":", "%3A") + "%2Fassignments%2Fevil1",
                 "/admin", "/me"]  # fmt: skip
        for path in paths:
            await page.goto(node.url + path)
            for link in await page.locator("main a").all():
                await link.hover(timeout=2000)  # handlers would fire on hover
            assert await page.evaluate("typeof window.pwned") == "undefined", path
            assert await page.locator("script, iframe, img").count() == 0, path
            hrefs = await page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
            assert all(h.startswith(("http:", "https:", "mailto:")) for h in hrefs), path
        await page.goto(node.url + paths[4])
        shown = await page.inner_text("main")
        assert "<script>" in shown  # the markup of a title is shown as text ...
        assert "We need help." in shown and len(shown) < 60_000  # ... and bulk is capped
        assert dialogs == []
        await context.close()
    finally:
        await node.stop()
