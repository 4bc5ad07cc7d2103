"""The bad-input corpus (``tests/corpus/``), split as DESIGN.md's inbox rule splits it.

Before answering: what needs no further fetch is refused with a 4xx and a reason, and
nothing is stored (``before_answer.json``: the inbox, WebFinger look-alikes, and signer
keys at addresses the node must never connect to). After answering: what only
processing can disprove is acknowledged with 202, then has no effect at all and leaves a
log line (``after_answer.json``). The node answers ``/healthz`` after every case.

Single refusals already covered by ``test_inbox.py`` are not repeated here; redirects to
private addresses at the fetcher level are in ``test_fetcher.py``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa

from node.http import FakeResolver, make_connector
from node.processor import Outcome
from nodes import Node, start_node, start_node_with, wait_for
from peers import FakeActor, FakePeer
from protocol import keys, proofs
from protocol.httpsig import cavage

pytestmark = pytest.mark.asyncio(loop_scope="module")

CORPUS = Path(__file__).parent / "corpus"
BEFORE = json.loads((CORPUS / "before_answer.json").read_text(encoding="utf-8"))
AFTER = json.loads((CORPUS / "after_answer.json").read_text(encoding="utf-8"))
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = AS_CONTEXT + "#Public"

NODE_HOST, PEER_HOST, PEER_B_HOST = "127.0.0.90", "127.0.0.91", "127.0.0.92"
GUARDED_HOST, PRIVATE_HOST, PUBLIC_HOST = "127.0.0.93", "127.0.0.94", "127.0.0.95"
STRICT_HOST = "127.0.0.96"
AFTER_HOST, AFTER_PEER_A, AFTER_PEER_B = "127.0.0.97", "127.0.0.98", "127.0.0.99"

_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\d+))?\}")
_FULLWIDTH = {ord("0") + i: 0xFF10 + i for i in range(10)}  # 0-9 -> FULLWIDTH DIGIT 0-9


# -- filling in the corpus -------------------------------------------------------------


def fill(value: Any, values: dict[str, str]) -> Any:
    """Replace ``{name}`` (and ``{pad:N}``) in every string of a JSON value."""
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            name, size = match.group(1), match.group(2)
            if name == "pad" and size:
                return "A" * int(size)
            return values.get(name, match.group(0))

        return _PLACEHOLDER.sub(one, value)
    if isinstance(value, list):
        return [fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, values) for key, item in value.items()}
    return value


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for name in parents:
        document = document[name]
    document[last] = value


def nested(shape: str, depth: int) -> bytes:
    """JSON text nested ``depth`` deep (built as text: an encoder would recurse)."""
    kinds = [shape if shape != "mixed" else "[{"[level % 2] for level in range(depth)]
    opening = "".join("[" if kind == "[" else '{"a":' for kind in kinds)
    closing = "".join("]" if kind == "[" else "}" for kind in reversed(kinds))
    return (opening + '"bottom"' + closing).encode()


def encode(document: Any) -> bytes:
    return msgspec.json.encode(document)


def digest_of(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def sign(
    url: str,
    body: bytes,
    *,
    key_id: str,
    key: Any,
    date: datetime | None = None,
    covered: list[str] | None = None,
) -> dict[str, str]:
    """Headers of a draft-cavage signed POST (what Mastodon sends, unless ``covered`` says)."""
    headers = {
        "Host": urlsplit(url).netloc,
        "Date": format_datetime(date or datetime.now(UTC), usegmt=True),
        "Digest": digest_of(body),
        "Content-Type": "application/activity+json",
    }
    covered = covered or ["(request-target)", "host", "date", "digest", "content-type"]
    headers["Signature"] = cavage.sign_request(
        "POST", url, headers, key_id=key_id, key=key, covered=covered
    )
    return headers


async def send(
    url: str, body: bytes, headers: list[tuple[str, str]] | dict[str, str]
) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as resp,
    ):
        return resp.status, await resp.text()


def reason_of(text: str) -> str:
    try:
        answer = json.loads(text)
    except ValueError:
        return text
    return str(answer.get("error", "")) if isinstance(answer, dict) else text


async def healthy(node: Node) -> None:
    async with aiohttp.ClientSession() as session, session.get(node.url + "/healthz") as resp:
        assert resp.status == 200, "the node stopped serving"


async def inbox_rows(node: Node) -> list[tuple[Any, ...]]:
    rows = await node.rt.db.fetchall("SELECT seq, activity_id, raw FROM inbox ORDER BY seq")
    return [tuple(r) for r in rows]


# -- actors ------------------------------------------------------------------------------


@dataclass
class ProvingActor(FakeActor):
    """A peer's actor that also publishes an Ed25519 Multikey and makes FEP-8b32 proofs."""

    kind: str = "Person"
    ed25519: Any = field(default_factory=keys.generate_ed25519)

    @property
    def method(self) -> str:
        return self.id + "#ed25519-key"

    def document(self) -> dict[str, Any]:
        document = super().document()
        document["type"] = self.kind
        document["assertionMethod"] = [
            {
                "id": self.method,
                "type": "Multikey",
                "controller": self.id,
                "publicKeyMultibase": keys.encode_multikey(self.ed25519.public_key()),
            }
        ]
        return document

    def prove(self, document: dict[str, Any]) -> dict[str, Any]:
        return proofs.create_proof(
            document, key=self.ed25519, verification_method=self.method, created=datetime.now(UTC)
        )


def host_actor(peer: FakePeer, actor: FakeActor) -> FakeActor:
    peer.actors[actor.username] = actor
    return actor


# == before answering: the inbox ==========================================================


@dataclass
class Before:
    node: Node
    peer: FakePeer
    peer_b: FakePeer
    actors: dict[str, FakeActor]
    values: dict[str, str]


@pytest_asyncio.fixture(loop_scope="module", scope="module", name="before")
async def before_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Before]:
    tmp = tmp_path_factory.mktemp("corpus-before")
    node = await start_node(tmp, "Leeuwarden ZZP", host=NODE_HOST)
    peer = await FakePeer(PEER_HOST).start()
    peer_b = await FakePeer(PEER_B_HOST).start()
    peer.documents["/broken/not-utf8"] = b'{"id": "\xff\xfe", "type": "Person"}'
    peer.documents["/broken/not-json"] = b"<html>Welcome to nginx!</html>"
    actors = {
        "alice": peer.actor("alice"),
        "bob": peer.actor("bob"),
        "carol": peer_b.actor("carol"),
    }
    values = {
        "alice": actors["alice"].id,
        "bob": actors["bob"].id,
        "carol": actors["carol"].id,
        "network": node.network_id,
        "node": node.url,
        "peer": peer.base,
        "peer_ip": PEER_HOST,
        "peer_port": str(peer.port),
        "slug": node.settings.slug,
        "host": node.settings.host,
        "node_ip": NODE_HOST,
        "node_ip_fullwidth": NODE_HOST.translate(_FULLWIDTH),
        "port": str(node.port),
    }
    try:
        yield Before(node, peer, peer_b, actors, values)
    finally:
        await peer_b.stop()
        await peer.stop()
        await node.stop()


def build(case: dict[str, Any], w: Before, url: str) -> tuple[bytes, list[tuple[str, str]], str]:
    """The request a corpus case describes: (body, headers, the activity id it claims)."""
    values = w.values | {"uuid": uuid.uuid4().hex}
    spec = case.get("body", {})
    activity = fill(copy.deepcopy(BEFORE["base"]), values)
    for path, value in spec.get("set", {}).items():
        set_path(activity, path, fill(value, values))
    for path in spec.get("delete", []):
        activity.pop(path)
    if "nest" in spec:
        activity[spec["nest"]["field"]] = "__NESTED__"
    if "string" in spec:
        activity[spec["string"]["field"]] = "x" * spec["string"]["bytes"]
    if "many_keys" in spec:
        activity.update({f"k{i}": i for i in range(spec["many_keys"])})
    body = encode(activity)
    if "nest" in spec:
        nest = spec["nest"]
        body = body.replace(b'"__NESTED__"', nested(nest["shape"], nest["depth"]))
    if "pad_to" in spec:  # in strings of 50 000 characters: under the per-string limit
        for i in range(spec["pad_to"] // 50_000 + 1):
            activity[f"p{i}"] = "x" * 50_000
        excess = len(encode(activity)) - spec["pad_to"]
        last = f"p{spec['pad_to'] // 50_000}"
        activity[last] = activity[last][:-excess]
        body = encode(activity)
        assert len(body) == spec["pad_to"]
    if "json" in spec:
        body = encode(fill(spec["json"], values))
    if "raw" in spec:
        body = fill(spec["raw"], values).encode()
    if "repeat_text" in spec:
        body = spec["repeat_text"]["text"].encode() * spec["repeat_text"]["times"]
    mangle = spec.get("mangle", {})
    if "truncate" in mangle:
        body = body[: -mangle["truncate"]]
    if "suffix" in mangle:
        body += mangle["suffix"].encode()
    if "prefix_hex" in mangle:
        body = bytes.fromhex(mangle["prefix_hex"]) + body
    if "insert" in mangle:
        body = body[:-1] + fill(mangle["insert"], values).encode() + body[-1:]
    if "insert_hex" in mangle:
        body = body[:-1] + bytes.fromhex(mangle["insert_hex"]) + body[-1:]
    if "repeat" in mangle:
        body *= mangle["repeat"]
    if "encoding" in mangle:
        body = body.decode().encode(mangle["encoding"])

    how = case.get("sign", {})
    signer = w.actors[how.get("signer", "alice")]
    key: Any = signer.key
    if how.get("key") == "ed25519":
        key = keys.generate_ed25519()
    elif "key" in how:
        key = w.actors[how["key"]].key
    date = datetime.now(UTC) + timedelta(seconds=how.get("date_offset", 0))
    headers = sign(
        url,
        body,
        key_id=fill(how.get("key_id", signer.key_id), values),
        key=key,
        date=date,
        covered=how.get("covered"),
    )
    after = spec.get("after_signing", {})
    if "flip_in" in after:
        at = body.index(after["flip_in"].encode()) + len(after["flip_in"]) - 1
        body = body[:at] + bytes([body[at] ^ 0x20]) + body[at + 1 :]
    for name, value in case.get("headers", {}).items():
        headers.pop(name, None)
        if value is not None:
            headers[name] = fill(value, values)
    for name, (old, new) in case.get("replace", {}).items():
        assert old in headers[name], (name, headers[name])
        headers[name] = headers[name].replace(old, new)
    pairs = list(headers.items()) + [(n, fill(v, values)) for n, v in case.get("add_headers", [])]
    claimed = activity.get("id") if isinstance(activity.get("id"), str) else ""
    return body, pairs, claimed


@pytest.mark.parametrize("case", [pytest.param(case, id=case["name"]) for case in BEFORE["inbox"]])
async def test_before_answering(before: Before, case: dict[str, Any]) -> None:
    node = before.node
    url = node.url + "/inbox"
    expect = case["expect"]
    rows = await inbox_rows(node)

    body, headers, claimed = build(case, before, url)
    status, text = await send(url, body, headers)
    if case.get("send_twice"):
        assert status == expect["status"], text
        status, text = await send(url, body, headers)

    assert status == expect["status"], (status, text[:300])
    if status >= 400:
        assert expect["reason"].lower() in reason_of(text).lower(), text[:300]
        assert await inbox_rows(node) == rows, "a refused request stored something"
    else:
        stored = await node.rt.db.fetchall(
            "SELECT raw FROM inbox WHERE activity_id = ?", (claimed,)
        )
        assert [bytes(r["raw"]) for r in stored] == [body], "accepted: stored once, byte for byte"
    await healthy(node)


@pytest.mark.parametrize(
    "case", [pytest.param(case, id=case["name"]) for case in BEFORE["webfinger"]]
)
async def test_webfinger_look_alikes_serve_nothing(before: Before, case: dict[str, Any]) -> None:
    node = before.node
    resource = fill(case["resource"], before.values)
    async with (
        aiohttp.ClientSession() as session,
        session.get(node.url + "/.well-known/webfinger", params={"resource": resource}) as resp,
    ):
        status, text = resp.status, await resp.text()
    if case.get("served"):
        assert status == 200, text
        assert json.loads(text)["subject"] == f"acct:{node.settings.slug}@{node.settings.host}"
    else:
        assert status in (400, 404), (status, text)
        assert "subject" not in text and node.network_id not in text, text
        assert reason_of(text), "a refusal names its reason"
    await healthy(node)


# == before answering: signer keys the node must not fetch (SSRF) ==========================


@dataclass
class Guarded:
    node: Node
    public: FakePeer  # on an address the node may connect to
    private: FakePeer  # listening on a refused loopback address
    values: dict[str, str]
    key: rsa.RSAPrivateKey


@pytest_asyncio.fixture(loop_scope="module", scope="module", name="guarded")
async def guarded_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Guarded]:
    """A node that refuses private addresses (``dev`` off), except one loopback address that
    stands in for the public internet; ``loopback.example`` resolves to a refused one."""
    tmp = tmp_path_factory.mktemp("corpus-ssrf")
    public = await FakePeer(PUBLIC_HOST).start()
    private = await FakePeer(PRIVATE_HOST).start()
    connector = make_connector(
        allow_private=False,
        resolver=FakeResolver({"loopback.example": PRIVATE_HOST}),
        is_allowed=lambda ip: str(ip) == PUBLIC_HOST,
    )
    node = await start_node_with(tmp, "Sneek", host=GUARDED_HOST, connector=connector, dev=False)
    values = {
        "public": public.base,
        "private_ip": PRIVATE_HOST,
        "private_port": str(private.port),
    }
    try:
        yield Guarded(node, public, private, values, rsa.generate_private_key(65537, 2048))
    finally:
        await node.stop()
        await private.stop()
        await public.stop()


@pytest.mark.parametrize("case", [pytest.param(case, id=case["name"]) for case in BEFORE["ssrf"]])
async def test_signer_keys_at_refused_addresses_are_never_fetched(
    guarded: Guarded, case: dict[str, Any]
) -> None:
    node, public, private = guarded.node, guarded.public, guarded.private
    base = fill(case["key_base"], guarded.values)
    name = "k" + uuid.uuid4().hex[:8]
    actor = FakeActor(name, base, key=guarded.key)
    # Whatever the node might reach is ready to answer: a refusal is the node's own doing.
    host_actor(public, actor)
    host_actor(private, FakeActor(name, private.base, key=guarded.key))
    if "redirect" in case:
        public.redirects[f"/users/{name}"] = (
            fill(case["redirect"], guarded.values) + f"/users/{name}"
        )
    seen_private, seen_public = len(private.requests), len(public.requests)
    rows = await inbox_rows(node)

    url = node.url + "/inbox"
    body = encode(
        {
            "@context": AS_CONTEXT,
            "id": f"{actor.id}/activities/{uuid.uuid4().hex}",
            "type": "Like",
            "actor": actor.id,
            "object": node.network_id,
        }
    )
    status, text = await send(url, body, sign(url, body, key_id=actor.key_id, key=actor.key))

    expect = case.get("expect", {"status": 401, "reason": "refused"})
    assert status == expect["status"], text
    if status == 202:
        assert len(public.requests) > seen_public, "the control fetched its key"
    else:
        assert expect["reason"] in reason_of(text), text
        assert await inbox_rows(node) == rows
    assert private.requests[seen_private:] == [], "the node connected to a refused address"
    if "redirect" in case:
        assert ("GET", f"/users/{name}") in public.requests[seen_public:]
    await healthy(node)


async def test_dev_off_refuses_a_loopback_signer_key(tmp_path: Path) -> None:
    """The default wiring: ``dev = false`` alone (no test connector) refuses loopback keys."""
    listener = await FakePeer(PRIVATE_HOST).start()
    node = await start_node(tmp_path, "Dokkum", host=STRICT_HOST, dev=False)
    try:
        actor = listener.actor("alice")
        url = node.url + "/inbox"
        body = encode(
            {
                "@context": AS_CONTEXT,
                "id": f"{actor.id}/activities/1",
                "type": "Like",
                "actor": actor.id,
                "object": node.network_id,
            }
        )
        status, text = await send(url, body, sign(url, body, key_id=actor.key_id, key=actor.key))
        assert status == 401, text
        assert "refused" in reason_of(text) and "loopback" in reason_of(text), text
        assert listener.requests == []
        assert await inbox_rows(node) == []
        await healthy(node)
    finally:
        await node.stop()
        await listener.stop()


# == after answering: acknowledged, then no effect ===========================================


@dataclass
class After:
    node: Node
    peer_a: FakePeer
    peer_b: FakePeer
    actors: dict[str, FakeActor]
    values: dict[str, str]


async def processed(node: Node, activity_id: str) -> Any:
    row = await node.rt.db.fetchone("SELECT * FROM inbox WHERE activity_id = ?", (activity_id,))
    return row if row is not None and row["state"] != "pending" else None


async def deliver(w: After, sender: str, activity: dict[str, Any]) -> Any:
    """POST ``activity`` (completed with context, id and actor) as ``sender``; the processed row."""
    actor = w.actors[sender]
    document = {
        "@context": AS_CONTEXT,
        "id": f"{actor.id}/activities/{uuid.uuid4().hex}",
        "actor": actor.id,
        **activity,
    }
    url = w.node.url + "/inbox"
    body = encode(document)
    status, text = await send(url, body, sign(url, body, key_id=actor.key_id, key=actor.key))
    assert status == 202, text
    return await wait_for(lambda: processed(w.node, document["id"]))


def with_proofs(value: Any, actors: dict[str, FakeActor]) -> Any:
    """Resolve ``{"$proof": {signer, document, then_set}}`` markers into proven documents."""
    if isinstance(value, list):
        return [with_proofs(item, actors) for item in value]
    if not isinstance(value, dict):
        return value
    if "$proof" in value:
        spec = value["$proof"]
        signer = actors[spec["signer"]]
        assert isinstance(signer, ProvingActor)
        proven = signer.prove(with_proofs(spec["document"], actors))
        for path, new in spec.get("then_set", {}).items():
            set_path(proven, path, new)
        return proven
    return {key: with_proofs(item, actors) for key, item in value.items()}


_WATCHED = [
    ("objects", "SELECT id, type, author, visibility, raw, deleted_at FROM objects ORDER BY id"),
    ("follows", "SELECT local, remote, direction, state, activity_id FROM follows ORDER BY id"),
    ("outbox", "SELECT count(*) FROM outbox"),
    ("deliveries", "SELECT count(*) FROM deliveries"),
    ("remote_members", "SELECT * FROM remote_members"),
    ("events", "SELECT * FROM events"),
    ("event_participants", "SELECT * FROM event_participants"),
    ("offers", "SELECT * FROM offers"),
    ("project_participants", "SELECT * FROM project_participants"),
]


async def effects(node: Node) -> dict[str, Any]:
    """Everything processing could change: stored objects, follows, what we publish."""
    tables = {
        r["name"]
        for r in await node.rt.db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    found: dict[str, Any] = {}
    for table, query in _WATCHED:
        if table in tables:
            found[table] = [tuple(r) for r in await node.rt.db.fetchall(query)]
    found["remote_actors"] = {
        r["id"]: bytes(r["raw"])
        for r in await node.rt.db.fetchall("SELECT id, raw FROM remote_actors")
    }
    return found


@pytest_asyncio.fixture(loop_scope="module", scope="module", name="after")
async def after_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[After]:
    tmp = tmp_path_factory.mktemp("corpus-after")
    node = await start_node(tmp, "Zwolle", host=AFTER_HOST)
    peer_a = await FakePeer(AFTER_PEER_A).start()
    peer_b = await FakePeer(AFTER_PEER_B).start()
    try:
        actors: dict[str, FakeActor] = {
            "alice": peer_a.actor("alice"),
            "group": host_actor(peer_a, ProvingActor("group", peer_a.base, kind="Group")),
            "carol": host_actor(peer_a, ProvingActor("carol", peer_a.base)),
            "dave": host_actor(peer_a, ProvingActor("dave", peer_a.base)),
            "bob": peer_b.actor("bob"),
            "frank": peer_b.actor("frank"),
        }
        w = After(node, peer_a, peer_b, actors, {})
        network, fed = await node.network(), node.rt.federation
        follows = {}
        for name in ("alice", "group", "bob", "frank"):
            remote = await fed.remote_actor(actors[name].id)
            follows[name] = await node.rt.follows.follow(network, remote)
        for name in ("alice", "group", "bob"):  # frank never answers
            row = await deliver(w, name, {"type": "Accept", "object": follows[name]})
            assert row["state"] == "done", row["note"]
        bob_follow = await peer_b.follow(actors["bob"], node.url, node.network_id)

        bob_note = {
            "id": f"{peer_b.base}/notes/bobnote",
            "type": "Note",
            "attributedTo": actors["bob"].id,
            "content": "Koffie om tien",
            "to": [PUBLIC],
        }
        peer_b.documents["/notes/bobnote"] = bob_note
        row = await deliver(w, "bob", {"type": "Create", "object": bob_note, "to": [PUBLIC]})
        assert row["state"] == "done", row["note"]

        carol = actors["carol"].id

        def note(object_id: str, author: str = carol, text: str = "Hallo") -> dict[str, Any]:
            return {
                "id": object_id,
                "type": "Note",
                "attributedTo": author,
                "content": text,
                "to": [PUBLIC],
            }

        peer_a.documents["/objects/mirror"] = note(f"{peer_a.base}/objects/other")
        peer_a.documents["/objects/foreign"] = note(
            f"{peer_b.base}/notes/foreign", actors["bob"].id
        )
        peer_a.documents["/objects/honest"] = note(f"{peer_a.base}/objects/honest")
        peer_a.redirects["/objects/moved"] = f"{peer_b.base}/objects/impostor"
        peer_b.documents["/objects/impostor"] = note(f"{peer_a.base}/objects/moved", text="Nep")
        deep = b"[" * 5000 + b"]" * 5000
        peer_a.documents["/objects/deep"] = deep
        peer_a.documents["/users/alice/notes/deep"] = deep
        peer_a.documents["/objects/not-utf8"] = b'{"id": "\xff", "type": "Note"}'
        peer_a.documents["/objects/huge-number"] = (
            b'{"id": "%s/objects/huge-number", "type": "Note", "x": 1e999}' % peer_a.base.encode()
        )

        w.values = {name: actor.id for name, actor in actors.items()} | {
            "network": node.network_id,
            "node": node.url,
            "peerA": peer_a.base,
            "peerB": peer_b.base,
            "bob_note": bob_note["id"],
            "bob_follow": bob_follow,
            "frank_follow": follows["frank"],
        }
        await node.settle()
        yield w
    finally:
        await peer_b.stop()
        await peer_a.stop()
        await node.stop()


@pytest.mark.parametrize("case", [pytest.param(case, id=case["name"]) for case in AFTER["cases"]])
async def test_after_answering_no_effect(
    after: After, case: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kantine.processor")
    node = after.node
    activity = with_proofs(
        fill(case["activity"], after.values | {"uuid": uuid.uuid4().hex}), after.actors
    )
    before = await effects(node)

    row = await deliver(after, case["from"], activity)
    await node.settle()

    assert row["state"] == "discarded", row["note"]
    assert case["log"] in (row["note"] or ""), row["note"]
    after_effects = await effects(node)
    assert {k: v for k, v in after_effects.items() if k != "remote_actors"} == {
        k: v for k, v in before.items() if k != "remote_actors"
    }
    for actor_id, raw in before["remote_actors"].items():
        assert after_effects["remote_actors"].get(actor_id) == raw, f"{actor_id} was changed"
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "kantine.processor" and row["activity_id"] in r.getMessage()
    ]
    assert any(case["log"] in line for line in lines), lines
    await healthy(node)


@pytest.mark.parametrize(
    "case", [pytest.param(case, id=case["name"]) for case in AFTER["controls"]]
)
async def test_after_answering_controls_have_their_effect(
    after: After, case: dict[str, Any]
) -> None:
    """The same set-ups done right are acted on: the corpus' refusals are the node's choice."""
    values = after.values | {"uuid": uuid.uuid4().hex}
    activity = with_proofs(fill(case["activity"], values), after.actors)
    row = await deliver(after, case["from"], activity)
    assert row["state"] == "done", row["note"]
    kept = await after.node.rt.db.fetchone(
        "SELECT id FROM objects WHERE id = ?", (fill(case["kept"], values),)
    )
    assert kept is not None


async def test_corpus_size_per_class() -> None:
    """The corpus is as large as the issue asks: every class is there."""
    classes: dict[str, int] = {}
    for case in BEFORE["inbox"] + AFTER["cases"]:
        classes[case["class"]] = classes.get(case["class"], 0) + 1
    for wanted in (
        "malformed-json",
        "deep-nesting",
        "huge",
        "wrong-types",
        "forged-signature",
        "replayed-signature",
        "digest-mismatch",
        "key-owner-mismatch",
        "foreign-id",
        "spoofed-origin",
        "foreign-update",
        "foreign-delete",
        "forged-announce",
        "bad-follow",
    ):
        assert classes.get(wanted, 0) >= 3, (wanted, classes)
    assert len(BEFORE["webfinger"]) >= 5 and len(BEFORE["ssrf"]) >= 10
    names = [c["name"] for c in BEFORE["inbox"] + AFTER["cases"] + BEFORE["ssrf"]]
    assert len(names) == len(set(names)), "case names are test ids: keep them unique"


async def test_a_handler_failing_on_one_activity_does_not_stop_the_queue(
    after: After, caplog: pytest.LogCaptureFixture
) -> None:
    """A poison activity is discarded with a logged traceback; the next one is processed."""
    processor = after.node.rt.processor
    poison: list[str] = []

    async def explode(item: Any, document: dict[str, Any]) -> Any:
        if item.activity_id in poison:
            raise RecursionError("maximum recursion depth exceeded")
        return Outcome.done("liked")

    original = processor.handlers.get("Like", [])
    processor.handlers["Like"] = [explode]
    try:
        actor = after.actors["alice"]
        poison.append(f"{actor.id}/activities/poison-{uuid.uuid4().hex}")
        url = after.node.url + "/inbox"
        for activity_id in (poison[0], f"{actor.id}/activities/{uuid.uuid4().hex}"):
            body = encode(
                {
                    "@context": AS_CONTEXT,
                    "id": activity_id,
                    "type": "Like",
                    "actor": actor.id,
                    "object": after.node.network_id,
                }
            )
            status, text = await send(
                url, body, sign(url, body, key_id=actor.key_id, key=actor.key)
            )
            assert status == 202, text
        row = await wait_for(lambda: processed(after.node, poison[0]))
        assert row["state"] == "discarded" and "RecursionError" in row["note"], row["note"]
        await after.node.settle()
        assert any("handler failed" in r.getMessage() for r in caplog.records)
        states = await after.node.rt.db.fetchall(
            "SELECT state FROM inbox WHERE activity_id LIKE ? ORDER BY seq DESC LIMIT 1",
            (f"{actor.id}/activities/%",),
        )
        assert [r["state"] for r in states] == ["done"], "the activity after the poison"
    finally:
        processor.handlers["Like"] = original
        if not original:
            del processor.handlers["Like"]
    await healthy(after.node)
