"""Cross-check our RFC 9421 code against the independent `http-message-signatures` library."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, MappingKeyResolver
from http_message_signatures import algorithms as lib_algs

from protocol.errors import SignatureError
from protocol.httpsig.rfc9421 import Request, parse_signatures, sign_request, verify_signature

KEY_ID = "https://a.example/members/ana#main-key"
URL = "https://b.example:8443/inbox?page=2&Pet=dog"
BODY = b'{"type": "Follow"}'
CONTENT_DIGEST = "sha-256=:fVZGtwrwBZt50q8S3vzvkc1eYYz3eybgEWhVSLLj4gQ=:"
COMPONENTS = [
    "@method",
    "@target-uri",
    "@authority",
    "@scheme",
    "@request-target",
    "@path",
    "@query",
    '"@query-param";name="Pet"',
    "content-digest",
    "content-type",
    "date",
]

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_EC = ec.generate_private_key(ec.SECP256R1())
_ED = ed25519.Ed25519PrivateKey.generate()
CASES = [
    ("ed25519", lib_algs.ED25519, _ED, _ED.public_key()),
    ("rsa-v1_5-sha256", lib_algs.RSA_V1_5_SHA256, _RSA, _RSA.public_key()),
    ("rsa-pss-sha512", lib_algs.RSA_PSS_SHA512, _RSA, _RSA.public_key()),
    ("ecdsa-p256-sha256", lib_algs.ECDSA_P256_SHA256, _EC, _EC.public_key()),
    ("hmac-sha256", lib_algs.HMAC_SHA256, b"0123456789abcdef" * 2, b"0123456789abcdef" * 2),
]


def _prepared() -> requests.PreparedRequest:
    headers = {
        "Content-Type": "application/activity+json",
        "Date": "Sat, 01 Mar 2025 10:00:00 GMT",
        "Content-Digest": CONTENT_DIGEST,
    }
    return requests.Request("POST", URL, headers=headers, data=BODY).prepare()


def _resolver(private: object, public: object) -> MappingKeyResolver:
    return MappingKeyResolver(public_keys={KEY_ID: public}, private_keys={KEY_ID: private})


@pytest.mark.parametrize(("alg", "lib_alg", "private", "public"), CASES, ids=[c[0] for c in CASES])
def test_we_sign_they_verify(alg: str, lib_alg: type, private: object, public: object) -> None:
    prepared = _prepared()
    out = sign_request(
        "POST",
        URL,
        prepared.headers,
        key=private,
        key_id=KEY_ID,
        alg=alg,
        components=COMPONENTS,
        created=int(time.time()),
        nonce="n0nce",
        tag="kantine",
    )
    prepared.headers.update(out)
    verifier = HTTPMessageVerifier(signature_algorithm=lib_alg, key_resolver=_resolver(b"", public))
    [result] = verifier.verify(prepared, require_components=["content-digest"], body=BODY)
    assert result.label == "sig1"
    assert result.parameters["keyid"] == KEY_ID
    assert result.body == BODY  # the library also checked our Content-Digest against the body


@pytest.mark.parametrize(("alg", "lib_alg", "private", "public"), CASES, ids=[c[0] for c in CASES])
def test_they_sign_we_verify(alg: str, lib_alg: type, private: object, public: object) -> None:
    prepared = _prepared()
    signer = HTTPMessageSigner(signature_algorithm=lib_alg, key_resolver=_resolver(private, public))
    signer.sign(
        prepared,
        key_id=KEY_ID,
        created=datetime.now(UTC),
        label="theirs",
        nonce="abc",
        covered_component_ids=COMPONENTS,
        use_existing_digest=True,
    )
    [parsed] = parse_signatures(prepared.headers)
    assert parsed.label == "theirs"
    assert parsed.params["alg"] == alg
    assert parsed.component_names[-1] == "date"
    verify_signature("POST", URL, prepared.headers, parsed, public)
    verify_signature("POST", URL, prepared.headers, parsed, public, alg=alg)
    with pytest.raises(SignatureError, match="signature does not verify"):
        verify_signature("POST", URL.replace("dog", "cat"), prepared.headers, parsed, public)


def test_they_sign_without_alg_we_infer_from_key() -> None:
    prepared = _prepared()
    signer = HTTPMessageSigner(
        signature_algorithm=lib_algs.RSA_V1_5_SHA256,
        key_resolver=_resolver(_RSA, _RSA.public_key()),
    )
    signer.sign(
        prepared,
        key_id=KEY_ID,
        created=datetime.now(UTC),
        include_alg=False,
        covered_component_ids=("@method", "@target-uri", "content-digest"),
        use_existing_digest=True,
    )
    [parsed] = parse_signatures(prepared.headers)
    assert "alg" not in parsed.params
    verify_signature("POST", URL, prepared.headers, parsed, _RSA.public_key())


def test_they_sign_a_response_with_request_bound_components() -> None:
    prepared = _prepared()
    response = SimpleNamespace(
        status_code=202,
        headers=requests.structures.CaseInsensitiveDict({"Content-Type": "text/plain"}),
        request=prepared,
    )
    signer = HTTPMessageSigner(
        signature_algorithm=lib_algs.ED25519, key_resolver=_resolver(_ED, _ED.public_key())
    )
    components = ("@status", "content-type", '"@method";req', '"@authority";req')
    components += ('"@query-param";req;name="page"', '"content-digest";req')
    signer.sign(
        response, key_id=KEY_ID, created=datetime.now(UTC), covered_component_ids=components
    )
    [parsed] = parse_signatures(response.headers)
    request = Request("POST", URL, prepared.headers)
    verify_signature(
        None, None, response.headers, parsed, _ED.public_key(), status=202, request=request
    )
    with pytest.raises(SignatureError, match="signature does not verify"):
        verify_signature(
            None, None, response.headers, parsed, _ED.public_key(), status=200, request=request
        )
