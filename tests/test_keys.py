"""Key rotation: peers that cached the old key verify what is signed with the new one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from assignments_support import api, partners
from node import cli
from node.content.members.cards import NewMember
from node.storage import actors as actors_db
from node.storage import objects as objects_db
from node.storage import remote as remote_db
from nodes import Node, publish_note, restart_node, start_node, wait_for
from protocol import keys


async def _cached_pem(node: Node, key_id: str) -> str | None:
    row = await remote_db.get_key(node.rt.db, key_id)
    return row.pem if row else None


async def _public_pem(node: Node, username: str) -> str:
    actor = await actors_db.get_local(node.rt.db, username)
    assert actor is not None
    return keys.dump_public_pem(actor.rsa_key)


def _record_refetches(node: Node) -> list[str]:
    """Key ids ``node`` fetched again because a cached key failed (or was stale)."""
    fed = node.rt.federation
    original = fed.public_key
    refetched: list[str] = []

    async def public_key(key_id: str, *, refresh: bool = False) -> Any:
        if refresh:
            refetched.append(key_id)
        return await original(key_id, refresh=refresh)

    fed.public_key = public_key  # type: ignore[method-assign]
    return refetched


async def _speaks_rfc9421(a: Node, b: Node, value: bool) -> None:
    """What ``a`` believes of ``b``: whether to sign its deliveries with RFC 9421 or cavage."""
    await a.rt.db.write(
        lambda c: c.execute(
            "UPDATE remote_actors SET rfc9421 = ? WHERE host = ?", (int(value), b.settings.host)
        )
    )
    a.rt.delivery.invalidate_capabilities()


async def _processed(node: Node, activity_id: str) -> bool:
    await node.settle()
    row = await node.rt.db.fetchone("SELECT state FROM inbox WHERE activity_id = ?", (activity_id,))
    return row is not None and row["state"] == "done"


async def test_rotation_by_api_verifies_at_a_peer_that_cached_the_old_key(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Arnhem", host="127.0.0.2")
    b = await start_node(tmp_path, "Bemmel", host="127.0.0.3")
    try:
        await partners(b, a)
        key_id = a.network_id + "#main-key"
        old = await _public_pem(a, a.settings.slug)
        assert await _cached_pem(b, key_id) == old  # b verified a's Accept with it
        refetched = _record_refetches(b)
        await _speaks_rfc9421(a, b, False)  # cavage first, as to Mastodon
        admin = await a.rt.services["members"].new_token(a.settings.slug, by=None)
        async with aiohttp.ClientSession() as session:
            status, body = await api(session, a, "POST", "/api/v1/admin/keys/rotate", admin, {})
            assert status == 400, body
            await a.rt.services["members"].add(NewMember(username="eva", name="Eva"), by=None)
            eva = await a.rt.services["members"].new_token("eva", by=None)
            status, body = await api(
                session, a, "POST", "/api/v1/admin/keys/rotate", eva, {"actor": a.settings.slug}
            )
            assert status == 403, body
            status, body = await api(
                session, a, "POST", "/api/v1/admin/keys/rotate", admin, {"actor": a.settings.slug}
            )
            assert status == 200, body
        assert body["rotated"][0]["keys"] == [key_id, a.network_id + "#ed25519-key"]
        new = await _public_pem(a, a.settings.slug)
        assert new != old
        # What a serves now is the new key, under the same key id.
        async with aiohttp.ClientSession() as session, session.get(a.network_id) as resp:
            document = await resp.json(content_type=None)
        assert document["publicKey"] == {"id": key_id, "owner": a.network_id, "publicKeyPem": new}

        # What a signs now (cavage, RSA): b fails with its cached key, refetches, accepts.
        activity_id, _ = await publish_note(a, "after the rotation")
        await wait_for(lambda: _processed(b, activity_id))
        assert key_id in refetched
        assert await _cached_pem(b, key_id) == new
        update = await b.rt.db.fetchone(
            "SELECT state FROM inbox WHERE type = 'Update' AND actor = ?", (a.network_id,)
        )
        assert update is not None and update["state"] == "done"

        # Again with RFC 9421 (Ed25519), which a uses with peers that announce it, as b does.
        await _speaks_rfc9421(a, b, True)
        ed_key_id = a.network_id + "#ed25519-key"
        old_ed = await _cached_pem(b, ed_key_id)
        refetched.clear()
        async with aiohttp.ClientSession() as session:
            status, body = await api(
                session, a, "POST", "/api/v1/admin/keys/rotate", admin, {"all": True}
            )
        assert status == 200 and len(body["rotated"]) == 3  # the network, relay and eva
        activity_id, _ = await publish_note(a, "after the second rotation")
        await wait_for(lambda: _processed(b, activity_id))
        assert ed_key_id in refetched and key_id not in refetched
        assert await _cached_pem(b, ed_key_id) not in (None, old_ed)
    finally:
        await b.stop()
        await a.stop()


async def test_rotation_by_the_cli_while_the_node_runs(tmp_path: Path) -> None:
    """The CLI rotates in its own runtime; the running node signs with the new keys at once."""
    a = await start_node(tmp_path, "Almere", host="127.0.0.2")
    b = await start_node(tmp_path, "Blaricum", host="127.0.0.3")
    try:
        await partners(b, a)
        # The running node has loaded (and caches) its actors: the network, and the instance.
        activity_id, _ = await publish_note(a, "before the rotation")
        await wait_for(lambda: _processed(b, activity_id))
        old_instance = (await a.rt.federation.instance_actor()).ed25519_pem
        refetched = _record_refetches(b)

        code = await asyncio.to_thread(cli.main, ["keys", "rotate", "--all", "--data", str(a.data)])
        assert code == 0
        new = await _public_pem(a, a.settings.slug)
        activity_id, _ = await publish_note(a, "after the rotation")
        await wait_for(lambda: _processed(b, activity_id))
        # Signed with the new key (RFC 9421, Ed25519, between Kantine nodes): b had to refetch.
        assert a.network_id + "#ed25519-key" in refetched
        assert await _cached_pem(b, a.network_id + "#main-key") == new

        # The instance actor signs GETs from memory; the node reloads it within seconds.
        async def reloaded() -> bool:
            return (await a.rt.federation.instance_actor()).ed25519_pem != old_instance

        await wait_for(reloaded, timeout=10)
        # argparse: one of --actor and --all is required.
        code = await asyncio.to_thread(
            cli.main, ["keys", "rotate", "--actor", "nobody", "--data", str(a.data)]
        )
        assert code == 1
    finally:
        await b.stop()
        await a.stop()


async def test_proofs_with_the_new_key_verify_at_a_peer_that_cached_the_old_one(
    tmp_path: Path,
) -> None:
    a = await start_node(tmp_path, "Amstelveen", host="127.0.0.2")
    b = await start_node(tmp_path, "Beverwijk", host="127.0.0.3")
    try:
        await partners(b, a)
        await a.rt.services["members"].add(NewMember(username="mila", name="Mila"), by=None)
        mila = await a.rt.services["members"].new_token("mila", by=None)
        mila_key = a.url + "/members/mila#ed25519-key"

        async def post(title: str) -> str:
            async with aiohttp.ClientSession() as session:
                status, body = await api(
                    session, a, "POST", "/api/v1/assignments", mila, {"title": title}
                )
            assert status == 201, body
            return f"{a.url}/assignments/{body['id']}"

        async def kept(object_id: str) -> bool:
            await a.settle()
            await b.settle()
            return await objects_db.get(b.rt.db, object_id) is not None

        # b keeps mila's assignment through the network's Announce: it checked her proof.
        first = await post("Before")
        await wait_for(lambda: kept(first))
        old = await _cached_pem(b, mila_key)
        assert old is not None

        # Rotate while b is down, so b still holds the old key when it comes back.
        await b.stop()
        rotated = await a.rt.services["account"].rotate_keys(["mila"], by=None)
        assert [r.username for r in rotated] == ["mila"]
        b = await restart_node(b)
        assert await _cached_pem(b, mila_key) == old
        refetched = _record_refetches(b)

        # The next assignment's proof is made with the new key: b refetches once and keeps it.
        second = await post("After")
        await wait_for(lambda: kept(second))
        assert mila_key in refetched
        assert await _cached_pem(b, mila_key) != old

        # And a document signed now verifies directly, as does nothing signed with a forged key.
        current = await actors_db.get_local(a.rt.db, "mila")
        assert current is not None
        doc = a.rt.federation.sign_document(
            current,
            {"id": a.url + "/notes/x", "type": "Note", "attributedTo": a.url + "/members/mila"},
        )
        assert await b.rt.federation.verify_proof(doc) == a.url + "/members/mila"
    finally:
        await b.stop()
        await a.stop()
