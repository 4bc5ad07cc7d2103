"""Visibility of assignments across three real nodes: A and B are partners, C is not.

- ``cooperative`` reaches B (kept off B's public listings) and nothing else; C is never
  delivered to, and gets 401 unsigned / 404 signed on fetch; B fetches it with a signed GET;
- ``public`` reaches the network's followers, Announced by the network; anyone may GET it;
- ``network`` is delivered nowhere and served to no remote reader, only to local members;
- a removed assignment answers 410 with a Tombstone, and is gone on B too.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import msgspec
import pytest

from assignments_support import add_member, api, inbox_count, partners, received
from node.fetcher import FetchError
from node.storage import objects as objects_db
from nodes import Node, start_node, wait_for


async def _trio(tmp_path: Path) -> tuple[Node, Node, Node]:
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2")
    b = await start_node(tmp_path, "Loosduinen", host="127.0.0.3")
    c = await start_node(tmp_path, "Haarlem", host="127.0.0.4")
    await partners(b, a)  # B's network follows A's: A and B form the co-operative
    return a, b, c


async def _deliveries_to(node: Node, host: str) -> int:
    row = await node.rt.db.fetchone("SELECT count(*) AS n FROM deliveries WHERE host = ?", (host,))
    return int(row["n"])


async def _add(session: aiohttp.ClientSession, node: Node, token: str, **fields: object) -> dict:
    status, data = await api(session, node, "POST", "/api/v1/assignments", token, fields)
    assert status == 201, data
    return data


async def test_cooperative_reaches_partners_only(tmp_path: Path) -> None:
    a, b, c = await _trio(tmp_path)
    try:
        _, alice_token = await add_member(a, "alice")
        async with aiohttp.ClientSession() as session:
            data = await _add(
                session,
                a,
                alice_token,
                title="Logo for a bakery",
                skills=["design", "Illustration"],
                place="Leeuwarden",
                budget="450 EUR",
                deadline="2031-06-01",
                visibility="cooperative",
            )
            iri = data["iri"]
            assert data["visibility"] == "cooperative" and data["status"] == "open"
            await a.settle()
            # B, the partner, keeps it as co-operative content; off its public listings.
            row = await wait_for(lambda: received(b, iri))
            assert row["visibility"] == "cooperative" and row["local"] == 0
            public = await objects_db.listing(b.rt.db, type="Proposal")
            assert iri not in [o.id for o in public]
            # C got nothing at all, and nothing is queued for it.
            assert await inbox_count(c, a.settings.host) == 0
            assert await _deliveries_to(a, c.settings.host) == 0
            assert await received(c, iri) is None
            # Fetching: unsigned 401; signed by a non-partner 404; signed by the partner 200.
            async with session.get(iri, headers={"Accept": "application/activity+json"}) as r:
                assert r.status == 401
            with pytest.raises(FetchError) as refused:
                await c.rt.fetcher.fetch_json(iri)
            assert refused.value.status == 404
            fetched = msgspec.json.decode((await b.rt.fetcher.fetch_json(iri)).body)
            assert fetched["id"] == iri and fetched["type"] == "Proposal"
            assert fetched["to"] == [a.network_id + "/cooperative"] and fetched["cc"] == []
            assert "https://www.w3.org/ns/activitystreams#Public" not in fetched["to"]
            assert fetched["publishes"]["action"] == "deliverService"
            assert fetched["reciprocal"]["resourceQuantity"]["hasNumericalValue"] == "450"
            assert {t["name"] for t in fetched["tag"]} == {"#design", "#illustration"}
            # A local member with a token sees it; an anonymous API reader does not.
            async with session.get(iri, headers={"Authorization": f"Bearer {alice_token}"}) as r:
                assert r.status == 200
            status, _ = await api(session, a, "GET", f"/api/v1/assignments/{data['id']}")
            assert status == 404
    finally:
        for n in (a, b, c):
            await n.stop()


async def test_public_is_announced_and_network_stays_home(tmp_path: Path) -> None:
    a, b, c = await _trio(tmp_path)
    try:
        _, alice_token = await add_member(a, "alice")
        async with aiohttp.ClientSession() as session:
            public = await _add(
                session, a, alice_token, title="Website copy", remote=True, visibility="public"
            )
            await a.settle()
            row = await wait_for(lambda: received(b, public["iri"]))
            assert row["visibility"] == "public"
            # The network Announced the member's Create (the wrapped activity embedded whole).
            announce = await a.rt.db.fetchone(
                "SELECT raw FROM outbox WHERE type = 'Announce' AND object_id = ?",
                (public["iri"],),
            )
            doc = msgspec.json.decode(announce["raw"])
            assert doc["actor"] == a.network_id
            assert doc["object"]["type"] == "Create" and "proof" in doc["object"]
            async with session.get(public["iri"]) as r:
                assert r.status == 200
                assert r.content_type == "application/activity+json"
                served = await r.json(content_type=None)
            assert served["location"]["type"] == "VirtualLocation"
            assert await inbox_count(c, a.settings.host) == 0

            before = await _deliveries_to(a, b.settings.host)
            home = await _add(
                session, a, alice_token, title="Stand at the fair", visibility="network"
            )
            await a.settle()
            assert await _deliveries_to(a, b.settings.host) == before
            row = await a.rt.db.fetchone(
                "SELECT count(*) AS n FROM deliveries d JOIN outbox o ON o.seq = d.outbox_seq"
                " WHERE o.object_id = ?",
                (home["iri"],),
            )
            assert row["n"] == 0
            for fetcher in (b.rt.fetcher, c.rt.fetcher):
                with pytest.raises(FetchError) as refused:
                    await fetcher.fetch_json(home["iri"])
                assert refused.value.status == 404
            async with session.get(home["iri"]) as r:
                assert r.status == 404
            headers = {"Authorization": f"Bearer {alice_token}"}
            async with session.get(home["iri"], headers=headers) as r:
                assert r.status == 200

            # Removing: 410 with a Tombstone here, and B drops its copy.
            status, _ = await api(
                session, a, "DELETE", f"/api/v1/assignments/{public['id']}", alice_token
            )
            assert status == 200
            async with session.get(public["iri"]) as r:
                assert r.status == 410
                tomb = await r.json(content_type=None)
            assert tomb["type"] == "Tombstone" and tomb["formerType"] == "Proposal"
            await a.settle()

            async def gone() -> bool:
                kept = await received(b, public["iri"])
                return kept is not None and kept["deleted_at"] is not None

            await wait_for(gone)
    finally:
        for n in (a, b, c):
            await n.stop()
