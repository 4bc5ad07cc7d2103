"""Remote interaction between two real nodes on loopback: a member of one network RSVPs to
another network's meetup and follows that network "from their own server" (the OStatus
subscribe template found by WebFinger, then /authorize_interaction at home)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from pathlib import Path
from urllib.parse import quote

import pytest

from node.clock import iso
from node.content.event_docs import EventSpec
from node.content.members.cards import NewMember
from node.storage import events as events_db
from node.storage import follows as follows_db
from node.storage import sessions as sessions_db
from node.web.passwords import hash_password
from nodes import Node, start_node, wait_for
from web_support import PASSWORD, csrf_of, session, sign_in

HTML = {"Accept": "text/html"}


async def _member(node: Node, username: str, name: str) -> None:
    await node.rt.services["members"].add(NewMember(username=username, name=name), by=None)
    hashed, now = hash_password(PASSWORD), iso(node.rt.clock())
    await node.rt.db.write(lambda c: sessions_db.set_password(c, username, hashed, now))


@pytest.fixture
async def nodes(tmp_path: Path):  # type: ignore[no-untyped-def]
    home = await start_node(tmp_path, "zwolle", host="127.0.0.1")
    other = await start_node(tmp_path, "deventer", host="127.0.0.2")
    await _member(home, "anna", "Anna de Vries")
    start = other.rt.clock() + timedelta(days=5)
    ev = await other.rt.services["events"].create(
        EventSpec(title="Breakfast Deventer", timezone="Europe/Amsterdam", capacity=10),
        start, start + timedelta(hours=1),
    )  # fmt: skip
    other.meetup = ev  # type: ignore[attr-defined]
    yield home, other
    await other.stop()
    await home.stop()


async def _handover(client, node: Node, page_path: str, target: str, handle: str):  # type: ignore[no-untyped-def]
    """A visitor on ``node`` gives ``handle`` in the "from your own server" form."""
    async with client.get(node.url + page_path, headers=HTML) as resp:
        token = csrf_of(await resp.text())
    form = {"csrf": token, "target": target, "handle": handle}
    async with client.post(node.url + "/interact", data=form, allow_redirects=False) as resp:
        return resp.status, await resp.text(), resp.headers


def _continue_link(page: str) -> str:
    found = re.search(r'<a class="button" id="continue" href="([^"]+)"', page)
    assert found, page[:2000]
    return unescape(found.group(1))


async def test_rsvp_from_your_own_server(nodes) -> None:  # type: ignore[no-untyped-def]
    home, other = nodes
    ev = other.meetup
    async with session() as visitor:
        status, page, _ = await _handover(visitor, other, f"/events/{ev.ident}", ev.id,
                                          f"anna@{home.settings.host}")  # fmt: skip
    assert status == 200
    link = _continue_link(page)
    assert link == f"{home.url}/authorize_interaction?uri={quote(ev.id, safe='')}"
    assert f'http-equiv="refresh" content="0; url={link}"' in unescape(page)

    async with session() as anna:
        async with anna.get(link, allow_redirects=False) as resp:  # not signed in yet
            assert resp.status == 303 and resp.headers["Location"].startswith("/signin?next=")
        await sign_in(anna, home, "anna")
        async with anna.get(link + "&lang=en") as resp:
            page = await resp.text()
            assert resp.status == 200, page[:1000]
        assert "Breakfast Deventer" in page and "I'm coming" in unescape(page)
        form = {"csrf": csrf_of(page), "target": ev.id, "action": "rsvp"}
        async with anna.post(home.url + "/authorize_interaction", data=form,
                             allow_redirects=False) as resp:  # fmt: skip
            assert resp.status == 303 and "notice=interaction_rsvp" in resp.headers["Location"]
        anna_iri = home.url + "/members/anna"
        await wait_for(lambda: _state(other, ev.id, anna_iri, "accepted"))
        await wait_for(lambda: _state(home, ev.id, anna_iri, "accepted"))
        assert await events_db.count(other.rt.db, ev.id) == 1
        async with anna.get(link + "&lang=en") as resp:
            assert "You are coming." in await resp.text()


async def _state(node: Node, event: str, actor: str, state: str) -> bool:
    await node.settle()
    found = await events_db.participant(node.rt.db, event, actor)
    return found is not None and found.state == state


async def test_follow_a_network_from_your_own_server(nodes) -> None:  # type: ignore[no-untyped-def]
    home, other = nodes
    async with session() as visitor:
        status, page, _ = await _handover(visitor, other, "/networks", other.network_id,
                                          f"@anna@{home.settings.host}")  # fmt: skip
    assert status == 200
    link = _continue_link(page)
    async with session() as anna:
        await sign_in(anna, home, "anna")
        async with anna.get(link + "&lang=en") as resp:
            page = await resp.text()
        assert "deventer" in page and "Follow" in page
        form = {"csrf": csrf_of(page), "target": other.network_id, "action": "follow"}
        async with anna.post(home.url + "/authorize_interaction", data=form) as resp:
            assert resp.status == 200

        async def followed() -> bool:
            await home.settle()
            await other.settle()
            row = await follows_db.get(home.rt.db, "anna", other.network_id, "out")
            return row is not None and row.state == "accepted"

        await wait_for(followed)
        async with anna.get(link + "&lang=en") as resp:
            assert "You follow this account." in await resp.text()
        # A handle works as well as a URL, and a local one leads to the local page.
        handle = quote(f"{other.settings.slug}@{other.settings.host}", safe="@")
        async with anna.get(f"{home.url}/authorize_interaction?uri={handle}&lang=en") as resp:
            assert "You follow this account." in await resp.text()
        local = quote(home.url + "/members/anna", safe="")
        async with anna.get(f"{home.url}/authorize_interaction?uri={local}",
                            allow_redirects=False) as resp:  # fmt: skip
            assert resp.status == 303 and resp.headers["Location"] == "/members/anna"


async def test_handover_errors(nodes) -> None:  # type: ignore[no-untyped-def]
    home, other = nodes
    ev = other.meetup
    async with session() as visitor:
        status, page, _ = await _handover(visitor, other, f"/events/{ev.ident}?lang=en", ev.id,
                                          "not a handle")  # fmt: skip
        assert status == 400 and "is not an account" in page
        status, page, _ = await _handover(visitor, other, f"/events/{ev.ident}?lang=en", ev.id,
                                          "someone@127.0.0.3:9")  # fmt: skip
        assert status == 400 and "could not be reached" in page
        status, _, headers = await _handover(visitor, other, f"/events/{ev.ident}", ev.id,
                                             f"anna@{other.settings.host}")  # fmt: skip
        assert status == 303 and headers["Location"].startswith("/signin?next=")
        status, _, _ = await _handover(visitor, other, f"/events/{ev.ident}",
                                       "https://elsewhere.example/x", "a@b.example")  # fmt: skip
        assert status == 400  # only things on this node (or kept here) are handed over
    async with session() as anna:
        await sign_in(anna, home, "anna")
        async with anna.get(home.url + "/authorize_interaction?uri=javascript:alert(1)") as resp:
            assert resp.status == 400
