"""Shared projects across real nodes: Join/Accept/Leave, the FEP-1b12 relay, proofs through a third node."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from node import cli
from node.content.projects import relay
from node.storage import objects as objects_db
from node.storage import outbox as outbox_db
from node.storage import projects as projects_db
from nodes import Node, start_node, wait_for
from projects_support import add_member, api, state_of


async def _inbox_rows(node: Node, kind: str, containing: bytes) -> list[Any]:
    rows = await node.rt.db.fetchall("SELECT * FROM inbox WHERE type = ? ORDER BY seq", (kind,))
    return [r for r in rows if containing in bytes(r["raw"])]


async def _announces(node: Node, project: str) -> list[bytes]:
    rows = await node.rt.db.fetchall(
        "SELECT raw FROM outbox WHERE actor = ? AND type = 'Announce' ORDER BY seq", (project,)
    )
    return [bytes(r["raw"]) for r in rows]


async def _post_signed(node: Node, url: str, body: bytes, actor_name: str) -> int:
    """POST ``body`` signed (HTTP signature) by one of ``node``'s local actors."""
    actor = await node.rt.federation.local_by_iri(node.url + "/projects/" + actor_name)
    assert actor is not None
    headers = {"Content-Type": "application/activity+json"}
    headers |= node.rt.federation.signer.sign_now(
        actor, "POST", url, headers, body, now=datetime.now(UTC)
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as r,
    ):
        return r.status


async def test_project_post_reaches_c_through_b_and_c_verifies_while_a_is_stopped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A's member posts to B's project; C gets B's Announce and verifies A's proof with A down.

    C holds A's key because carl (on C) takes part in the project and saw anna's first
    post while A was up: verifying that proof fetched anna's actor, and the key stays
    cached. C's processing of the second post runs after A has stopped (C's processor
    is paused meanwhile: a backlog), so nothing can be fetched from A.
    """
    caplog.set_level(logging.INFO, logger="kantine.processor")
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2")
    b = await start_node(tmp_path, "Loosduinen", host="127.0.0.3")
    c = await start_node(tmp_path, "Haarlem", host="127.0.0.4")
    a_stopped = False
    try:
        project = await b.rt.services["projects"].create("garden", "Shared garden", "Food")
        project_id = b.url + "/projects/garden"
        anna, _ = await add_member(a, "anna")
        carl, carl_token = await add_member(c, "carl")
        await a.rt.services["projects"].join(anna, project_id)
        await c.rt.services["projects"].join(carl, f"garden@{b.settings.host}")  # WebFinger
        for node, who in ((a, "anna"), (c, "carl")):
            await wait_for(lambda n=node, w=who: _is_accepted(n, w, project_id))
        people = {p.actor for p in await projects_db.participants(b.rt.db, "garden")}
        assert people == {a.url + "/members/anna", c.url + "/members/carl"}

        # Post 1, everybody up.
        first = await a.rt.services["projects"].post(anna, project_id, "Seed swap on Saturday")
        await wait_for(lambda: objects_db.get(c.rt.db, first["object"]["id"]))
        kept_on_b = await objects_db.get(b.rt.db, first["object"]["id"])
        assert kept_on_b is not None and kept_on_b.audience == project_id  # the host keeps it too
        # Byte for byte: A's published bytes appear unchanged inside B's Announce and at C.
        a_bytes = (await outbox_db.get(a.rt.db, first["id"])).raw  # type: ignore[union-attr]
        assert any(a_bytes in raw for raw in await _announces(b, "garden"))
        assert await _inbox_rows(c, "Announce", a_bytes)
        status, feed = await api(c, "GET", "/api/v1/me/feed", carl_token)
        assert status == 200
        assert [i["id"] for i in feed["items"]] == [first["object"]["id"]]
        key_row = await c.rt.db.fetchone(
            "SELECT fetched_at FROM remote_keys WHERE owner = ? AND kind = 'ed25519'",
            (a.url + "/members/anna",),
        )
        assert key_row is not None

        # Post 2: C's processing lags (paused) while the Announce arrives; then A stops.
        await c.rt.processor.stop()
        second = await a.rt.services["projects"].post(anna, project_id, "Seedlings need water")
        second_bytes = (await outbox_db.get(a.rt.db, second["id"])).raw  # type: ignore[union-attr]
        genuine = await wait_for(lambda: _inbox_rows(c, "Announce", second_bytes))
        await a.settle()
        await a.stop()
        a_stopped = True
        with pytest.raises(aiohttp.ClientConnectionError):
            async with aiohttp.ClientSession() as s, s.get(a.url + "/members/anna"):
                pass

        # The same Announce, but one byte of the embedded object changed, properly signed by
        # the project (a relay that alters what it forwards): a new Announce id, else C's inbox
        # would accept it once as a duplicate.
        altered = second_bytes.replace(b"Seedlings need", b"Seedlinks need")
        assert len(altered) == len(second_bytes)
        assert sum(x != y for x, y in zip(altered, second_bytes, strict=True)) == 1
        forged, _ = relay.build_announce(b.rt, project, altered)
        assert altered in forged
        assert await _post_signed(b, c.url + "/inbox", forged, "garden") == 202

        await c.rt.processor.start()
        await c.settle()
        rows = {
            r["activity_id"]: r
            for r in await c.rt.db.fetchall("SELECT * FROM inbox WHERE type = 'Announce'")
        }
        assert rows[genuine[0]["activity_id"]]["state"] == "done"
        kept = await objects_db.get(c.rt.db, second["object"]["id"])
        assert kept is not None and kept.document["content"] == "Seedlings need water"
        forged_row = rows[msgspec.json.decode(forged)["id"]]
        assert forged_row["state"] == "discarded"
        assert "proof" in forged_row["note"].lower()
        stored = await c.rt.db.fetchall("SELECT raw FROM objects")
        assert not [r for r in stored if b"Seedlinks" in bytes(r["raw"])]
        assert any(
            "discarded Announce" in r.getMessage() and forged_row["activity_id"] in r.getMessage()
            for r in caplog.records
        )
        # The key was never fetched again (A is down): the cached one verified the proof.
        again = await c.rt.db.fetchone(
            "SELECT fetched_at FROM remote_keys WHERE owner = ? AND kind = 'ed25519'",
            (a.url + "/members/anna",),
        )
        assert again["fetched_at"] == key_row["fetched_at"]
    finally:
        for node in (b, c) if a_stopped else (a, b, c):
            await node.stop()


async def _is_accepted(node: Node, member: str, project_id: str) -> bool:
    return await state_of(node, member, project_id, "out") == "accepted"


async def test_join_post_and_leave_a_project_on_another_node(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2")
    b = await start_node(tmp_path, "Loosduinen", host="127.0.0.3")
    try:
        _, org_token = await add_member(b, "olga", role="organiser")
        _, bea_token = await add_member(b, "bea")
        anna, anna_token = await add_member(a, "anna")
        # Creating a project needs the organiser role; names share one namespace.
        body = {"slug": "kitchen", "name": "Community kitchen", "summary": "Cooking"}
        assert (await api(b, "POST", "/api/v1/projects", bea_token, body))[0] == 403
        typo = {"slug": "kitchen", "nmae": "Community kitchen"}
        assert (await api(b, "POST", "/api/v1/projects", org_token, typo))[0] == 400
        status, created = await api(b, "POST", "/api/v1/projects", org_token, body)
        assert status == 201, created
        project_id = created["id"]
        assert project_id == b.url + "/projects/kitchen"
        assert (await api(b, "POST", "/api/v1/projects", org_token, body))[0] == 409
        taken = {"slug": "bea", "name": "Bea's project"}
        assert (await api(b, "POST", "/api/v1/projects", org_token, taken))[0] == 409

        # The project is a Group actor with a participants collection.
        async with aiohttp.ClientSession() as s, s.get(project_id) as resp:
            actor = msgspec.json.decode(await resp.read())
        assert actor["type"] == "Group" and actor["participants"] == project_id + "/participants"

        # anna (on A) joins through A's API: Join -> Accept.
        ref = f"kitchen@{b.settings.host}"
        status, joined = await api(a, "POST", f"/api/v1/projects/{ref}/join", anna_token)
        assert (status, joined["state"]) == (202, "pending")
        await wait_for(lambda: _is_accepted(a, "anna", project_id))
        anna_id = a.url + "/members/anna"
        assert await state_of(b, "kitchen", anna_id, "in") == "accepted"
        # bea (on B) joins at once.
        status, joined = await api(b, "POST", "/api/v1/projects/kitchen/join", bea_token)
        assert joined["state"] == "accepted"
        status, shown = await api(b, "GET", "/api/v1/projects/kitchen")
        assert {p["actor"] for p in shown["participants"]} == {anna_id, b.url + "/members/bea"}
        async with aiohttp.ClientSession() as s, s.get(project_id + "/participants?page=1") as r:
            page = msgspec.json.decode(await r.read())
        assert set(page["orderedItems"]) == {anna_id, b.url + "/members/bea"}

        # bea posts to the project here: it is relayed to anna's node at once.
        status, posted = await api(
            b, "POST", "/api/v1/projects/kitchen/posts", bea_token, {"content": "Soup on Friday"}
        )
        assert status == 201, posted
        await wait_for(lambda: objects_db.get(a.rt.db, posted["id"]))
        status, feed = await api(a, "GET", "/api/v1/me/feed", anna_token)
        assert posted["id"] in [i["id"] for i in feed["items"]]
        status, stream = await api(b, "GET", "/api/v1/projects/kitchen/posts")
        assert [i["id"] for i in stream["items"]] == [posted["id"]]

        # anna leaves: both sides forget, and she can no longer post.
        status, _ = await api(a, "POST", f"/api/v1/projects/{ref}/leave", anna_token)
        assert status == 200
        await wait_for(lambda: _gone(b, "kitchen", anna_id))
        assert await state_of(a, "anna", project_id, "out") is None
        status, refused = await api(
            a, "POST", f"/api/v1/projects/{ref}/posts", anna_token, {"content": "Hello?"}
        )
        assert status == 403, refused
        assert anna.username == "anna"
    finally:
        await a.stop()
        await b.stop()


async def _gone(node: Node, project: str, actor: str) -> bool:
    return (
        await projects_db.get_participant(node.rt.db, project, actor) is None
        and await state_of(node, project, actor, "in") is None
    )


def test_project_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "node")
    assert (
        cli.main(
            ["init", "--data", data, "--url", "http://127.0.0.9:8080", "--name", "Zwolle", "--dev"]
        )
        == 0
    )
    assert cli.main(["project", "add", "repair", "--name", "Repair café", "--data", data]) == 0
    assert cli.main(["project", "add", "zwolle", "--name", "Taken", "--data", data]) == 1
    assert "taken" in capsys.readouterr().err
    assert cli.main(["project", "list", "--json", "--data", data]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(p["slug"], p["name"], p["participants"]) for p in listed] == [
        ("repair", "Repair café", 0)
    ]
    assert cli.main(["project", "show", "repair", "--json", "--data", data]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == "http://127.0.0.9:8080/projects/repair"
    assert cli.main(["project", "remove", "repair", "--data", data]) == 0
    assert cli.main(["project", "show", "repair", "--data", data]) == 1
    assert "no project" in capsys.readouterr().err
