"""The inbox, through a real node and a Mastodon-like peer: what is refused, what is stored, once.

DESIGN (Inbox): check what needs no further fetch and answer 4xx with a reason;
persist the verified raw bytes and answer 202; process after, from the database;
a type we do not act on has no effect and its reason is kept on the row; duplicates are
accepted once; a failing cached key is fetched again once (key rotation).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from node import cli
from node.appkeys import METRICS
from nodes import Node, start_node, wait_for
from peers import FakeActor, FakePeer

pytestmark = pytest.mark.asyncio(loop_scope="module")

PEER_HOST = "127.0.0.21"
BLOCKED_HOST = "127.0.0.22"
NODE_HOST = "127.0.0.20"


@dataclass
class World:
    node: Node
    peer: FakePeer
    blocked: FakePeer
    alice: FakeActor
    bob: FakeActor
    mallory: FakeActor


@pytest_asyncio.fixture(loop_scope="module", scope="module", name="w")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp: Path = tmp_path_factory.mktemp("inbox")
    node = await start_node(tmp, "Haarlem", host=NODE_HOST)
    peer = await FakePeer(PEER_HOST).start()
    blocked = await FakePeer(BLOCKED_HOST).start()
    try:
        rc = await asyncio.to_thread(
            cli.main, ["block", f"{blocked.host}:{blocked.port}", "--data", str(node.data)]
        )
        assert rc == 0
        yield World(
            node, peer, blocked, peer.actor("alice"), peer.actor("bob"), blocked.actor("mallory")
        )
    finally:
        await blocked.stop()
        await peer.stop()
        await node.stop()


# -- helpers -------------------------------------------------------------------------


async def send(
    url: str, body: bytes | Any, headers: dict[str, str]
) -> tuple[int, dict[str, Any] | str]:
    """POST raw bytes (or a chunked body) with exactly these headers; (status, JSON or text)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as resp,
    ):
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


def signed(actor: FakeActor, url: str, body: bytes, **kw: Any) -> dict[str, str]:
    return actor.sign("POST", url, body, **kw)


def like(w: World, actor: FakeActor | None = None, **extra: Any) -> dict[str, Any]:
    actor = actor or w.alice
    return w.peer.activity(actor, "Like", w.node.network_id, **extra)


def encode(document: Any) -> bytes:
    return msgspec.json.encode(document)


async def inbox_rows(node: Node) -> list[tuple[Any, ...]]:
    rows = await node.rt.db.fetchall("SELECT seq, activity_id, raw, state FROM inbox ORDER BY seq")
    return [tuple(r) for r in rows]


async def row_of(node: Node, activity_id: str) -> Any:
    return await node.rt.db.fetchone("SELECT * FROM inbox WHERE activity_id = ?", (activity_id,))


async def processed(node: Node, activity_id: str) -> Any:
    row = await row_of(node, activity_id)
    return row if row is not None and row["state"] != "pending" else None


# -- a good activity -------------------------------------------------------------------


async def test_signed_follow_is_stored_byte_for_byte_and_accepted_once(w: World) -> None:
    node, peer, alice = w.node, w.peer, w.alice
    follow = peer.activity(alice, "Follow", node.network_id)
    # Not msgspec's compact form: the stored bytes must be these, not a re-encoding.
    body = json.dumps(follow, indent=2, ensure_ascii=True).encode() + b"\n"
    url = node.url + "/inbox"

    status, answer = await send(url, body, signed(alice, url, body))
    assert status == 202, answer
    assert answer == {"accepted": follow["id"]}
    row = await row_of(node, follow["id"])
    assert bytes(row["raw"]) == body
    assert row["actor"] == alice.id and row["signer"] == alice.key_id
    assert row["type"] == "Follow" and row["recipient"] is None

    await wait_for(lambda: processed(node, follow["id"]))
    await node.settle()
    # Again, freshly signed: still 202 (the peer must not retry), still one row, not re-processed.
    status, answer = await send(url, body, signed(alice, url, body))
    assert status == 202, answer
    await node.settle()
    rows = await node.rt.db.fetchall(
        "SELECT state FROM inbox WHERE activity_id = ?", (follow["id"],)
    )
    assert [r["state"] for r in rows] == ["done"]
    metrics = node.app[METRICS]
    assert metrics.value("kantine_inbox_accepted_total", duplicate="yes") >= 1
    accepts = [
        r
        for r in peer.received
        if r.json["type"] == "Accept" and r.json["object"]["id"] == follow["id"]
    ]
    assert len(accepts) == 1, "a duplicate Follow must not be answered twice"
    assert accepts[0].error is None, accepts[0].error


async def test_a_body_arriving_in_pieces_is_stored_whole(w: World) -> None:
    """A body still arriving when the handler starts is read to its end (not only the
    part in hand), and stored byte for byte."""
    follow = w.peer.activity(w.alice, "Follow", w.node.network_id, content="y" * 5000)
    body = json.dumps(follow, indent=1).encode()
    url = w.node.url + "/inbox"
    headers = signed(w.alice, url, body)
    headers["Content-Length"] = str(len(body))

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]
            await asyncio.sleep(0.02)

    status, answer = await send(url, pieces(), headers)
    assert status == 202, answer
    row = await row_of(w.node, follow["id"])
    assert bytes(row["raw"]) == body


async def test_a_create_that_concerns_no_one_here_ends_before_its_object_is_fetched(
    w: World,
) -> None:
    """Neither followed nor addressed to anything here: discarded as routine, and the
    object it names is not fetched. Addressed to the network, the same kind of Create goes
    through: its object is fetched and kept."""
    node, peer, alice = w.node, w.peer, w.alice
    url = node.url + "/inbox"
    for n, extra in enumerate([{}, {"cc": [node.network_id]}]):
        path = f"/users/alice/notes/gate-{n}"
        peer.documents[path] = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": peer.base + path,
            "type": "Note",
            "attributedTo": alice.id,
            "content": "<p>Koffie</p>",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
        }
        create = peer.activity(
            alice,
            "Create",
            peer.base + path,
            to=["https://www.w3.org/ns/activitystreams#Public"],
            **extra,
        )
        body = encode(create)
        status, answer = await send(url, body, signed(alice, url, body))
        assert status == 202, answer
        row = await wait_for(lambda create=create: processed(node, create["id"]))
        fetched = ("GET", path) in peer.requests
        if not extra:
            assert row["state"] == "discarded"
            assert "is not followed and nothing in it is addressed to us" in row["note"]
            assert not fetched
        else:
            assert row["state"] == "done", row["note"]
            assert fetched


async def test_unhandled_type_is_stored_then_discarded_with_its_reason(
    w: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kantine.processor")
    node, alice = w.node, w.alice
    activity = like(w)
    body = encode(activity)
    url = node.network_id + "/inbox"  # the network's own inbox this time

    status, answer = await send(url, body, signed(alice, url, body))
    assert status == 202, answer
    row = await wait_for(lambda: processed(node, activity["id"]))
    assert bytes(row["raw"]) == body
    assert row["recipient"] == node.settings.slug
    assert row["state"] == "discarded"
    assert row["note"] and "Like" in row["note"]
    # Nothing to act on is routine: a DEBUG line (refusals are INFO), the reason on the row.
    lines = [
        r
        for r in caplog.records
        if r.name == "kantine.processor"
        and "discarded" in r.getMessage()
        and activity["id"] in r.getMessage()
    ]
    assert [r.levelno for r in lines] == [logging.DEBUG], [r.getMessage() for r in lines]

    # `kantine inbox` shows it with its outcome, newest first, filtered by state.
    rc, out = await _cli("inbox", "--data", str(node.data), "--state", "discarded", "--json")
    assert rc == 0, out
    listed = json.loads(out)
    assert listed and all(r["state"] == "discarded" for r in listed)
    assert [r["seq"] for r in listed] == sorted((r["seq"] for r in listed), reverse=True)
    mine = next(r for r in listed if r["activity"] == activity["id"])
    assert mine["type"] == "Like" and mine["actor"] == alice.id and mine["note"] == row["note"]
    rc, out = await _cli("inbox", "--data", str(node.data), "--state", "done", "--json")
    assert rc == 0 and activity["id"] not in out
    rc, out = await _cli("inbox", "--data", str(node.data), "--limit", "1", "--json")
    assert rc == 0 and len(json.loads(out)) == 1
    rc, _ = await _cli("inbox", "--data", str(node.data), "--limit", "0")
    assert rc == 1


async def _cli(*argv: str) -> tuple[int, str]:
    import contextlib
    import io

    out = io.StringIO()

    def call() -> int:
        with contextlib.redirect_stdout(out):
            return cli.main(list(argv))

    return await asyncio.to_thread(call), out.getvalue()


async def test_unknown_local_inbox_is_404(w: World) -> None:
    body = encode(like(w))
    url = w.node.url + "/members/nobody/inbox"
    before = await inbox_rows(w.node)
    status, answer = await send(url, body, signed(w.alice, url, body))
    assert status == 404 and isinstance(answer, dict) and answer["error"]
    assert await inbox_rows(w.node) == before


# -- what is refused ---------------------------------------------------------------------

Build = Callable[[World, str], tuple[bytes | Any, dict[str, str]]]


def _no_signature(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    return encode(like(w)), {"Content-Type": "application/activity+json"}


def _wrong_digest(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    body = encode(like(w))
    headers = signed(w.alice, url, body)
    headers["Digest"] = "SHA-256=" + base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    return body, headers


def _unsupported_digest(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    body = encode(like(w))
    headers = signed(w.alice, url, body)
    headers["Digest"] = "MD5=" + base64.b64encode(hashlib.md5(body).digest()).decode()
    return body, headers


def _body_changed(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    activity = like(w)
    headers = signed(w.alice, url, encode(activity))
    activity["object"] = w.node.url + "/members/someone-else"
    return encode(activity), headers


def _signature_tampered(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    body = encode(like(w))
    headers = signed(w.alice, url, body)
    value = re.search(r'signature="([^"]+)"', headers["Signature"])
    assert value is not None
    raw = bytearray(base64.b64decode(value.group(1)))
    raw[10] ^= 0xFF
    forged = base64.b64encode(bytes(raw)).decode()
    headers["Signature"] = headers["Signature"].replace(value.group(1), forged)
    return body, headers


def _date_too_old(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    # A replay of a request signed two hours ago (the window is 5 min + 1 h of skew).
    body = encode(like(w))
    return body, signed(w.alice, url, body, date=datetime.now(UTC) - timedelta(hours=2))


def _date_in_future(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    body = encode(like(w))
    return body, signed(w.alice, url, body, date=datetime.now(UTC) + timedelta(hours=2))


def _signed_by_another_actor(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    body = encode(like(w, w.alice))
    return body, signed(w.bob, url, body)  # a valid signature, by bob, for alice's activity


def _unknown_key(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    ghost = FakeActor("ghost", w.peer.base)  # not hosted by the peer: its key fetch is a 404
    body = encode(w.peer.activity(ghost, "Like", w.node.network_id))
    return body, signed(ghost, url, body)


def _id_on_another_origin(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    # Ids are deduplicated, so a foreign id would squat the real one of that origin.
    body = encode(like(w, id=w.node.url + "/activities/squatted"))
    return body, signed(w.alice, url, body)


def _blocked_host(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    body = encode(w.blocked.activity(w.mallory, "Like", w.node.network_id))
    return body, signed(w.mallory, url, body)


def _too_large(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    body = encode(like(w, content="x" * (1 << 20)))
    return body, signed(w.alice, url, body)


def _too_large_chunked(w: World, url: str) -> tuple[Any, dict[str, str]]:
    body = encode(like(w, content="x" * (1 << 20)))
    headers = signed(w.alice, url, body)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    return chunks(), headers  # no Content-Length: the limit must hold while reading


def _wrong_content_type(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    body = encode(like(w))
    headers = signed(w.alice, url, body)
    headers["Content-Type"] = "text/plain"
    return body, headers


def _invalid_json(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    body = b'{"type": "Like", "actor": ' + w.alice.id.encode() + b"}"
    return body, signed(w.alice, url, body)


def _not_an_object(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    body = encode([like(w)])
    return body, signed(w.alice, url, body)


def _nested_100_deep(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    deep: Any = "bottom"
    for _ in range(100):
        deep = [deep]
    body = encode(like(w, attachment=deep))
    return body, signed(w.alice, url, body)


def _without_id(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    activity = like(w)
    del activity["id"]
    body = encode(activity)
    return body, signed(w.alice, url, body)


def _without_actor(w: World, url: str) -> tuple[bytes, dict[str, str]]:
    activity = like(w)
    del activity["actor"]
    body = encode(activity)
    return body, signed(w.alice, url, body)


#: (name, build, status, words the reason contains, metric reason label)
REFUSED: list[tuple[str, Build, int, str, str]] = [
    ("no-signature", _no_signature, 401, "no signature", "signature"),
    ("wrong-digest", _wrong_digest, 401, "digest mismatch", "signature"),
    ("unsupported-digest", _unsupported_digest, 401, "digest", "signature"),
    ("body-changed-after-signing", _body_changed, 401, "digest mismatch", "signature"),
    ("signature-tampered", _signature_tampered, 401, "signature", "signature"),
    ("date-too-old-replay", _date_too_old, 401, "expired", "signature"),
    ("date-in-future", _date_in_future, 401, "future", "signature"),
    ("signer-does-not-own-actor", _signed_by_another_actor, 403, "does not own", "ownership"),
    ("unknown-key-404", _unknown_key, 401, "could not fetch", "signature"),
    ("id-on-another-origin", _id_on_another_origin, 403, "origin", "ownership"),
    ("blocked-host", _blocked_host, 403, "blocked", "blocked"),
    ("too-large", _too_large, 413, "too large", "too_large"),
    ("too-large-chunked", _too_large_chunked, 413, "too large", "too_large"),
    ("wrong-content-type", _wrong_content_type, 415, "content type", "415"),
    ("invalid-json", _invalid_json, 400, "", "invalid"),
    ("not-an-object", _not_an_object, 400, "object", "invalid"),
    ("nested-100-deep", _nested_100_deep, 400, "deep", "invalid"),
    ("without-id", _without_id, 400, "id", "invalid"),
    ("without-actor", _without_actor, 400, "actor", "invalid"),
]


@pytest.mark.parametrize(
    ("build", "status", "words", "label"),
    [pytest.param(*case[1:], id=case[0]) for case in REFUSED],
)
@pytest.mark.parametrize("path", ["/inbox", "/network/inbox"])
async def test_refused_with_a_reason_and_nothing_stored(
    w: World, build: Build, status: int, words: str, label: str, path: str
) -> None:
    node = w.node
    url = node.url + path
    metrics = node.app[METRICS]
    rejected = metrics.value("kantine_inbox_rejected_total", reason=label)
    before = await inbox_rows(node)

    body, headers = build(w, url)
    got, answer = await send(url, body, headers)

    assert got == status, answer
    assert isinstance(answer, dict) and isinstance(answer.get("error"), str), answer
    assert words.lower() in answer["error"].lower(), answer
    await asyncio.sleep(0.05)  # anything written would be committed by now
    assert await inbox_rows(node) == before
    assert metrics.value("kantine_inbox_rejected_total", reason=label) == rejected + 1


# -- keys -----------------------------------------------------------------------------


async def test_rotated_key_is_fetched_again_once(w: World) -> None:
    node, peer = w.node, w.peer
    rosa = peer.actor("rosa")
    url = node.url + "/inbox"
    old = dataclasses.replace(rosa)  # same actor, the old key

    first = encode(like(w, rosa))
    status, answer = await send(url, first, signed(rosa, url, first))
    assert status == 202, answer
    assert peer.fetches.count("/users/rosa") == 1

    rosa.key = rsa.generate_private_key(65537, 2048)  # the peer now publishes a new key
    second = encode(like(w, rosa))
    status, answer = await send(url, second, signed(rosa, url, second))
    assert status == 202, answer
    assert peer.fetches.count("/users/rosa") == 2, "the cached key failed: fetch it again, once"
    cached = await node.rt.db.fetchone(
        "SELECT pem FROM remote_keys WHERE key_id = ?", (rosa.key_id,)
    )
    new_pem = rosa.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert cached["pem"].strip() == new_pem.decode().strip()

    # The same cached (new) key now; nothing more is fetched for a good signature.
    third = encode(like(w, rosa))
    status, answer = await send(url, third, signed(rosa, url, third))
    assert status == 202, answer
    assert peer.fetches.count("/users/rosa") == 2

    # A request signed with the retired key: one refetch, then 401.
    stale = encode(like(w, rosa))
    status, answer = await send(url, stale, signed(old, url, stale))
    assert status == 401, answer
    assert peer.fetches.count("/users/rosa") == 3
    assert await row_of(node, msgspec.json.decode(stale)["id"]) is None


# -- metrics ----------------------------------------------------------------------------

_SAMPLE = re.compile(r"^(\w+)(\{[^}]*\})? (\S+)$")


async def scrape(node: Node) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(node.url + "/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    found = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            found[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return found


async def test_metrics_count_accepted_and_rejected_by_reason(w: World) -> None:
    node = w.node
    url = node.url + "/inbox"
    before = await scrape(node)

    good = encode(like(w))
    assert (await send(url, good, signed(w.alice, url, good)))[0] == 202
    assert (await send(url, good, signed(w.alice, url, good)))[0] == 202  # duplicate
    for build in (_no_signature, _date_too_old, _blocked_host, _signed_by_another_actor):
        body, headers = build(w, url)
        assert (await send(url, body, headers))[0] in (401, 403)
    body, headers = _invalid_json(w, url)
    assert (await send(url, body, headers))[0] == 400
    after = await scrape(node)

    def delta(sample: str) -> float:
        return after.get(sample, 0.0) - before.get(sample, 0.0)

    assert delta('kantine_inbox_accepted_total{duplicate="no"}') == 1
    assert delta('kantine_inbox_accepted_total{duplicate="yes"}') == 1
    assert delta('kantine_inbox_rejected_total{reason="signature"}') == 2
    assert delta('kantine_inbox_rejected_total{reason="blocked"}') == 1
    assert delta('kantine_inbox_rejected_total{reason="ownership"}') == 1
    assert delta('kantine_inbox_rejected_total{reason="invalid"}') == 1
    await node.settle()
    queue = await scrape(node)
    assert queue.get('kantine_inbox_queue{state="discarded"}', 0) >= 1
