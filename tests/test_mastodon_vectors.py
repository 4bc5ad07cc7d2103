"""Mastodon's signature_verification_spec cases: same accept/reject, same kind of reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from protocol.errors import RemoteProtocolError, SignatureError
from protocol.httpsig import parse_signature, verify_signature
from protocol.keys import load_private_pem

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "mastodon"
DATA = json.loads((VECTORS / "mastodon_signature_spec_vectors.json").read_text())
NOW = datetime.fromtimestamp(DATA["now_unix"], tz=UTC)
PUBLIC_KEY = load_private_pem(DATA["private_key_pem"]).public_key()

# Mastodon's error text (or, where the spec gives none, the failure it implies) -> our reason.
MASTODON_TO_OURS = {
    "Invalid Date header": "date header could not be parsed",
    "Signed request date outside acceptable time window": "date outside the accepted window",
    "Mastodon requires the Digest header to be signed when doing a POST request": (
        "missing required header: digest"
    ),
    "Invalid Digest value": "digest mismatch",
    "Mastodon requires the Content-Digest header to be signed when doing a POST request": (
        "missing required component: content-digest"
    ),
    "Content-Digest could not be parsed": "Content-Digest could not be parsed",
}

# Rejections for which the spec records no text: what we report instead.
UNSTATED = {
    ("cavage", "mismatching query string"): "signature does not verify",
    ("cavage", "mismatching path"): "signature does not verify",
    # A POST signed without digest: Mastodon's strength check fires before the crypto.
    ("cavage", "mismatching method"): "missing required header: digest",
    ("cavage", "POST with tampered path"): "signature does not verify",
    ("rfc9421", "mismatching query"): "signature does not verify",
    ("rfc9421", "mismatching path"): "signature does not verify",
    ("rfc9421", "mismatching method"): "missing required component: content-digest",
    ("rfc9421", "POST tampered path"): "signature does not verify",
}


def _expected_reason(scheme: str, case: dict) -> str:
    error = case.get("error")
    if error is None:
        return UNSTATED[(scheme, case["name"])]
    for prefix, ours in MASTODON_TO_OURS.items():
        if error.startswith(prefix):
            return ours
    raise AssertionError(f"no mapping for Mastodon error {error!r}")


def _cavage_request(case: dict) -> tuple[str, str, list[tuple[str, str]], bytes | None]:
    headers = [*case["request_headers"].items(), ("Signature", case["signature_header"])]
    body = case["body"].encode() if "body" in case else None
    return case["method"], "https://www.example.com" + case["request_path"], headers, body


def _rfc9421_request(case: dict) -> tuple[str, str, dict[str, str], bytes | None]:
    headers = {
        "Host": "www.example.com",
        "Signature-Input": case["signature_input"],
        "Signature": case["signature"],
    }
    if "content_digest" in case:
        headers["Content-Digest"] = case["content_digest"]
    body = case["body"].encode() if "body" in case else None
    return case["method"], "https://www.example.com" + case["request_path"], headers, body


CASES = [("cavage", case) for case in DATA["draft_cavage"]] + [
    ("rfc9421", case) for case in DATA["rfc9421_rsa_v1_5_sha256"]
]


def test_all_cases_are_here() -> None:
    assert len(CASES) == 23
    assert {scheme for scheme, _ in CASES} == {"cavage", "rfc9421"}


@pytest.mark.parametrize(
    ("scheme", "case"), CASES, ids=[f"{scheme}:{case['name']}" for scheme, case in CASES]
)
def test_mastodon_outcome(scheme: str, case: dict) -> None:
    build = _cavage_request if scheme == "cavage" else _rfc9421_request
    method, url, headers, body = build(case)
    req = parse_signature(method, url, headers, body)
    assert req.scheme == scheme
    assert req.key_id == DATA["key_id"]
    if case["expect"] == "accept":
        assert verify_signature(req, PUBLIC_KEY, now=NOW) == DATA["key_id"]
        return
    with pytest.raises(RemoteProtocolError) as caught:
        verify_signature(req, PUBLIC_KEY, now=NOW)
    assert _expected_reason(scheme, case) in caught.value.reason
    if case["expect"] == "reject (400)":
        assert not isinstance(caught.value, SignatureError)
        assert caught.value.status_hint == 400
    else:
        assert isinstance(caught.value, SignatureError)
        assert caught.value.status_hint == 401


@pytest.mark.parametrize("case", DATA["draft_cavage"], ids=lambda c: c["name"])
def test_signing_strings_recompute(case: dict) -> None:
    """Every cavage case's signing string is what our builder produces from signed_values."""
    from protocol.httpsig import cavage

    sig = cavage.parse_signature_header(case["signature_header"])
    target = case["signed_values"]["(request-target)"].partition(" ")[2]
    headers = {k: v for k, v in case["signed_values"].items() if not k.startswith("(")}
    method = case["signed_values"]["(request-target)"].partition(" ")[0]
    text = cavage.build_signing_string(sig, method=method, target=target, headers=headers)
    assert text == case["signing_string"]


def test_positive_signatures_resign_byte_for_byte() -> None:
    """RSASSA-PKCS1-v1_5 is deterministic: our signer reproduces Mastodon's signatures."""
    from protocol.httpsig import cavage

    key = load_private_pem(DATA["private_key_pem"])
    for case in DATA["draft_cavage"]:
        if case["expect"] != "accept" or case["name"].startswith("query string omitted"):
            continue
        method, url, headers, _ = _cavage_request(case)
        sig = cavage.parse_signature_header(case["signature_header"])
        value = cavage.sign_request(
            method, url, headers, key_id=DATA["key_id"], key=key, covered=sig.headers
        )
        assert cavage.parse_signature_header(value).signature == sig.signature, case["name"]
