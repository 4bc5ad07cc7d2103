"""A member's data: the JSON export (API and CLI), and deleting one's account everywhere."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp

from assignments_support import api, partners
from node import cli
from node.clock import iso
from node.content.members.cards import NewMember
from node.storage import members as members_db
from node.storage import objects as objects_db
from node.storage import remote as remote_db
from node.storage import tokens as tokens_db
from nodes import Node, start_node, wait_for
from peers import FakePeer


async def _member(node: Node, username: str, **card: Any) -> str:
    """Add a member through the members service; return a token of theirs."""
    svc = node.rt.services["members"]
    await svc.add(NewMember(username=username, name=username.title(), **card), by=None)
    return await svc.new_token(username, by=None, label="laptop")  # type: ignore[no-any-return]


async def _organised_event(node: Node, organizer: str) -> str:
    """An Event of the network that lists ``organizer`` (stored as the events area stores it)."""
    event_id = node.url + "/events/borrel"
    now = iso(node.rt.clock())
    doc = {
        "id": event_id,
        "type": "Event",
        "name": "Borrel",
        "attributedTo": node.network_id,
        "organizers": [organizer],
    }
    row = objects_db.StoredObject(
        id=event_id,
        type="Event",
        author=node.network_id,
        local=True,
        visibility="public",
        host=node.settings.host,
        raw=json.dumps(doc).encode(),
        published=now,
        updated=now,
        name="Borrel",
        start_time=now,
    )
    await node.rt.db.write(lambda c: objects_db.save(c, row))
    return event_id


async def test_export_holds_the_members_data_and_no_secrets(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Assen", host="127.0.0.2")
    peer = await FakePeer("127.0.0.5").start()
    try:
        anna = await _member(a, "anna", discipline="design", city="Assen", skills=["type"])
        bob = await _member(a, "bob")
        admin = await a.rt.services["members"].new_token(a.settings.slug, by=None)
        anna_id = a.url + "/members/anna"
        async with aiohttp.ClientSession() as session:
            status, created = await api(
                session, a, "POST", "/api/v1/assignments", anna,
                {"title": "Logo for a bakery", "skills": ["design"], "visibility": "public"},
            )  # fmt: skip
            assert status == 201, created
            assignment_id = f"{a.url}/assignments/{created['id']}"
            event_id = await _organised_event(a, anna_id)
            await peer.follow(peer.actor("alice"), a.url, anna_id)

            status, export = await api(session, a, "GET", "/api/v1/me/export", anna)
            assert status == 200, export
            assert export["kantineExport"] == 1
            assert export["account"]["username"] == "anna" and export["account"]["id"] == anna_id
            assert export["account"]["role"] == "member" and export["account"]["created"]
            assert export["card"]["discipline"] == "design" and export["card"]["skills"] == ["type"]
            assert export["actor"]["id"] == anna_id and export["actor"]["city"] == "Assen"
            assert [f["actor"] for f in export["follows"]["followers"]] == [peer.actor("alice").id]
            assert export["tokens"] == [
                {"label": "laptop", "created": export["tokens"][0]["created"], "lastUsed": None}
            ]
            objects = {o["id"]: o for o in export["content"]["objects"]}
            assignment = objects[assignment_id]
            assert (
                assignment["type"] == "Proposal"
                and assignment["raw"]["name"] == "Logo for a bakery"
            )
            assert "proof" in assignment["raw"]  # the document as published
            assert {r["type"] for r in export["content"]["outbox"]} >= {"Create"}
            assert [e["id"] for e in export["organisedEvents"]] == [event_id]
            # No secret leaves: not the token, not its hash, not a private key.
            text = json.dumps(export)
            assert anna not in text and tokens_db.hash_token(anna) not in text
            assert "PRIVATE KEY" not in text

            # Others: an admin may export anyone, a member only themselves, nobody without a token.
            status, other = await api(session, a, "GET", "/api/v1/members/anna/export", admin)
            assert status == 200 and other["account"]["username"] == "anna"
            status, body = await api(session, a, "GET", "/api/v1/members/anna/export", bob)
            assert status == 403 and "admin" in body["error"]
            status, _ = await api(session, a, "GET", "/api/v1/me/export")
            assert status == 401
            status, _ = await api(session, a, "GET", "/api/v1/members/nobody/export", admin)
            assert status == 404

        # The CLI writes the same document, to a file only its owner may read.
        out = tmp_path / "anna.json"
        code = await asyncio.to_thread(
            cli.main, ["member", "export", "anna", "--output", str(out), "--data", str(a.data)]
        )
        assert code == 0
        assert out.stat().st_mode & 0o077 == 0
        from_cli = json.loads(out.read_text())
        assert from_cli["kantineExport"] == 1 and from_cli["account"]["id"] == anna_id
        assert assignment_id in {o["id"] for o in from_cli["content"]["objects"]}
        code = await asyncio.to_thread(
            cli.main, ["member", "export", "anna", "--as", "bob", "--data", str(a.data)]
        )
        assert code == 1
    finally:
        await peer.stop()
        await a.stop()


async def test_deleting_ones_account_deletes_card_and_content_everywhere(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Almelo", host="127.0.0.2")
    b = await start_node(tmp_path, "Borne", host="127.0.0.3")
    try:
        await partners(b, a)
        joost = await _member(a, "joost", discipline="photography")
        joost_id = a.url + "/members/joost"
        async with aiohttp.ClientSession() as session:
            made = []
            for title, visibility in (("Portraits", "public"), ("Archive", "cooperative")):
                status, created = await api(
                    session, a, "POST", "/api/v1/assignments", joost,
                    {"title": title, "visibility": visibility},
                )  # fmt: skip
                assert status == 201, created
                made.append(f"{a.url}/assignments/{created['id']}")

            async def b_has_everything() -> bool:
                await b.settle()
                kept = [await objects_db.get(b.rt.db, i) for i in made]
                card = await members_db.get_remote(b.rt.db, joost_id)
                return all(k is not None and not k.local for k in kept) and card is not None

            await wait_for(b_has_everything)

            # The network's own token is not a member: it cannot delete itself this way.
            admin = await a.rt.services["members"].new_token(a.settings.slug, by=None)
            status, body = await api(session, a, "DELETE", "/api/v1/me", admin)
            assert status == 403, body
            status, body = await api(session, a, "DELETE", "/api/v1/me", joost)
            assert status == 200 and body == {"deleted": "joost", "id": joost_id}
            status, _ = await api(session, a, "GET", "/api/v1/me", joost)
            assert status == 401  # the tokens went with the account
            async with session.get(joost_id, headers={"Accept": "application/activity+json"}) as r:
                assert r.status == 410
            for object_id in made:
                assert await objects_db.get(a.rt.db, object_id) is None

        async def b_forgot() -> bool:
            await a.settle()
            await b.settle()
            kept = [await objects_db.get(b.rt.db, i) for i in made]
            return (
                all(k is None for k in kept)
                and await members_db.get_remote(b.rt.db, joost_id) is None
                and await remote_db.get_actor(b.rt.db, joost_id) is None
            )

        await wait_for(b_forgot)
        # The rows stay as tombstones, so a late copy cannot bring the content back.
        for object_id in made:
            gone = await objects_db.get(b.rt.db, object_id, include_deleted=True)
            assert gone is not None and gone.deleted_at is not None
    finally:
        await b.stop()
        await a.stop()
