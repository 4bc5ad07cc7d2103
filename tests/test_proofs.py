"""FEP-8b32 proofs with real Ed25519 keys: round trips, tampering, nesting, ownership, JCS."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import base58
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import jcs, keys, proofs
from protocol.errors import LocalProtocolError, OwnershipError, ProofError, RemoteProtocolError
from protocol.vocab import CONTEXT

ALICE = "https://a.example/members/alice"
ALICE_KEY = ALICE + "#ed25519-key"
BOB = "https://b.example/members/bob"
BOB_KEY = BOB + "#ed25519-key"
NETWORK = "https://b.example/network"
NETWORK_KEY = NETWORK + "#ed25519-key"
NOW = datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)


@pytest.fixture(scope="module")
def alice_key():
    return keys.generate_ed25519()


@pytest.fixture(scope="module")
def bob_key():
    return keys.generate_ed25519()


def _create(actor: str = ALICE) -> dict[str, Any]:
    host = actor.split("/")[2]
    return {
        "@context": copy.deepcopy(CONTEXT),
        "id": f"https://{host}/activities/1",
        "type": "Create",
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [f"{actor}/followers"],
        "object": {
            "id": f"https://{host}/events/1",
            "type": "Event",
            "attributedTo": actor,
            "name": "Koffie & co-working ☕",
            "content": "<p>Iedereen welkom — ook zonder KvK 🎉</p>",
            "startTime": "2026-04-02T09:30:00+02:00",
            "timezone": "Europe/Amsterdam",
            "maximumAttendeeCapacity": 12,
            "location": {"type": "Place", "longitude": 4.895168, "latitude": 52.370216},
            "tag": [{"type": "Hashtag", "name": "#zzp"}],
            "commentsEnabled": True,
            "sensitive": False,
            "inReplyTo": None,
        },
    }


def _sign(document: dict[str, Any], key, method: str = ALICE_KEY) -> dict[str, Any]:
    return proofs.create_proof(document, key=key, verification_method=method, created=NOW)


def _leaves(value: Any, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path


def _get(doc: Any, path: tuple) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def _set(doc: Any, path: tuple, value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value


def _tamper(value: Any) -> Any:
    """Change one character of a string, or the value of a number, bool or null."""
    if isinstance(value, str):
        i = len(value) // 2
        return value[:i] + ("x" if value[i : i + 1] != "x" else "y") + value[i + 1 :]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    return 0


# --- round trip -----------------------------------------------------------------------


def test_round_trip_with_fresh_key(alice_key) -> None:
    document = _create()
    before = copy.deepcopy(document)
    signed = _sign(document, alice_key)
    assert document == before  # never mutates its input
    assert signed is not document and "proof" not in document
    proof = signed["proof"]
    assert proof["@context"] == document["@context"]
    assert proof["created"] == "2026-03-14T09:26:53Z"
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["proofValue"].startswith("z")
    wire = json.loads(json.dumps(signed, indent=3, ensure_ascii=True))
    received = copy.deepcopy(wire)
    assert proofs.verify_proof(wire, alice_key.public_key()) == proof
    assert wire == received  # verification does not touch the document
    assert proofs.proof_verification_method(wire) == ALICE_KEY


def test_output_shares_nothing_with_input(alice_key) -> None:
    document = _create()
    signed = _sign(document, alice_key)
    document["object"]["name"] = "changed later"
    document["@context"].append("https://example.org/later")
    proofs.verify_proof(signed, alice_key.public_key())
    assert signed["proof"]["@context"] is not signed["@context"]


def test_created_is_utc_seconds(alice_key) -> None:
    amsterdam = timezone(timedelta(hours=2))
    when = datetime(2026, 4, 2, 11, 30, 5, 999999, tzinfo=amsterdam)
    signed = proofs.create_proof(
        _create(), key=alice_key, verification_method=ALICE_KEY, created=when
    )
    assert signed["proof"]["created"] == "2026-04-02T09:30:05Z"


def test_document_without_context_signs_and_verifies(alice_key) -> None:
    document = {"id": "https://a.example/notes/1", "type": "Note", "attributedTo": ALICE}
    signed = _sign(document, alice_key)
    assert "@context" not in signed["proof"]
    proofs.verify_proof(signed, alice_key.public_key())


# --- tampering ------------------------------------------------------------------------


def _document_leaves() -> list[tuple]:
    return [p for p in _leaves(_create()) if p[0] != "@context"]


@pytest.mark.parametrize("path", _document_leaves(), ids=lambda p: ".".join(map(str, p)))
def test_any_changed_field_fails(alice_key, path: tuple) -> None:
    signed = _sign(_create(), alice_key)
    _set(signed, path, _tamper(_get(signed, path)))
    with pytest.raises(ProofError, match=r"^proof does not verify$"):
        proofs.verify_proof(signed, alice_key.public_key())


@pytest.mark.parametrize("path", [p for p in _leaves(_create()) if p[0] == "@context"])
def test_changed_context_fails(alice_key, path: tuple) -> None:
    signed = _sign(_create(), alice_key)
    _set(signed, path, _tamper(_get(signed, path)))
    with pytest.raises(ProofError, match="@context differs"):
        proofs.verify_proof(signed, alice_key.public_key())
    # the same change in both the document and the proof breaks the signature
    _set(signed["proof"], path, _get(signed, path))
    with pytest.raises(ProofError, match=r"^proof does not verify$"):
        proofs.verify_proof(signed, alice_key.public_key())


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.pop("cc"),
        lambda d: d["object"].pop("tag"),
        lambda d: d.update(bto=[BOB]),
        lambda d: d["object"].update(name2="extra"),
        lambda d: d["object"]["tag"].append({"type": "Hashtag", "name": "#x"}),
        lambda d: d["object"]["location"].update(longitude=4.895169),
        lambda d: d.update(actor={"id": ALICE}),
    ],
)
def test_added_removed_or_retyped_fields_fail(alice_key, change) -> None:
    signed = _sign(_create(), alice_key)
    change(signed)
    with pytest.raises(ProofError, match=r"^proof does not verify$"):
        proofs.verify_proof(signed, alice_key.public_key())


def test_changed_created_fails(alice_key) -> None:
    signed = _sign(_create(), alice_key)
    signed["proof"]["created"] = "2026-03-14T09:26:54Z"
    with pytest.raises(ProofError, match=r"^proof does not verify$"):
        proofs.verify_proof(signed, alice_key.public_key())
    signed["proof"]["created"] = "yesterday"
    with pytest.raises(ProofError, match="created is not a valid dateTime"):
        proofs.verify_proof(signed, alice_key.public_key())


def test_changed_verification_method_fails(alice_key) -> None:
    signed = _sign(_create(), alice_key)
    signed["proof"]["verificationMethod"] = ALICE + "#main-key"
    with pytest.raises(ProofError, match=r"^proof does not verify$"):
        proofs.verify_proof(signed, alice_key.public_key())


@pytest.mark.parametrize("position", [1, 2, 10, 40, -2, -1])
def test_changed_proof_value_fails(alice_key, position: int) -> None:
    signed = _sign(_create(), alice_key)
    value = signed["proof"]["proofValue"]
    i = position % len(value)
    signed["proof"]["proofValue"] = value[:i] + ("x" if value[i] != "x" else "y") + value[i + 1 :]
    with pytest.raises(ProofError, match=r"proof does not verify|proofValue"):
        proofs.verify_proof(signed, alice_key.public_key())


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "not a base58btc multibase"),
        ("u" + "A" * 86, "not a base58btc multibase"),
        ("z0OIl", "not valid base58btc"),
        ("z" + "2" * 40, "not a 64-byte Ed25519 signature"),
        ("z" + "2" * 500, "not a base58btc multibase"),
        (12, "no proofValue"),
    ],
)
def test_malformed_proof_value(alice_key, value: Any, reason: str) -> None:
    signed = _sign(_create(), alice_key)
    signed["proof"]["proofValue"] = value
    with pytest.raises(ProofError, match=reason):
        proofs.verify_proof(signed, alice_key.public_key())


def test_removed_proof_fails(alice_key) -> None:
    signed = _sign(_create(), alice_key)
    del signed["proof"]
    with pytest.raises(ProofError, match=r"^document has no proof$"):
        proofs.verify_proof(signed, alice_key.public_key())
    with pytest.raises(ProofError, match=r"^document has no proof$"):
        proofs.proof_verification_method(signed)


def test_wrong_key_fails(alice_key, bob_key) -> None:
    signed = _sign(_create(), alice_key)
    with pytest.raises(ProofError, match=r"^proof does not verify$"):
        proofs.verify_proof(signed, bob_key.public_key())


def test_rsa_key_is_refused(alice_key) -> None:
    signed = _sign(_create(), alice_key)
    with pytest.raises(ProofError, match="not an Ed25519 key"):
        proofs.verify_proof(signed, keys.generate_rsa(1024).public_key())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("type", "Ed25519Signature2020", "unsupported proof type"),
        ("cryptosuite", "eddsa-rdfc-2022", "unsupported cryptosuite"),
        ("cryptosuite", None, "unsupported cryptosuite"),
        ("proofPurpose", "authentication", "purpose must be assertionMethod"),
        ("verificationMethod", "ftp://a.example/key", "HTTP\\(S\\) URI or a DID URL"),
        ("verificationMethod", ["https://a.example/k"], "HTTP\\(S\\) URI or a DID URL"),
    ],
)
def test_malformed_proofs(alice_key, field: str, value: Any, reason: str) -> None:
    signed = _sign(_create(), alice_key)
    signed["proof"][field] = value
    for check in (
        lambda: proofs.proof_verification_method(signed),
        lambda: proofs.verify_proof(signed, alice_key.public_key()),
    ):
        with pytest.raises(ProofError, match=reason):
            check()


def test_proof_sets(alice_key, bob_key) -> None:
    signed = _sign(_create(), alice_key)
    single = dict(signed, proof=[signed["proof"]])
    assert proofs.proof_verification_method(single) == ALICE_KEY
    proofs.verify_proof(single, alice_key.public_key())
    other = _sign(_create(), bob_key, BOB_KEY)["proof"]
    double = dict(signed, proof=[signed["proof"], other])
    with pytest.raises(ProofError, match="more than one proof"):
        proofs.proof_verification_method(double)
    with pytest.raises(ProofError, match="empty proof"):
        proofs.verify_proof(dict(signed, proof=[]), alice_key.public_key())
    with pytest.raises(ProofError, match="not a JSON object"):
        proofs.verify_proof(dict(signed, proof="z123"), alice_key.public_key())


def test_context_may_be_extended_after_signing(alice_key) -> None:
    """eddsa-jcs-2022 verification: the document @context must *start with* the proof's."""
    signed = _sign(_create(), alice_key)
    signed["@context"] = [*signed["@context"], "https://example.org/extra/v1"]
    proofs.verify_proof(signed, alice_key.public_key())
    signed["@context"] = list(reversed(signed["@context"]))
    with pytest.raises(ProofError, match="@context differs"):
        proofs.verify_proof(signed, alice_key.public_key())
    del signed["@context"]
    with pytest.raises(ProofError, match="@context differs"):
        proofs.verify_proof(signed, alice_key.public_key())


def test_proof_without_context_uses_the_documents(alice_key) -> None:
    signed = _sign(_create(), alice_key)
    del signed["proof"]["@context"]
    proofs.verify_proof(signed, alice_key.public_key())
    signed["@context"] = signed["@context"][:2]
    with pytest.raises(ProofError, match=r"^proof does not verify$"):
        proofs.verify_proof(signed, alice_key.public_key())


def test_legacy_ld_signature_is_ignored(alice_key) -> None:
    signed = _sign(_create(), alice_key)
    signed["signature"] = {"type": "RsaSignature2017", "signatureValue": "abc"}
    proofs.verify_proof(signed, alice_key.public_key())
    with pytest.raises(LocalProtocolError, match="before a legacy LD signature"):
        _sign({**_create(), "signature": {"type": "RsaSignature2017"}}, alice_key)


def test_expires(alice_key) -> None:
    signed = _sign(_create(), alice_key)
    signed["proof"]["expires"] = "2026-03-15T00:00:00Z"
    # expires is covered by the signature: adding it afterwards breaks the proof
    with pytest.raises(ProofError, match=r"^proof does not verify$"):
        proofs.verify_proof(signed, alice_key.public_key())
    # a proof made with expires (create_proof does not add one; sign by hand)
    unsigned = _create()
    options = {k: v for k, v in signed["proof"].items() if k != "proofValue"}
    value = alice_key.sign(proofs.hash_data(unsigned, proofs.build_proof_config(unsigned, options)))
    signed["proof"]["proofValue"] = "z" + base58.b58encode(value).decode()
    proofs.verify_proof(signed, alice_key.public_key())
    proofs.verify_proof(signed, alice_key.public_key(), now=NOW)
    with pytest.raises(ProofError, match=r"^proof expired$"):
        proofs.verify_proof(signed, alice_key.public_key(), now=NOW + timedelta(days=1))
    signed["proof"]["expires"] = "soon"
    with pytest.raises(ProofError, match="expires is not a valid dateTime"):
        proofs.verify_proof(signed, alice_key.public_key(), now=NOW + timedelta(days=1))
    with pytest.raises(LocalProtocolError, match="aware"):
        proofs.verify_proof(signed, alice_key.public_key(), now=datetime(2026, 3, 14))


def test_uncanonicalisable_document_is_a_proof_error(alice_key) -> None:
    signed = _sign(_create(), alice_key)
    signed["object"]["maximumAttendeeCapacity"] = 2**64
    with pytest.raises(ProofError, match="cannot be canonicalised"):
        proofs.verify_proof(signed, alice_key.public_key())


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"created": datetime(2026, 3, 14, 9, 0)}, "aware datetime"),
        ({"verification_method": "alice"}, "HTTP\\(S\\) URI or a DID URL"),
        ({"document": {**_create(), "proof": {}}}, "already carries a proof"),
        ({"document": {**_create(), "x": math.nan}}, "cannot sign"),
        ({"document": ["not", "an", "object"]}, "JSON object"),
        ({"key": keys.generate_rsa(1024)}, "Ed25519 private key"),
    ],
)
def test_create_proof_misuse(alice_key, kwargs: dict[str, Any], reason: str) -> None:
    arguments = {
        "document": _create(),
        "key": alice_key,
        "verification_method": ALICE_KEY,
        "created": NOW,
        **kwargs,
    }
    document = arguments.pop("document")
    with pytest.raises(LocalProtocolError, match=reason):
        proofs.create_proof(document, **arguments)


# --- nesting --------------------------------------------------------------------------


def test_announce_embedding_a_signed_create(alice_key, bob_key) -> None:
    create = json.loads(json.dumps(_sign(_create(), alice_key)))
    announce = {
        "@context": copy.deepcopy(CONTEXT),
        "id": "https://b.example/activities/announce-1",
        "type": "Announce",
        "actor": NETWORK,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": create,
    }
    signed = _sign(announce, bob_key, NETWORK_KEY)
    # across the wire: other whitespace, escaping and key order
    wire = json.loads(json.dumps(signed, ensure_ascii=True, sort_keys=True, indent=1))
    proofs.verify_proof(wire, bob_key.public_key())
    proofs.check_proof_owner(wire, proofs.verification_method_controller(NETWORK_KEY))
    inner = wire["object"]
    proofs.verify_proof(inner, alice_key.public_key())
    proofs.check_proof_owner(
        inner, proofs.verification_method_controller(proofs.proof_verification_method(inner))
    )
    # the Announce's own proof covers the embedded proof
    wire["object"]["proof"]["created"] = "2026-03-14T09:26:54Z"
    with pytest.raises(ProofError, match=r"^proof does not verify$"):
        proofs.verify_proof(wire, bob_key.public_key())
    with pytest.raises(ProofError, match=r"^proof does not verify$"):
        proofs.verify_proof(wire["object"], alice_key.public_key())


_PROPERTY_KEY = keys.generate_ed25519()

_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20)
)
_json_value = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(exclude_categories=["Cs"])), inner, max_size=4
        )
    ),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.text(alphabet=st.characters(exclude_categories=["Cs"])).filter(
            lambda k: k not in ("proof", "signature")
        ),
        _json_value,
        max_size=6,
    )
)
def test_any_json_object_round_trips(body: dict[str, Any]) -> None:
    key = _PROPERTY_KEY
    signed = proofs.create_proof(body, key=key, verification_method=ALICE_KEY, created=NOW)
    wire = json.loads(json.dumps(signed))
    proofs.verify_proof(wire, key.public_key())


# --- ownership (FEP-fe34) -------------------------------------------------------------


def test_proof_by_another_actor_is_refused(alice_key) -> None:
    signed = _sign(_create(actor=BOB), alice_key)
    proofs.verify_proof(signed, alice_key.public_key())  # the signature itself is fine
    controller = proofs.verification_method_controller(proofs.proof_verification_method(signed))
    assert controller == ALICE
    with pytest.raises(OwnershipError) as info:
        proofs.check_proof_owner(signed, controller)
    assert info.value.status_hint == 403


def test_object_attributed_to_signer_is_accepted(alice_key) -> None:
    note = {
        "@context": CONTEXT,
        "id": "https://a.example/notes/7",
        "type": "Note",
        "attributedTo": ALICE,
        "content": "Wie helpt met de btw-aangifte?",
    }
    signed = _sign(note, alice_key)
    proofs.verify_proof(signed, alice_key.public_key())
    proofs.check_proof_owner(signed, ALICE)
    with pytest.raises(OwnershipError):
        proofs.check_proof_owner(signed, BOB)


def test_owner_must_share_the_documents_origin() -> None:
    note = {"id": "https://evil.example/notes/1", "type": "Note", "attributedTo": ALICE}
    with pytest.raises(OwnershipError, match="origin"):
        proofs.check_proof_owner(note, ALICE)
    moved = {"id": "https://a.example:8443/notes/1", "type": "Note", "attributedTo": ALICE}
    with pytest.raises(OwnershipError, match="origin"):
        proofs.check_proof_owner(moved, ALICE)
    same = {"id": "https://A.example:443/notes/1", "type": "Note", "attributedTo": ALICE}
    proofs.check_proof_owner(same, ALICE)


def test_document_without_owner_is_refused() -> None:
    with pytest.raises(OwnershipError, match="names no owner"):
        proofs.check_proof_owner({"id": "https://a.example/t/1", "type": "Tombstone"}, ALICE)


@pytest.mark.parametrize(
    ("document", "owner"),
    [
        ({"type": "Create", "actor": ALICE, "object": {"attributedTo": BOB}}, ALICE),
        ({"type": "Follow", "actor": {"id": ALICE, "type": "Person"}}, ALICE),
        ({"type": "Announce", "actor": [NETWORK, ALICE]}, NETWORK),
        ({"type": "Note", "attributedTo": ALICE}, ALICE),
        ({"type": "Event", "attributedTo": [{"id": NETWORK, "type": "Group"}, ALICE]}, NETWORK),
        ({"type": "Tombstone", "attributedTo": ALICE}, ALICE),
        ({"type": "Tombstone"}, None),
        ({"type": "Person", "id": ALICE, "attributedTo": BOB}, ALICE),
        ({"type": ["Group", "kantine:Network"], "id": NETWORK}, NETWORK),
        ({"type": "Note", "attributedTo": []}, None),
        ({"type": "Note", "attributedTo": {"type": "Person"}}, None),
        ({"type": "Note", "attributedTo": 7}, None),
    ],
)
def test_document_owner(document: dict[str, Any], owner: str | None) -> None:
    assert proofs.document_owner(document) == owner


def test_verification_method_controller() -> None:
    assert proofs.verification_method_controller(ALICE_KEY) == ALICE
    assert proofs.verification_method_controller("https://a.example/keys/1") == (
        "https://a.example/keys/1"
    )


# --- JCS (RFC 8785) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        {"n": -math.inf},
        2**53,
        [-(2**53)],
        "\ud800",
        {"\udfff": 1},
        {1: "non-string key"},
        {"set": {1, 2}},
        b"bytes",
    ],
    ids=repr,
)
def test_jcs_refuses_what_it_cannot_represent(value: Any) -> None:
    with pytest.raises(RemoteProtocolError, match="canonicalised"):
        jcs.canonicalize(value)


def test_jcs_refuses_deep_nesting() -> None:
    value: Any = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(RemoteProtocolError, match="nested too deeply"):
        jcs.canonicalize(value)


def test_jcs_edges() -> None:
    assert jcs.canonicalize(2**53 - 1) == b"9007199254740991"
    assert jcs.canonicalize(-0.0) == b"0"
    assert jcs.canonicalize(1.0) == b"1"
    assert jcs.canonicalize(1e21) == b"1e+21"
    assert jcs.canonicalize(1e-7) == b"1e-7"
    assert jcs.canonicalize({"b": [], "a": {}}) == b'{"a":{},"b":[]}'
    assert jcs.canonicalize("é\u2028") == '"é\u2028"'.encode()
