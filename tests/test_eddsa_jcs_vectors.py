"""Published test vectors: RFC 8785 examples, W3C eddsa-jcs-2022 (every intermediate value), FEP-8b32."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import base58
import pytest

from protocol import jcs, keys, proofs
from protocol.errors import ProofError

VECTORS = Path(__file__).resolve().parent.parent.parent / "shared" / "vectors"
EDDSA = VECTORS / "eddsa-jcs-2022"
FEP = VECTORS / "fep-8b32" / "fep-8b32.feature"

needs_vectors = pytest.mark.skipif(
    not (EDDSA.is_dir() and FEP.is_file()), reason="../shared/vectors not present"
)


def _text(name: str) -> str:
    return (EDDSA / name).read_text().strip()


def _json(name: str) -> Any:
    return json.loads((EDDSA / name).read_text())


@pytest.fixture
def private_key():
    return keys.decode_multikey_private(_json("keyPair.json")["privateKeyMultibase"])


@pytest.fixture
def public_key():
    return keys.decode_multikey(_json("keyPair.json")["publicKeyMultibase"])


@pytest.fixture
def config() -> dict[str, Any]:
    return _json("proofConfigJCS.json")


def _created(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- RFC 8785 --------------------------------------------------------------------------


def test_jcs_rfc8785_example() -> None:
    """RFC 8785 section 3.2.4's example input and output."""
    source = r"""{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"""
    expected = r"""{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"""
    assert jcs.canonicalize(json.loads(source)) == expected.encode()


def test_jcs_sorts_keys_by_utf16() -> None:
    """RFC 8785 section 3.2.3: the emoji (a surrogate pair) sorts before U+FB33."""
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    out = json.loads(jcs.canonicalize(value))
    assert list(out) == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


# --- W3C vc-di-eddsa eddsa-jcs-2022 --------------------------------------------------


@needs_vectors
def test_key_pair_matches(private_key, public_key) -> None:
    assert keys.encode_multikey(private_key) == _json("keyPair.json")["publicKeyMultibase"]
    assert keys.encode_multikey(public_key) == keys.encode_multikey(private_key)


@needs_vectors
def test_canonical_document() -> None:
    assert jcs.canonicalize(_json("unsigned.json")) == _text("canonDocJCS.txt").encode()


@needs_vectors
def test_document_hash() -> None:
    digest = hashlib.sha256(jcs.canonicalize(_json("unsigned.json"))).hexdigest()
    assert digest == _text("docHashJCS.txt")


@needs_vectors
def test_canonical_proof_config(config) -> None:
    options = {k: v for k, v in config.items() if k != "@context"}
    built = proofs.build_proof_config(_json("unsigned.json"), options)
    assert built == config
    assert jcs.canonicalize(built) == _text("proofCanonJCS.txt").encode()


@needs_vectors
def test_proof_config_hash(config) -> None:
    built = proofs.build_proof_config(_json("unsigned.json"), config)
    assert hashlib.sha256(jcs.canonicalize(built)).hexdigest() == _text("proofHashJCS.txt")


@needs_vectors
def test_combined_hash(config) -> None:
    combined = proofs.hash_data(_json("unsigned.json"), config)
    assert combined.hex() == _text("combinedHashJCS.txt")
    assert combined.hex() == _text("proofHashJCS.txt") + _text("docHashJCS.txt")


@needs_vectors
def test_signature_hex_and_base58(private_key, config) -> None:
    signature = private_key.sign(proofs.hash_data(_json("unsigned.json"), config))
    assert signature.hex() == _text("sigHexJCS.txt")
    assert "z" + base58.b58encode(signature).decode() == _text("sigBTC58JCS.txt")


@needs_vectors
def test_create_proof_reproduces_signed_document(private_key, config) -> None:
    unsigned = _json("unsigned.json")
    signed = proofs.create_proof(
        unsigned,
        key=private_key,
        verification_method=config["verificationMethod"],
        created=_created(config["created"]),
        proof_purpose=config["proofPurpose"],
    )
    expected = _json("signedJCS.json")
    assert signed == expected
    assert jcs.canonicalize(signed) == jcs.canonicalize(expected)
    assert signed["proof"]["proofValue"] == _text("sigBTC58JCS.txt")
    assert unsigned == _json("unsigned.json")  # input untouched


@needs_vectors
def test_signed_document_verifies(public_key) -> None:
    signed = _json("signedJCS.json")
    proof = proofs.verify_proof(signed, public_key)
    assert proof["proofValue"] == _text("sigBTC58JCS.txt")
    assert proofs.proof_verification_method(signed) == proof["verificationMethod"]


@needs_vectors
def test_signed_document_with_changed_field_fails(public_key) -> None:
    signed = _json("signedJCS.json")
    signed["credentialSubject"]["alumniOf"] = "The School of Examplez"
    with pytest.raises(ProofError, match="proof does not verify"):
        proofs.verify_proof(signed, public_key)


# --- FEP-8b32 fep-8b32.feature --------------------------------------------------------


def _feature_blocks() -> list[Any]:
    text = FEP.read_text()
    return [json.loads(block) for block in re.findall(r'"""\n(.*?)\n\s*"""', text, re.S)]


def _feature_value(pattern: str) -> str:
    match = re.search(pattern, FEP.read_text())
    assert match, pattern
    return match.group(1)


@needs_vectors
def test_feature_signing_reproduces_proof_value() -> None:
    document, expected, *_ = _feature_blocks()
    key = keys.decode_multikey_private(_feature_value(r'Ed25519 secret key "([^"]+)"'))
    signed = proofs.create_proof(
        document,
        key=key,
        verification_method=_feature_value(r'Signing the document for key "([^"]+)"'),
        created=_created(_feature_value(r'current time "([^"]+)"')),
    )
    assert signed == expected
    assert signed["proof"]["proofValue"] == (
        "z42ffGu6AUKPCFcFPiabmUvnGLPJzC7e4DGWC52NUasSSH37UMa9c58tdgVszUcZfytxa4fQ5TYHaJENCxUDe9SdL"
    )


@needs_vectors
def test_feature_signing_without_proof_context_differs() -> None:
    """FEP-8b32's value depends on the proof carrying @context (the config hash covers it)."""
    document, expected, *_ = _feature_blocks()
    key = keys.decode_multikey_private(_feature_value(r'Ed25519 secret key "([^"]+)"'))
    options = {k: v for k, v in expected["proof"].items() if k not in ("@context", "proofValue")}
    bare = {k: v for k, v in document.items() if k != "@context"}
    signature = key.sign(proofs.hash_data(bare, options))
    assert "z" + base58.b58encode(signature).decode() != expected["proof"]["proofValue"]


@needs_vectors
def test_feature_verification_with_actor_key() -> None:
    _, _, signed, actor = _feature_blocks()
    method_id = proofs.proof_verification_method(signed)
    (method,) = [m for m in actor["assertionMethod"] if m["id"] == method_id]
    assert method["type"] == "Multikey"
    assert proofs.verification_method_controller(method_id) == actor["id"] == method["controller"]
    proof = proofs.verify_proof(signed, keys.decode_multikey(method["publicKeyMultibase"]))
    assert proof is signed["proof"]
    proofs.check_proof_owner(signed, method["controller"])
    proofs.check_proof_owner(signed["object"], method["controller"])
