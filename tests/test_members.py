"""Members: the CLI, the API with roles, card visibility, and cards across real nodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from node import cli
from node.content.members import Service
from node.content.members.cards import CardChange, Link, NewMember
from node.storage import members as members_db
from node.storage import remote as remote_db
from nodes import Node, start_node, wait_for
from peers import FakePeer
from test_federation_nodes import _follow

# -- the CLI ---------------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_member_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "node")
    code, _, err = _run(
        capsys,
        "init",
        "--data",
        data,
        "--url",
        "http://127.0.0.9:8080",
        "--name",
        "Zwolle",
        "--dev",
    )
    assert code == 0, err
    code, out, err = _run(capsys, "member", "list", "--data", data, "--json")
    assert (code, json.loads(out)) == (0, [])  # init makes no members

    code, out, err = _run(
        capsys, "member", "add", "anna", "--name", "Anna de Vries", "--discipline", "design",
        "--skills", "illustration,typography", "--city", "Zwolle", "--role", "admin",
        "--website", "https://anna.example", "--link", "Email=mailto:anna@example.nl",
        "--data", data,
    )  # fmt: skip
    assert code == 0, err
    assert "anna" in out

    # A taken name, a reserved one, the network's slug: exit 1 with one clear line.
    for name in ("anna", "relay", "zwolle"):
        code, _, err = _run(capsys, "member", "add", name, "--name", "X", "--data", data)
        assert code == 1
        assert err.count("\n") == 1 and err.startswith("kantine: error:")
        assert "taken" in err or "reserved" in err
    code, _, err = _run(capsys, "member", "add", "Bad-Name", "--name", "X", "--data", data)
    assert code == 1 and "a-z, 0-9 and _" in err
    code, _, err = _run(
        capsys, "member", "add", "bob", "--name", "B", "--skills", "a b", "--data", data
    )
    assert code == 1 and "skill" in err
    # argparse refuses what is not a choice: exit 2.
    with pytest.raises(SystemExit) as exited:
        cli.main(
            ["member", "add", "bob", "--name", "Bob", "--visibility", "secret", "--data", data]
        )
    assert exited.value.code == 2
    capsys.readouterr()

    code, _, err = _run(
        capsys, "member", "add", "bob", "--name", "Bob", "--visibility", "network", "--data", data
    )
    assert code == 0, err
    code, out, _ = _run(capsys, "member", "list", "--data", data, "--json")
    rows = json.loads(out)
    assert [(r["username"], r["role"], r["visibility"]) for r in rows] == [
        ("anna", "admin", "public"),
        ("bob", "member", "network"),
    ]
    code, out, _ = _run(capsys, "member", "show", "anna", "--data", data, "--json")
    card = json.loads(out)
    assert card["skills"] == ["illustration", "typography"]
    assert card["links"] == [{"name": "Email", "value": "mailto:anna@example.nl"}]

    # Roles are checked when acting as a member: bob may not change anna, nor roles.
    code, _, err = _run(
        capsys, "member", "update", "anna", "--city", "Kampen", "--as", "bob", "--data", data
    )
    assert code == 1 and "admin" in err
    code, _, err = _run(capsys, "member", "role", "bob", "organiser", "--as", "bob", "--data", data)
    assert code == 1 and "admin" in err
    code, _, err = _run(
        capsys, "member", "role", "bob", "organiser", "--as", "anna", "--data", data
    )
    assert code == 0, err
    code, _, err = _run(
        capsys, "member", "update", "bob", "--city", "Deventer", "--as", "bob", "--data", data
    )
    assert code == 0, err

    code, out, err = _run(capsys, "member", "token", "bob", "--data", data)
    assert code == 0 and out.strip().startswith("kt_") and out.count("\n") == 1

    code, out, err = _run(capsys, "member", "remove", "bob", "--data", data)
    assert code == 0, err
    code, _, err = _run(capsys, "member", "show", "bob", "--data", data)
    assert code == 1 and "no member 'bob'" in err
    code, _, err = _run(capsys, "member", "remove", "bob", "--data", data)
    assert code == 1
    code, _, err = _run(capsys, "member", "add", "bob", "--name", "Bob again", "--data", data)
    assert code == 1 and "taken" in err  # a deleted member's name (and IRI) is never reused


# -- the API ---------------------------------------------------------------------------


def _members(node: Node) -> Service:
    return node.rt.services["members"]  # type: ignore[no-any-return]


async def _api(
    node: Node, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, node.url + path, headers=headers, json=body) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


async def test_api_tokens_and_roles(tmp_path: Path) -> None:
    node = await start_node(tmp_path, "Deventer", host="127.0.0.2")
    try:
        svc = _members(node)
        admin_token = await svc.new_token(node.settings.slug, by=None)  # the network's token

        for token in (None, "kt_not-a-token"):
            status, body = await _api(node, "GET", "/api/v1/me", token)
            assert status == 401 and "error" in body
        status, body = await _api(
            node, "POST", "/api/v1/members", None, {"username": "x", "name": "X"}
        )
        assert status == 401

        status, body = await _api(
            node, "POST", "/api/v1/members", admin_token,
            {"username": "eva", "name": "Eva", "skills": ["carpentry"], "visibility": "cooperative"},
        )  # fmt: skip
        assert status == 201, body
        assert body["id"] == node.url + "/members/eva" and body["role"] == "member"
        status, body = await _api(
            node, "POST", "/api/v1/members", admin_token, {"username": "eva", "name": "E"}
        )
        assert (status, body["error"]) == (409, "the name 'eva' is taken on this node")
        for bad in ({"username": "Eva!", "name": "E"}, {"username": "fe", "name": "F", "colour": "red"},
                    {"username": "fe", "name": "F", "visibility": "secret"}, {"name": "F"}):  # fmt: skip
            status, body = await _api(node, "POST", "/api/v1/members", admin_token, bad)
            assert status == 400 and body["error"], bad

        status, body = await _api(node, "POST", "/api/v1/members/eva/tokens", admin_token)
        assert status == 201
        eva = body["token"]
        await svc.add(NewMember(username="finn", name="Finn"), by=None)
        finn = await svc.new_token("finn", by=None)

        status, body = await _api(node, "GET", "/api/v1/me", eva)
        assert (status, body["username"], body["role"]) == (200, "eva", "member")
        # A member may not add members, change others, or give themselves a role.
        status, body = await _api(
            node, "POST", "/api/v1/members", eva, {"username": "gus", "name": "G"}
        )
        assert status == 403 and "admin" in body["error"]
        status, _ = await _api(node, "PATCH", "/api/v1/members/finn", eva, {"city": "Ede"})
        assert status == 403
        status, _ = await _api(node, "PATCH", "/api/v1/members/eva", eva, {"role": "admin"})
        assert status == 403
        status, _ = await _api(node, "POST", "/api/v1/members/finn/tokens", eva)
        assert status == 403
        status, _ = await _api(node, "DELETE", "/api/v1/members/finn", eva)
        assert status == 403
        # ... but may change their own card.
        status, body = await _api(
            node, "PATCH", "/api/v1/members/eva", eva, {"city": "Ede", "available": True}
        )
        assert (status, body["city"], body["available"]) == (200, "Ede", True)
        # An admin may change roles; then the new admin may remove members.
        status, body = await _api(
            node, "PATCH", "/api/v1/members/eva", admin_token, {"role": "admin"}
        )
        assert (status, body["role"]) == (200, "admin")
        status, body = await _api(node, "DELETE", "/api/v1/members/finn", eva)
        assert (status, body["deleted"]) == (200, "finn")
        status, _ = await _api(node, "GET", "/api/v1/me", finn)  # tokens go with the member
        assert status == 401
        status, _ = await _api(node, "GET", "/api/v1/members/finn", eva)
        assert status == 404

        # Reading: anyone sees public fields; a co-operative card shows no fields to the public.
        status, body = await _api(node, "GET", "/api/v1/members")
        assert status == 200
        assert body["members"] == [
            {
                "username": "eva",
                "id": node.url + "/members/eva",
                "visibility": "cooperative",
                "name": "eva",
            }
        ]
        status, body = await _api(node, "GET", "/api/v1/members/eva", eva)
        assert body["skills"] == ["carpentry"] and body["role"] == "admin"
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                node.url + "/api/v1/members",
                data=b"{not json",
                headers={"Authorization": f"Bearer {eva}"},
            ) as resp,
        ):
            assert resp.status == 400 and "invalid JSON" in (await resp.json())["error"]
    finally:
        await node.stop()


# -- card visibility -------------------------------------------------------------------


async def _get(url: str, **headers: str) -> tuple[int, dict[str, Any]]:
    headers.setdefault("Accept", "application/activity+json")
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status, msgspec.json.decode(await resp.read())


async def _partners(a: Node, b: Node) -> None:
    """``b``'s network follows ``a``'s, and ``a`` accepts: the two are in one co-operative."""
    await _follow(b, a)

    async def accepted() -> bool:
        row = await a.rt.db.fetchone(
            "SELECT state FROM follows WHERE remote = ? AND direction = 'in'", (b.network_id,)
        )
        return row is not None and row["state"] == "accepted"

    await wait_for(accepted)
    await b.settle()


async def test_card_visibility(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Apeldoorn", host="127.0.0.2")
    b = await start_node(tmp_path, "Baarn", host="127.0.0.3")
    peer = await FakePeer("127.0.0.5").start()
    try:
        await _partners(a, b)
        svc = _members(a)
        card = {"discipline": "bookkeeping", "city": "Apeldoorn", "skills": ["tax"]}
        await svc.add(NewMember(username="pia", name="Pia", **card), by=None)
        await svc.add(
            NewMember(username="coop", name="Co", visibility="cooperative", **card), by=None
        )
        await svc.add(NewMember(username="net", name="Net", visibility="network", **card), by=None)
        token = await svc.new_token("net", by=None)

        # Public card: Mastodon (an unsigned GET here) sees PropertyValue rows and Hashtags.
        status, doc = await _get(a.url + "/members/pia")
        assert status == 200 and doc["type"] == "Person" and doc["name"] == "Pia"
        assert {"type": "PropertyValue", "name": "Discipline", "value": "bookkeeping"} in doc[
            "attachment"
        ]
        assert doc["tag"] == [{"type": "Hashtag", "name": "#tax", "href": a.url + "/tags/tax"}]
        assert doc["discipline"] == "bookkeeping" and doc["visibility"] == "public"

        coop_url, net_url = a.url + "/members/coop", a.url + "/members/net"
        # Unsigned: keys and inbox, no card.
        for url, name in ((coop_url, "coop"), (net_url, "net")):
            status, doc = await _get(url)
            assert status == 200 and doc["name"] == name and "publicKey" in doc and "inbox" in doc
            assert not {"discipline", "city", "tag", "attachment", "summary"} & set(doc)
        # Signed by the partner node (its instance actor): the co-operative card, not the network one.
        seen = msgspec.json.decode((await b.rt.fetcher.fetch_json(coop_url)).body)
        assert seen["name"] == "Co" and seen["discipline"] == "bookkeeping"
        seen = msgspec.json.decode((await b.rt.fetcher.fetch_json(net_url)).body)
        assert seen["name"] == "net" and "discipline" not in seen
        # Signed by a server outside the co-operative: nothing more than the public.
        stranger = peer.actor("mallory")
        status, doc = await _get(coop_url, **stranger.sign("GET", coop_url, None))
        assert status == 200 and "discipline" not in doc
        # A local member with a token sees the network card; a bad token is refused.
        status, doc = await _get(net_url, Authorization=f"Bearer {token}")
        assert status == 200 and doc["name"] == "Net" and doc["city"] == "Apeldoorn"
        status, doc = await _get(net_url, Authorization="Bearer kt_nope")
        assert status == 401 and "error" in doc
    finally:
        await peer.stop()
        await b.stop()
        await a.stop()


# -- across nodes ----------------------------------------------------------------------


async def test_member_card_travels_and_is_deleted_everywhere(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Amersfoort", host="127.0.0.2")
    b = await start_node(tmp_path, "Bussum", host="127.0.0.3")
    peer = await FakePeer("127.0.0.5").start()
    try:
        await _partners(a, b)
        svc = _members(a)
        await svc.add(
            NewMember(
                username="joost",
                name="Joost",
                discipline="photography",
                skills=["portrait"],
                links=[Link(name="Portfolio", value="https://joost.example")],
            ),
            by=None,
        )
        joost_id = a.url + "/members/joost"

        # b follows a's network: the network Announces the new card, and b keeps it.
        async def b_card(city: str | None = None) -> Any:
            await b.settle()
            cards = {c.id: c for c in await _members(b).directory("cooperative")}
            card = cards.get(joost_id)
            return card if card is not None and (city is None or card.city == city) else None

        card = await wait_for(b_card)
        assert (card.name, card.local, card.network) == ("Joost", False, a.network_id)
        assert card.skills == ("portrait",) and card.discipline == "photography"
        assert "Portfolio" in dict(card.links)

        # A Mastodon user follows the member directly; an update reaches it, and b too.
        alice = peer.actor("alice")
        fetch_pem, pems = peer._public_pem, {}

        async def cached_pem(key_id: str) -> str:  # like Mastodon, the peer keeps keys it has seen
            if key_id not in pems:
                pems[key_id] = await fetch_pem(key_id)
            return pems[key_id]

        peer._public_pem = cached_pem  # type: ignore[method-assign]
        status, text = await peer.post(
            alice, a.url + "/inbox", peer.activity(alice, "Follow", joost_id)
        )
        assert status == 202, text
        await wait_for(lambda: [r for r in peer.received if r.json.get("type") == "Accept"])
        await svc.update("joost", CardChange(city="Utrecht"), by=None)
        update = await wait_for(
            lambda: [r for r in peer.received if r.json.get("type") == "Update"]
        )
        assert update[0].error is None, update[0].error
        assert update[0].json["object"]["id"] == joost_id
        assert update[0].json["object"]["city"] == "Utrecht"
        assert await wait_for(lambda: b_card("Utrecht"))

        # Removed on a: a answers 410 with a Tombstone; b drops the card and the cached actor.
        await svc.remove("joost", by=None)
        status, doc = await _get(joost_id)
        assert status == 410 and doc["type"] == "Tombstone" and doc["formerType"] == "Person"
        await a.settle()

        async def gone() -> bool:
            await b.settle()
            return (
                await members_db.get_remote(b.rt.db, joost_id) is None
                and await remote_db.get_actor(b.rt.db, joost_id) is None
            )

        await wait_for(gone)
        row = await b.rt.db.fetchone(
            "SELECT state FROM inbox WHERE type = 'Delete' AND actor = ?", (joost_id,)
        )
        assert row["state"] == "done"  # the Delete itself reached b (and the network's Announce)
        assert joost_id not in {c.id for c in await _members(b).directory("cooperative")}
        deleted = await wait_for(
            lambda: [r for r in peer.received if r.json.get("type") == "Delete"]
        )
        assert deleted[0].error is None
        assert deleted[0].json["object"] == {
            "id": joost_id,
            "type": "Tombstone",
            "formerType": "Person",
            "deleted": deleted[0].json["object"]["deleted"],
        }
    finally:
        await peer.stop()
        await b.stop()
        await a.stop()
