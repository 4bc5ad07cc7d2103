"""Property tests: no input makes the wire parser, the signature verifier, the proof verifier
or the inbox fail with anything but the protocol's own errors (or, over HTTP, a 4xx).

The strategies mix three sources so the properties reach past the first check:
arbitrary bytes and JSON values, documents built from the vocabulary peers really
use (with values of every type), and valid signed or proven inputs with one part
replaced or mutated.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from node.http import FakeResolver, make_connector
from nodes import Node, start_node_with
from peers import FakeActor, FakePeer
from protocol import httpsig, keys, proofs, vocab, wire
from protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
URL = "https://node.example/inbox"
KEY_ID = "https://peer.example/users/alice#main-key"
RSA_KEY = keys.generate_rsa()
ED_KEY = keys.generate_ed25519()
OTHER_ED_KEY = keys.generate_ed25519()
METHOD = "https://peer.example/users/alice#ed25519-key"

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies --------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
iris = st.sampled_from(
    [
        "https://peer.example/users/alice",
        "https://peer.example/users/alice#main-key",
        "https://node.example/network",
        "https://other.example/notes/1",
        "http://127.0.0.1:1/x",
        "https://peer.example:99999/x",
        "https://[::1/x",
        "http://",
        "did:key:z6Mk",
        "urn:x",
        "",
        "https://xn--80ak6aa92e.example/a",
        "https://\u0440\u0430\u0443\u0440\u0430l.example/a",  # Cyrillic look-alike
    ]
) | st.text(max_size=30)
type_names = st.sampled_from(
    [
        "Create",
        "Update",
        "Delete",
        "Announce",
        "Follow",
        "Accept",
        "Undo",
        "Like",
        "Note",
        "Event",
        "Person",
        "Group",
        "Application",
        "Tombstone",
        "Proposal",
        "Multikey",
    ]
)
field_values = (
    iris
    | type_names
    | st.lists(iris | type_names, max_size=3)
    | json_values
    | st.fixed_dictionaries({"id": iris}, optional={"type": type_names, "href": iris})
)
ACTIVITY_FIELDS = [
    "@context",
    "id",
    "type",
    "actor",
    "object",
    "target",
    "to",
    "cc",
    "bto",
    "audience",
    "published",
    "updated",
    "name",
    "content",
    "proof",
    "attributedTo",
    "inbox",
    "outbox",
    "endpoints",
    "publicKey",
    "assertionMethod",
    "implements",
    "startTime",
    "totalItems",
    "preferredUsername",
    "manuallyApprovesFollowers",
    "sensitive",
    "url",
    "tag",
]
documents = st.dictionaries(
    st.sampled_from(ACTIVITY_FIELDS) | st.text(max_size=6), field_values, max_size=10
)


def _encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


@st.composite
def mutated_bytes(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    """A byte string with a few cuts, insertions and flips."""
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["cut", "insert", "flip", "truncate"]))
        at = draw(st.integers(0, len(data)))
        if op == "cut" and data:
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "insert":
            data[at:at] = draw(
                st.sampled_from(
                    [
                        b"[",
                        b"{",
                        b"]",
                        b"}",
                        b'"',
                        b"\\",
                        b",",
                        b":",
                        b"\x00",
                        b"\xff",
                        b"\\u",
                        b"1e99999",
                        b"null",
                    ]
                )
            )
        elif op == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[at:]
    return bytes(data)


@st.composite
def broken_utf8(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    """Valid JSON with a byte sequence that is not UTF-8 put inside one of its strings."""
    data = draw(base)
    quotes = [i for i, byte in enumerate(data) if byte == ord('"')]
    assume(quotes)
    at = draw(st.sampled_from(quotes)) + 1
    bad = draw(
        st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"])
    )
    return data[:at] + bad + data[at:]


deep_bytes = st.builds(
    lambda opens, inner, closes: opens + inner + closes,
    st.text(alphabet='[{"a:1,', min_size=0, max_size=80).map(str.encode),
    st.sampled_from([b"", b"1", b'"x"', b"[]", b"{}", b'"\\', b'"a\\"b"']),
    st.text(alphabet=']}",', min_size=0, max_size=80).map(str.encode),
)
any_bytes = (
    st.binary(max_size=300)
    | json_values.map(_encode)
    | documents.map(_encode)
    | deep_bytes
    | mutated_bytes(documents.map(_encode))
    | broken_utf8(documents.map(_encode))
)


def _only_protocol_errors(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``call``; a remote input may only be refused with a RemoteProtocolError."""
    try:
        return call(*args, **kwargs)
    except RemoteProtocolError:
        return None


# -- the wire parser ---------------------------------------------------------------------

PARSERS = [wire.parse_activity, wire.parse_actor, wire.parse_object]


@FAST
@given(body=any_bytes)
def test_wire_parsers_on_arbitrary_bytes(body: bytes) -> None:
    for parse in PARSERS:
        _only_protocol_errors(parse, body)
    _only_protocol_errors(wire.check_depth, body, 4)


@FAST
@given(value=json_values | documents)
def test_wire_parsers_on_arbitrary_json_values(value: Any) -> None:
    for parse in PARSERS:
        _only_protocol_errors(parse, _encode(value))
        _only_protocol_errors(parse, _encode(value).decode())
        if isinstance(value, dict):
            _only_protocol_errors(parse, value)


@FAST
@given(value=documents)
def test_parsed_views_answer_without_raising(value: dict[str, Any]) -> None:
    """What the node calls on a parsed document (ids, types, keys) never raises."""
    for parse in (wire.parse_activity, wire.parse_object):
        doc = _only_protocol_errors(parse, value, require_id=False)
        if doc is not None:
            _ = doc.types, wire.first_id(doc.object) if hasattr(doc, "object") else None
    actor = _only_protocol_errors(wire.parse_actor, value)
    if actor is not None:
        actor.shared_inbox(), actor.public_keys(), actor.multikeys(), actor.supports_rfc9421()
    for field_value in value.values():
        wire.first_id(field_value), wire.ids(field_value), wire.type_names(field_value)


# -- the signature verifier ----------------------------------------------------------------

HEADER_NAMES = [
    "Signature",
    "Signature-Input",
    "Date",
    "Digest",
    "Content-Digest",
    "Host",
    "Content-Type",
    "Accept",
    "X-Other",
]
header_values = st.text(max_size=60) | st.sampled_from(
    [
        'keyId="'
        + KEY_ID
        + '",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="AAAA"',
        'keyId="x",headers="(created) (expires)",created=1,expires=99999999999999999999,signature=""',
        'keyId="x",created=-5,signature="=="',
        'sig1=("@method" "@target-uri");created=1;keyid="k";alg="ed25519"',
        'sig1=("@method";req "content-digest";sf "x";key="a");created=99999999999999',
        "sig1=:AAAA:",
        "sig1=:!!:",
        "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
        "sha-512=:x:, sha-256=:=:",
        "Thu, 01 May 2025 12:00:00 GMT",
        "Mon, 99 Foo 20250 99:99:99 GMT",
        "node.example",
    ]
)
header_dicts = st.dictionaries(
    st.sampled_from(HEADER_NAMES) | st.text(min_size=1, max_size=10), header_values, max_size=6
)


def _verify_all(method: str, url: str, headers: Any, body: bytes | None) -> None:
    signed = _only_protocol_errors(httpsig.parse_signature, method, url, headers, body)
    if signed is None:
        return
    _only_protocol_errors(httpsig.check_signature, signed, now=NOW)
    for key in (RSA_KEY.public_key(), ED_KEY.public_key()):
        _only_protocol_errors(httpsig.verify_signature, signed, key, now=NOW)


@FAST
@given(
    method=st.sampled_from(["POST", "GET", "post", ""]),
    headers=header_dicts,
    body=st.none() | st.binary(max_size=40),
)
def test_signature_verifier_on_arbitrary_headers(
    method: str, headers: dict[str, str], body: bytes | None
) -> None:
    _verify_all(method, URL, headers, body)


def _valid_headers(scheme: str, body: bytes) -> dict[str, str]:
    base = {"Content-Type": vocab.ACTIVITY_JSON}
    key = RSA_KEY if scheme == "cavage" else ED_KEY
    return base | httpsig.sign_request(
        "POST", URL, base, body, key_id=KEY_ID, key=key, now=NOW, scheme=scheme
    )


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    chars = list(text)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(chars)))
        op = draw(st.sampled_from(["cut", "insert", "replace"]))
        piece = draw(
            st.sampled_from(
                [
                    '"',
                    ",",
                    ";",
                    "=",
                    "(",
                    ")",
                    ":",
                    "\\",
                    " ",
                    "a",
                    "1",
                    "-",
                    "\x00",
                    "é",
                    "*",
                    "?",
                    ")(",
                    '""',
                    "99999999999999999999",
                ]
            )
        )
        if op == "cut":
            del chars[at : at + draw(st.integers(1, 10))]
        elif op == "insert":
            chars[at:at] = piece
        elif at < len(chars):
            chars[at] = piece
    return "".join(chars)


@st.composite
def mutated_signed_request(draw: st.DrawFn) -> tuple[dict[str, str], bytes]:
    """A valid cavage or RFC 9421 POST with one header mutated, removed or replaced."""
    scheme = draw(st.sampled_from(["cavage", "rfc9421"]))
    body = draw(st.sampled_from([b"{}", b'{"type":"Like"}', b""]))
    headers = _valid_headers(scheme, body)
    name = draw(st.sampled_from(sorted(headers)))
    action = draw(st.sampled_from(["mutate", "mutate", "drop", "replace"]))
    if action == "drop":
        del headers[name]
    elif action == "replace":
        headers[name] = draw(header_values)
    else:
        headers[name] = draw(mutated_text(headers[name]))
    return headers, body


@FAST
@given(request=mutated_signed_request())
def test_signature_verifier_on_mutated_signed_requests(
    request: tuple[dict[str, str], bytes],
) -> None:
    headers, body = request
    _verify_all("POST", URL, headers, body)


def test_valid_requests_still_verify() -> None:
    """The mutation strategy starts from requests that do verify (else it tests nothing)."""
    for scheme, key in (("cavage", RSA_KEY), ("rfc9421", ED_KEY)):
        signed = httpsig.parse_signature("POST", URL, _valid_headers(scheme, b"{}"), b"{}")
        assert httpsig.verify_signature(signed, key.public_key(), now=NOW) == KEY_ID


# -- the proof verifier --------------------------------------------------------------------


def _proven(document: dict[str, Any]) -> dict[str, Any]:
    return proofs.create_proof(document, key=ED_KEY, verification_method=METHOD, created=NOW)


PROVEN = _proven(
    {
        "@context": [vocab.AS_CONTEXT, vocab.DATA_INTEGRITY_V1],
        "id": "https://peer.example/activities/1",
        "type": "Create",
        "actor": "https://peer.example/users/alice",
        "object": {"id": "https://peer.example/notes/1", "type": "Note", "content": "hallo"},
    }
)
proof_values = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from([proofs.PROOF_TYPE, "Ed25519Signature2020"]) | json_values,
        "cryptosuite": st.sampled_from([proofs.CRYPTOSUITE, "eddsa-rdfc-2022"]) | json_values,
        "proofPurpose": st.just(proofs.PROOF_PURPOSE) | json_values,
        "verificationMethod": st.sampled_from([METHOD, "did:", "did:x", "https://", "ftp://a/b"])
        | json_values,
        "created": st.sampled_from(
            ["2025-05-01T12:00:00Z", "99999-99-99T99:99:99Z", "0000-01-01T00:00:00"]
        )
        | json_values,
        "expires": st.sampled_from(["2000-01-01T00:00:00Z", "2025-13-01T00:00:00+99:00"])
        | json_values,
        "proofValue": st.sampled_from(["z", "z" + "1" * 88, "z" + "0OIl" * 10, "zzzz", "x"])
        | json_values,
        "@context": json_values,
    },
)
proven_documents = (
    st.builds(
        lambda doc, proof, as_list: doc | {"proof": [proof] if as_list else proof},
        documents,
        proof_values,
        st.booleans(),
    )
    | documents
)


@st.composite
def mutated_proven(draw: st.DrawFn) -> dict[str, Any]:
    """The valid proven document with one field (or one proof field) replaced or removed."""
    doc = msgspec.json.decode(_encode(PROVEN))
    target = doc["proof"] if draw(st.booleans()) else doc
    key = draw(st.sampled_from(sorted(target)))
    if draw(st.booleans()):
        del target[key]
    else:
        target[key] = draw(field_values)
    return doc


def _check_proof(document: Any) -> None:
    for key in (ED_KEY.public_key(), OTHER_ED_KEY.public_key()):
        _only_protocol_errors(proofs.verify_proof, document, key, now=NOW)
    method = _only_protocol_errors(proofs.proof_verification_method, document)
    if method is not None:
        controller = proofs.verification_method_controller(method)
        _only_protocol_errors(proofs.check_proof_owner, document, controller)
    proofs.document_owner(document)


@FAST
@given(document=proven_documents | mutated_proven() | json_values)
def test_proof_verifier_on_arbitrary_documents(document: Any) -> None:
    _check_proof(document)


def test_the_valid_proof_verifies() -> None:
    assert proofs.verify_proof(PROVEN, ED_KEY.public_key(), now=NOW)["verificationMethod"] == METHOD


# -- the inbox, over HTTP ----------------------------------------------------------------------

PEER_HOST = "127.0.0.61"
NODE_HOST = "127.0.0.60"


@dataclass
class Rig:
    node: Node
    peer: FakePeer
    alice: FakeActor
    errors: list[logging.LogRecord]
    statuses: dict[int, int]


class _Errors(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record)


@pytest_asyncio.fixture(loop_scope="module", scope="module", name="rig")
async def inbox_rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    tmp: Path = tmp_path_factory.mktemp("properties")
    peer = await FakePeer(PEER_HOST).start()
    # Outgoing connections reach the peer only: a fuzzed IRI must never go out to the world.
    connector = make_connector(
        allow_private=False,
        resolver=FakeResolver({}),
        is_allowed=lambda ip: str(ip) == PEER_HOST,
    )
    node = await start_node_with(tmp, "Fuzz", host=NODE_HOST, connector=connector)
    errors: list[logging.LogRecord] = []
    handler = _Errors(errors)
    logging.getLogger("kantine").addHandler(handler)
    logging.getLogger("aiohttp").addHandler(handler)
    try:
        yield Rig(node, peer, peer.actor("alice"), errors, {})
    finally:
        logging.getLogger("kantine").removeHandler(handler)
        logging.getLogger("aiohttp").removeHandler(handler)
        await node.stop()
        await peer.stop()


_SESSION: dict[str, aiohttp.ClientSession] = {}

# Header values aiohttp can send (no CR, LF or NUL; latin-1).
_wire_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=80,
)
content_types = (
    st.sampled_from(
        [
            vocab.ACTIVITY_JSON,
            vocab.LD_JSON,
            "application/json",
            "text/plain",
            "",
            "application/activity+json; charset=utf-8",
        ]
    )
    | _wire_text
)


@st.composite
def inbox_requests(
    draw: st.DrawFn, alice: FakeActor, node_url: str
) -> tuple[str, bytes, dict[str, str]]:
    """A POST to one of the node's inboxes: arbitrary, or validly signed by alice, then bent."""
    path = draw(st.sampled_from(["/inbox", "/network/inbox", "/actor/inbox", "/members/x/inbox"]))
    url = node_url + path
    kind = draw(
        st.sampled_from(["raw", "signed-document", "signed-activity", "signed-activity", "bent"])
    )
    if kind == "raw":
        body = draw(any_bytes)
        headers = draw(
            st.dictionaries(
                st.sampled_from(HEADER_NAMES)
                | st.text(alphabet="abcdefgh-", min_size=1, max_size=8),
                _wire_text,
                max_size=5,
            )
        )
        headers["Content-Type"] = draw(content_types)
        return url, body, headers
    if kind == "signed-document":
        body = draw(any_bytes)
    else:
        activity = draw(documents)
        activity.update(
            {
                "id": f"{alice.id}/activities/{uuid.uuid4()}",
                "actor": alice.id,
                "type": draw(type_names | st.lists(type_names, min_size=1, max_size=2)),
            }
        )
        body = _encode(activity)
    headers = alice.sign("POST", url, body)
    if kind == "bent":  # signed, then one header changed
        name = draw(st.sampled_from(sorted(headers)))
        headers[name] = draw(_wire_text)
    return url, body, headers


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    session = _SESSION.get("s")
    if session is None or session.closed:
        session = _SESSION["s"] = aiohttp.ClientSession()
    async with session.post(url, data=body, headers=headers) as resp:
        return resp.status, await resp.text()


@pytest.mark.asyncio(loop_scope="module")
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
async def test_inbox_answers_only_2xx_or_4xx(rig: Rig, data: st.DataObject) -> None:
    url, body, headers = data.draw(inbox_requests(rig.alice, rig.node.url))
    status, text = await _post(url, body, headers)
    rig.statuses[status] = rig.statuses.get(status, 0) + 1
    assert status < 500, (status, text)
    assert status in (202, 404) or 400 <= status < 500, (status, text)


@pytest.mark.asyncio(loop_scope="module")
async def test_inbox_kept_serving_and_processed_everything(rig: Rig) -> None:
    """After the fuzzing: the node answers, every stored activity was processed, nothing crashed."""
    try:
        status, _ = await _get(rig.node.url + "/healthz")
        assert status == 200
        await rig.node.settle(timeout=30)
        pending = await rig.node.rt.db.fetchone(
            "SELECT count(*) AS n FROM inbox WHERE state = 'pending'"
        )
        assert pending["n"] == 0
        assert not rig.errors, [r.getMessage() for r in rig.errors]
        # The generator reached both sides of the inbox's decision.
        assert rig.statuses.get(202, 0) > 0, rig.statuses
        assert sum(n for s, n in rig.statuses.items() if 400 <= s < 500) > 0, rig.statuses
    finally:
        session = _SESSION.pop("s", None)
        if session is not None:
            await session.close()


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()


# -- digests alone -------------------------------------------------------------------------


@FAST
@given(header=header_values | st.text(max_size=40), body=st.binary(max_size=20))
def test_digest_checks_on_arbitrary_headers(header: str, body: bytes) -> None:
    from protocol import digest

    _only_protocol_errors(digest.verify_digest, header, body)
    _only_protocol_errors(digest.verify_content_digest, header, body)


def test_local_misuse_is_a_local_error() -> None:
    """A header that is not a str is the caller's bug: LocalProtocolError, never a crash."""
    with pytest.raises(LocalProtocolError):
        httpsig.parse_signature("POST", URL, {"Signature": b"x"}, b"")  # type: ignore[dict-item]
    assert issubclass(LocalProtocolError, ProtocolError)
