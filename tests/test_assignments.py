"""Open assignments between real nodes: offers and answers, withdrawal, roles, the CLI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import msgspec
import pytest

from assignments_support import add_member, api, partners, received
from node import cli
from node.content.assignments.documents import Budget, Draft, parse_deadline, view
from node.storage import assignments as offers_db
from nodes import Node, start_node, wait_for


async def _pair(tmp_path: Path) -> tuple[Node, Node]:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2")
    b = await start_node(tmp_path, "Loosduinen", host="127.0.0.3")
    await partners(b, a)
    return a, b


async def _offer_state(node: Node, activity_id: str) -> str | None:
    offer = await offers_db.get_by_activity(node.rt.db, activity_id)
    return offer.state if offer else None


async def test_offer_reaches_the_author_and_the_accept_comes_back(tmp_path: Path) -> None:
    a, b = await _pair(tmp_path)
    try:
        _, alice = await add_member(a, "alice")
        _, bob = await add_member(b, "bob")
        _, dirk = await add_member(b, "dirk")
        async with aiohttp.ClientSession() as s:
            status, made = await api(
                s,
                a,
                "POST",
                "/api/v1/assignments",
                alice,
                {"title": "Bakery logo", "skills": ["design"], "budget": {"amount": "450"}},
            )
            assert status == 201 and made["visibility"] == "cooperative"
            await a.settle()
            await wait_for(lambda: received(b, made["iri"]))
            # B's board shows it to B's members, not to anonymous readers.
            status, board = await api(s, b, "GET", "/api/v1/board?skill=design", bob)
            assert [i["iri"] for i in board["items"]] == [made["iri"]]
            assert board["items"][0]["budget"] == {"amount": "450", "currency": "EUR"}
            status, board = await api(s, b, "GET", "/api/v1/board")
            assert status == 200 and board["items"] == []

            # bob (on B) offers; the Offer{Agreement} reaches alice's node.
            status, offer = await api(
                s,
                b,
                "POST",
                "/api/v1/assignments/offer",
                bob,
                {"assignment": made["iri"], "message": "I draw bread all day."},
            )
            assert status == 201 and offer["direction"] == "out", offer
            await b.settle()
            await wait_for(lambda: _offer_state(a, offer["iri"]))
            status, listed = await api(
                s, a, "GET", f"/api/v1/assignments/{made['id']}/offers", alice
            )
            assert status == 200 and len(listed["items"]) == 1
            incoming = listed["items"][0]
            assert incoming["actor"] == b.url + "/members/bob"
            assert incoming["message"] == "I draw bread all day."
            raw = (await offers_db.get(a.rt.db, incoming["id"])).document  # type: ignore[union-attr]
            agreement = raw["object"]
            assert raw["type"] == "Offer" and agreement["type"] == "Agreement"
            assert agreement["stipulates"]["satisfies"] == made["iri"] + "#primary"
            assert agreement["stipulatesReciprocal"]["satisfies"] == made["iri"] + "#reciprocal"

            # The Offer is served to its two parties: alice's node (signed GET), not to others.
            fetched = msgspec.json.decode((await a.rt.fetcher.fetch_json(offer["iri"])).body)
            assert fetched["id"] == offer["iri"] and fetched["type"] == "Offer"
            async with s.get(offer["iri"]) as r:
                assert r.status == 401

            # alice accepts; B records the answer.
            status, answered = await api(
                s, a, "POST", f"/api/v1/offers/{incoming['id']}/accept", alice, {}
            )
            assert status == 200 and answered["state"] == "accepted"
            status, again = await api(
                s, a, "POST", f"/api/v1/offers/{incoming['id']}/reject", alice, {}
            )
            assert status == 409, again
            await a.settle()

            async def accepted_on_b() -> bool:
                return await _offer_state(b, offer["iri"]) == "accepted"

            await wait_for(accepted_on_b)
            accept = await a.rt.db.fetchone(
                "SELECT raw FROM outbox WHERE type = 'Accept' AND actor = 'alice'"
            )
            doc = msgspec.json.decode(accept["raw"])
            assert doc["object"] == offer["iri"] and doc["result"]["type"] == "Agreement"
            assert doc["to"] == [b.url + "/members/bob"]

            # alice withdraws: B's copy says so; a new offer on it is refused there.
            status, done = await api(
                s, a, "POST", f"/api/v1/assignments/{made['id']}/withdraw", alice
            )
            assert status == 200 and done["status"] == "withdrawn"
            await a.settle()

            async def withdrawn_on_b() -> bool:
                row = await received(b, made["iri"])
                return row is not None and row["status"] == "withdrawn"

            await wait_for(withdrawn_on_b)
            status, refused = await api(
                s, b, "POST", "/api/v1/assignments/offer", dirk, {"assignment": made["iri"]}
            )
            assert status == 409, refused
            status, board = await api(s, b, "GET", "/api/v1/board", bob)
            assert board["items"] == []
    finally:
        await a.stop()
        await b.stop()


async def test_roles_and_local_offers(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2")
    try:
        _, alice = await add_member(a, "alice")
        _, carol = await add_member(a, "carol")
        _, admin = await add_member(a, "ada", role="admin")
        async with aiohttp.ClientSession() as s:
            body = {"title": "Flyers", "author": "alice", "visibility": "network"}
            status, err = await api(s, a, "POST", "/api/v1/assignments", carol, body)
            assert status == 403 and "error" in err
            status, _ = await api(s, a, "POST", "/api/v1/assignments", None, body)
            assert status == 401
            status, err = await api(s, a, "POST", "/api/v1/assignments", alice, {"title": ""})
            assert status == 400
            status, err = await api(
                s, a, "POST", "/api/v1/assignments", alice, {"title": "x", "colour": "red"}
            )
            assert status == 400
            status, made = await api(s, a, "POST", "/api/v1/assignments", admin, body)
            assert status == 201 and made["author"] == a.url + "/members/alice"
            path = f"/api/v1/assignments/{made['id']}"
            status, _ = await api(s, a, "PATCH", path, carol, {"title": "Mine now"})
            assert status == 403
            status, _ = await api(s, a, "PATCH", path, alice, {"visibility": "public"})
            assert status == 400
            status, edited = await api(s, a, "PATCH", path, alice, {"title": "Flyers, A5"})
            assert status == 200 and edited["title"] == "Flyers, A5"
            status, _ = await api(s, a, "GET", path + "/offers", carol)
            assert status == 403
            status, _ = await api(s, a, "POST", path + "/fill", carol)
            assert status == 403

            # carol offers on alice's assignment on the same node; alice rejects it.
            status, offer = await api(
                s, a, "POST", "/api/v1/assignments/offer", carol, {"assignment": made["id"]}
            )
            assert status == 201 and offer["direction"] == "in"
            status, _ = await api(s, a, "POST", f"/api/v1/offers/{offer['id']}/accept", carol)
            assert status == 403
            status, _ = await api(
                s, a, "POST", "/api/v1/assignments/offer", alice, {"assignment": made["id"]}
            )
            assert status == 400  # not on your own assignment
            status, answered = await api(
                s, a, "POST", f"/api/v1/offers/{offer['id']}/reject", admin, {"reason": "full"}
            )
            assert status == 200 and answered["state"] == "rejected"
            status, mine = await api(s, a, "GET", "/api/v1/offers", carol)
            assert [o["state"] for o in mine["items"]] == ["rejected"]
            status, filled = await api(s, a, "POST", path + "/fill", alice)
            assert status == 200 and filled["status"] == "filled"
            status, _ = await api(s, a, "POST", path + "/withdraw", alice)
            assert status == 409
            status, listed = await api(s, a, "GET", "/api/v1/assignments?status=filled", alice)
            assert [i["id"] for i in listed["items"]] == [made["id"]]
            status, _ = await api(s, a, "DELETE", path, carol)
            assert status == 403
    finally:
        await a.stop()


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(cli.main, list(argv))


async def test_cli_commands_and_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2")
    try:
        await add_member(a, "alice")
        await add_member(a, "carol")
        data = ["--data", str(a.data)]
        capsys.readouterr()
        rc = await _cli(
            "assignment", "add", *data, "--author", "alice", "--title", "Bakery logo",
            "--skills", "design, #Illustration", "--place", "Utrecht", "--remote",
            "--deadline", "2031-06-01", "--budget", "450 EUR", "--visibility", "public",
            "--json",
        )  # fmt: skip
        assert rc == 0
        made = msgspec.json.decode(capsys.readouterr().out)
        assert made["skills"] == ["design", "illustration"] and made["remote"] is True
        assert made["place"] == "Utrecht" and made["deadline"].startswith("2031-06-01T23:59")
        assert await _cli("assignment", "list", *data, "--skill", "design") == 0
        assert made["id"] in capsys.readouterr().out
        assert await _cli("assignment", "show", *data, made["id"]) == 0
        assert "Bakery logo" in capsys.readouterr().out
        assert await _cli("assignment", "offer", *data, made["id"], "--as", "carol") == 0
        offer_id = capsys.readouterr().out.split()[1]
        assert await _cli("assignment", "offers", *data, made["id"], "--json") == 0
        assert msgspec.json.decode(capsys.readouterr().out)[0]["id"] == offer_id
        assert await _cli("assignment", "accept", *data, offer_id) == 0
        assert await _cli("assignment", "accept", *data, offer_id) == 1  # not pending
        assert await _cli("assignment", "withdraw", *data, made["id"]) == 0
        assert await _cli("assignment", "fill", *data, made["id"]) == 1  # withdrawn already
        assert await _cli("assignment", "remove", *data, made["id"]) == 0
        assert await _cli("assignment", "show", *data, made["id"]) == 1
        assert await _cli("assignment", "add", *data, "--author", "nobody", "--title", "x") == 1
        assert await _cli("assignment", "add", *data, "--author", "alice", "--title", "x",
                          "--budget", "lots") == 1  # fmt: skip
        capsys.readouterr()
        with pytest.raises(SystemExit) as usage:
            await _cli("assignment", "add", *data, "--author", "alice")
        assert usage.value.code == 2
    finally:
        await a.stop()


def test_documents_round_trip() -> None:
    draft = Draft(
        title="  Logo   for a bakery ",
        description="Line one\nline two\n\nSecond <paragraph> & more",
        skills=("Web Design", "#design", "design"),
        place="Utrecht",
        remote=True,
        deadline=parse_deadline("2031-06-01T17:00", "Europe/Amsterdam"),
        budget=Budget.parse("EUR 1500.50"),
    ).checked()
    assert draft.title == "Logo for a bakery" and draft.skills == ("webdesign", "design")
    from datetime import UTC, datetime

    from node.content.assignments.documents import build_proposal, draft_from_document

    doc = build_proposal(
        object_id="https://a.example/assignments/1",
        author_id="https://a.example/members/alice",
        draft=draft,
        visibility="public",
        status="open",
        to=["https://www.w3.org/ns/activitystreams#Public"],
        cc=["https://a.example/members/alice/followers"],
        published=datetime(2030, 1, 1, tzinfo=UTC),
        updated=None,
        tag_base="https://a.example/tags",
    )
    assert doc["content"] == (
        "<p>Line one<br>line two</p><p>Second &lt;paragraph&gt; &amp; more</p>"
    )
    assert doc["publishes"]["due"] == "2031-06-01T17:00:00+02:00"
    assert doc["reciprocal"]["resourceConformsTo"] == "https://www.wikidata.org/wiki/Q4916"
    assert [loc["type"] for loc in doc["location"]] == ["Place", "VirtualLocation"]
    assert draft_from_document(doc) == draft
    assert view(doc)["budget"] == {"amount": "1500.50", "currency": "EUR"}
