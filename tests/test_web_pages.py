"""The web pages over real HTTP: negotiation, languages, sign-in, CSRF, visibility, hostile content."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from node import cli
from node.web import i18n
from node.web.negotiation import prefers_html_accept
from node.web.sanitize import clean_html, safe_url, text
from nodes import Node, start_node
from web_support import (
    EVIL_HOST,
    PASSWORD,
    csrf_of,
    inert_problems,
    seed,
    session,
    sign_in,
)

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HTML = {"Accept": BROWSER}


@pytest.fixture
async def node(tmp_path: Path):  # type: ignore[no-untyped-def]
    n = await start_node(tmp_path, "zwolle", host="127.0.0.1")
    n.seeded = await seed(n)  # type: ignore[attr-defined]
    yield n
    await n.stop()


# -- pure parts --------------------------------------------------------------------------


def test_negotiation_rules() -> None:
    assert prefers_html_accept(BROWSER)
    assert prefers_html_accept("text/html")
    assert not prefers_html_accept(None)
    assert not prefers_html_accept("*/*")
    assert not prefers_html_accept("application/activity+json")
    assert not prefers_html_accept(
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    )
    assert not prefers_html_accept("application/activity+json, text/html")  # a tie: JSON
    assert not prefers_html_accept("text/html;q=0.1, application/activity+json")
    assert prefers_html_accept("text/html, application/json;q=0.5")


def test_language_choice_and_strings() -> None:
    assert i18n.choose_language("en", "nl", "nl-NL") == "en"  # ?lang= first
    assert i18n.choose_language(None, "en", "nl-NL") == "en"  # then the cookie
    assert i18n.choose_language(None, None, "de-DE, en;q=0.8, nl;q=0.5") == "en"
    assert i18n.choose_language(None, None, "fr") == "nl"  # the default
    assert i18n.choose_language("xx", "yy", "") == "nl"
    assert set(i18n.STRINGS["en"]) == set(i18n.STRINGS["nl"])  # every key in both languages


def test_sanitising_rules() -> None:
    cleaned = str(
        clean_html('<p onclick="x()">hi<script>alert(1)</script></p><a href="javascript:x()">a</a>')
    )
    assert "script" not in cleaned and "onclick" not in cleaned and "javascript" not in cleaned
    assert "<p>hi</p>" in cleaned
    assert str(clean_html("<p>" + "a " * 50_000 + "</p>", 1000)).count("a") < 1100
    assert text("x" * 500, 50).endswith("…") and len(text("x" * 500, 50)) == 50
    assert text("a\u202eb\x00c") == "abc"  # direction overrides and controls go
    assert safe_url("javascript:alert(1)") is None and safe_url("https://ok.example/") is not None
    assert safe_url("https://a b") is None and safe_url("data:text/html,x") is None


# -- over HTTP ---------------------------------------------------------------------------


async def test_content_negotiation(node: Node) -> None:
    s = node.seeded  # type: ignore[attr-defined]
    async with session() as client:
        for path in ("/members/anna", s.public_id.removeprefix(node.url)):
            async with client.get(node.url + path, headers=HTML) as resp:
                assert resp.status == 200
                assert resp.content_type == "text/html"
                assert "Accept" in resp.headers["Vary"]
            async with client.get(
                node.url + path, headers={"Accept": "application/activity+json"}
            ) as resp:
                assert resp.status == 200
                assert resp.content_type == "application/activity+json"
                doc = json.loads(await resp.read())
                assert doc["id"] == node.url + path
        async with client.get(node.url + "/network", headers=HTML, allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "/"
        async with client.get(node.url + "/network") as resp:  # no Accept: JSON, as before
            assert resp.content_type == "application/activity+json"
        async with client.get(node.url + "/members/nobody", headers=HTML) as resp:
            assert resp.status == 404 and resp.content_type == "text/html"


async def test_security_headers(node: Node) -> None:
    async with session() as client:
        for path in ("/", "/board", "/signin", "/static/kantine.css", "/members/anna"):
            async with client.get(node.url + path, headers=HTML) as resp:
                assert resp.status == 200, path
                csp = resp.headers["Content-Security-Policy"]
                assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
                assert "unsafe-inline" not in csp
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
                assert resp.headers["Referrer-Policy"]
        async with client.get(node.url + "/") as resp:
            assert "<script" not in await resp.text()  # the pages need no script at all


async def test_dutch_and_english(node: Node) -> None:
    async with session() as client:
        async with client.get(
            node.url + "/board", headers={"Accept-Language": "en-GB,en;q=0.9"}
        ) as resp:
            body = await resp.text()
            assert '<html lang="en">' in body and "Assignment board" in body
        async with client.get(node.url + "/board", headers={"Accept-Language": "nl-NL"}) as resp:
            body = await resp.text()
            assert '<html lang="nl">' in body and "Opdrachtenbord" in body
        # ?lang= switches and is remembered in a cookie
        async with client.get(
            node.url + "/members?lang=en", headers={"Accept-Language": "nl"}
        ) as resp:
            assert "Member directory" in await resp.text()
        async with client.get(node.url + "/", headers={"Accept-Language": "nl"}) as resp:
            assert '<html lang="en">' in await resp.text()


async def test_sign_in_and_out(node: Node) -> None:
    async with session() as client:
        async with client.get(node.url + "/signin") as resp:
            token = csrf_of(await resp.text())
        bad = {"csrf": token, "username": "anna", "password": "wrong password", "next": "/"}
        async with client.post(node.url + "/signin", data=bad, allow_redirects=False) as resp:
            assert resp.status == 401
            assert "kantine_session" not in resp.cookies
        good = bad | {"password": PASSWORD, "next": "//evil.example/"}
        async with client.post(node.url + "/signin", data=good, allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/"  # never off-site
            cookie = resp.cookies["kantine_session"]
            assert cookie["httponly"] and cookie["samesite"] == "Lax"
        async with client.get(node.url + "/me") as resp:
            page = await resp.text()
            assert resp.status == 200 and "Logo for a bakery" in page
        async with client.post(
            node.url + "/signout", data={"csrf": csrf_of(page)}, allow_redirects=False
        ) as resp:
            assert resp.status == 303
        async with client.get(node.url + "/me", allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"].startswith("/signin")
    row = await node.rt.db.fetchone("SELECT count(*) AS n FROM sessions")
    assert row["n"] == 0


async def test_cross_site_posts_are_refused(node: Node) -> None:
    async with session() as client:
        await sign_in(client, node, "bob")
        async with client.get(node.url + "/me/card") as resp:
            token = csrf_of(await resp.text())
        change = {"csrf": token, "name": "Hacked", "visibility": "public"}
        # another site's page posting with the member's cookie: refused by Origin ...
        evil = {"Origin": "https://evil.example"}
        async with client.post(node.url + "/me/card", data=change, headers=evil) as resp:
            assert resp.status == 403
        async with client.post(
            node.url + "/me/card", data=change, headers={"Referer": "https://evil.example/x"}
        ) as resp:
            assert resp.status == 403
        # ... and by the token, whatever the headers say
        async with client.post(node.url + "/me/card", data=change | {"csrf": "forged"}) as resp:
            assert resp.status == 403
        async with client.post(node.url + "/me/card", data={"name": "Hacked"}) as resp:
            assert resp.status == 403
        for path in ("/board/new", "/signout", "/me/leave", "/board/respond", "/admin/blocks"):
            async with client.post(node.url + path, data={"x": "1"}, headers=evil) as resp:
                assert resp.status == 403, path
        # the sign-in form too (no session yet: its token lives in a cookie of its own)
        async with session() as stranger:
            data = {"username": "bob", "password": PASSWORD, "csrf": "x" * 32}
            async with stranger.post(
                node.url + "/signin", data=data, allow_redirects=False
            ) as resp:
                assert resp.status == 403
        async with client.post(
            node.url + "/me/card", data=change, headers={"Origin": node.url}, allow_redirects=False
        ) as resp:
            assert resp.status == 303  # the same form from our own page goes through
    bob = await node.rt.services["members"].get("bob")
    assert bob.name == "Hacked"


async def test_signed_out_visibility(node: Node) -> None:
    s = node.seeded  # type: ignore[attr-defined]
    async with session() as client:
        async with client.get(node.url + "/board") as resp:
            board = await resp.text()
        assert "Logo for a bakery" in board
        assert "Kitchen cabinets" not in board and "Members only sign painting" not in board
        for object_id in (s.coop_id, s.network_id):
            async with client.get(object_id, headers=HTML) as resp:
                assert resp.status == 404
        async with client.get(node.url + "/", headers=HTML) as resp:
            assert "Kitchen cabinets" not in await resp.text()
        async with client.get(node.url + "/members") as resp:
            directory = await resp.text()
        assert "Anna de Vries" in directory and "Cleo Secret" not in directory
        assert "hiddenskill" not in directory
        async with client.get(node.url + "/members/cleo", headers=HTML) as resp:
            card = await resp.text()
        assert resp.status == 200 and "Cleo Secret" not in card and "Kampen" not in card
        # signed in, the member sees all of it
        await sign_in(client, node, "bob")
        async with client.get(node.url + "/board") as resp:
            board = await resp.text()
        assert "Kitchen cabinets" in board and "Members only sign painting" in board
        async with client.get(node.url + "/members/cleo", headers=HTML) as resp:
            assert "Cleo Secret" in await resp.text()


async def test_board_filters(node: Node) -> None:
    async with session() as client:
        await sign_in(client, node, "bob")
        cases = {
            "?skill=furniture": (
                {"Kitchen cabinets"},
                {"Logo for a bakery", "Members only sign painting"},
            ),
            "?city=Zwolle": ({"Logo for a bakery"}, {"Kitchen cabinets"}),
            "?visibility=network": ({"Members only sign painting"}, {"Logo for a bakery"}),
            f"?network={quote(EVIL_HOST)}": ({"Build our website"}, {"Logo for a bakery"}),
            f"?network={quote(node.settings.host)}&skill=illustration": (
                {"Logo for a bakery"},
                {"Build our website"},
            ),
        }
        for query, (present, absent) in cases.items():
            async with client.get(node.url + "/board" + query) as resp:
                body = await resp.text()
            for title in present:
                assert title in body, (query, title)
            for title in absent:
                assert title not in body, (query, title)
        async with client.get(node.url + "/members?skill=timber") as resp:
            body = await resp.text()
            assert "Bob Bakker" in body and "Anna de Vries" not in body
        async with client.get(node.url + "/members?city=zwolle") as resp:
            body = await resp.text()
            assert "Anna de Vries" in body and "Bob Bakker" not in body


async def test_hostile_remote_content_is_inert(node: Node) -> None:
    s = node.seeded  # type: ignore[attr-defined]
    pages = ["/", "/board", "/members", "/board/item?id=" + quote(s.evil_assignment, safe=""),
             "/board?skill=python", "/members?skill=hacking"]  # fmt: skip
    async with session() as client:
        for signed_in in (False, True):
            if signed_in:
                await sign_in(client, node, "anna")
                pages += ["/me", "/admin"]
            for path in pages:
                async with client.get(node.url + path, headers=HTML) as resp:
                    body = await resp.text()
                assert resp.status == 200, path
                assert inert_problems(body) == [], path
                assert len(body) < 150_000, (path, len(body))  # oversized text is capped
        async with client.get(
            node.url + "/board/item?id=" + quote(s.evil_assignment, safe="")
        ) as resp:
            body = await resp.text()
        assert "Build our website" in body  # the text is shown ...
        assert "We need help." in body and "fine link" in body
        assert "&lt;script&gt;" in body  # ... and the markup in a title as text
        assert body.count("Lorem") < 5000  # 30,000 in the original
        row = await node.rt.db.fetchone(
            "SELECT raw FROM objects WHERE id = ?", (s.evil_assignment,)
        )
        assert b"<script>" in row["raw"]  # the raw document is kept as it came
        async with client.get(node.url + "/members", headers=HTML) as resp:
            body = await resp.text()
        assert "Mallory" in body and "hacking" in body  # the remote card is listed, inert


async def test_member_forms(node: Node) -> None:
    """Card, assignment, respond, accept: what the API does, from forms."""
    async with session() as anna, session() as bob:
        await sign_in(anna, node, "anna")
        await sign_in(bob, node, "bob")
        async with anna.get(node.url + "/board/new") as resp:
            token = csrf_of(await resp.text())
        form = {"csrf": token, "title": "Photos of our shop", "description": "Ten photos.",
                "skills": "photography, #Light", "place": "Zwolle", "deadline": "2031-05-01",
                "budget": "900 EUR", "visibility": "public"}  # fmt: skip
        async with anna.post(node.url + "/board/new", data=form, allow_redirects=False) as resp:
            assert resp.status == 303, await resp.text()
            page_path = resp.headers["Location"].split("?")[0]
        async with anna.post(node.url + "/board/new", data=form | {"budget": "lots"}) as resp:
            assert resp.status == 400 and "budget" in await resp.text()
        async with bob.get(node.url + page_path, headers=HTML) as resp:
            page = await resp.text()
            assert "Photos of our shop" in page and "900 EUR" in page
        respond = {
            "csrf": csrf_of(page),
            "assignment": page_path.rsplit("/", 1)[1],
            "message": "I can do it.",
        }
        async with bob.post(
            node.url + "/board/respond", data=respond, allow_redirects=False
        ) as resp:
            assert resp.status == 303, await resp.text()
        async with anna.get(node.url + page_path, headers=HTML) as resp:
            page = await resp.text()
            assert "I can do it." in page
        offer = await node.rt.db.fetchone("SELECT id FROM offers WHERE state = 'pending'")
        answer = {"csrf": csrf_of(page), "answer": "accept"}
        async with anna.post(
            f"{node.url}/offers/{offer['id']}/answer", data=answer, allow_redirects=False
        ) as resp:
            assert resp.status == 303, await resp.text()
        row = await node.rt.db.fetchone("SELECT state FROM offers WHERE id = ?", (offer["id"],))
        assert row["state"] == "accepted"
        # bob may not edit anna's assignment
        async with bob.get(node.url + page_path + "/edit") as resp:
            assert resp.status == 403
        # bob edits his card, then leaves the network
        async with bob.get(node.url + "/me/card") as resp:
            token = csrf_of(await resp.text())
        card = {"csrf": token, "name": "Bob B.", "city": "Zutphen", "skills": "furniture",
                "links": "Portfolio = https://bob.example/work", "visibility": "cooperative"}  # fmt: skip
        async with bob.post(node.url + "/me/card", data=card, allow_redirects=False) as resp:
            assert resp.status == 303, await resp.text()
        assert (await node.rt.services["members"].get("bob")).profile["city"] == "Zutphen"
        async with bob.post(
            node.url + "/me/leave", data={"csrf": token, "confirm": "nope"}
        ) as resp:
            assert resp.status == 400
        async with bob.post(
            node.url + "/me/leave", data={"csrf": token, "confirm": "bob"}, allow_redirects=False
        ) as resp:
            assert resp.status == 303
        async with bob.get(node.url + "/members/bob", headers=HTML) as resp:
            assert resp.status == 410
        async with bob.get(node.url + "/me", allow_redirects=False) as resp:
            assert resp.status == 303  # signed out


async def test_admin_area(node: Node) -> None:
    async with session() as client:
        await sign_in(client, node, "bob")
        async with client.get(node.url + "/admin") as resp:
            assert resp.status == 403
    async with session() as client:
        await sign_in(client, node, "anna")
        async with client.get(node.url + "/admin") as resp:
            page = await resp.text()
            assert resp.status == 200 and "127.0.0.66" in page  # a partner
        data = {"csrf": csrf_of(page), "host": "Spam.Example", "reason": "spam", "action": "block"}
        async with client.post(
            node.url + "/admin/blocks", data=data, allow_redirects=False
        ) as resp:
            assert resp.status == 303
        row = await node.rt.db.fetchone(
            "SELECT reason FROM domain_blocks WHERE host = 'spam.example'"
        )
        assert row["reason"] == "spam"
        log = await node.rt.db.fetchone("SELECT count(*) AS n FROM moderation_log")
        assert log["n"] >= 1  # the decision is in the moderation log
        async with client.post(node.url + "/admin/blocks", data=data | {"host": "a b"}) as resp:
            assert resp.status == 400
        async with client.post(
            node.url + "/admin/deliveries/retry", data={"csrf": data["csrf"]}, allow_redirects=False
        ) as resp:
            assert resp.status == 303


def test_cli_passwd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    data = str(tmp_path / "n")
    assert (
        cli.main(["init", "--data", data, "--url", "http://127.0.0.9:8080", "--name", "Z", "--dev"])
        == 0
    )
    assert cli.main(["member", "add", "eva", "--name", "Eva", "--data", data]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["member", "passwd", "eva", "--password-stdin", "--data", data]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert cli.main(["member", "passwd", "eva", "--password-stdin", "--data", data]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert cli.main(["member", "passwd", "nobody", "--password-stdin", "--data", data]) == 1
    out = capsys.readouterr()
    assert "set the password of eva" in out.out and "at least" in out.err
