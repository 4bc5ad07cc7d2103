"""The httpsig front: sign and verify round trips for both schemes, key types and methods."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from protocol.digest import build_content_digest
from protocol.errors import LocalProtocolError, RemoteProtocolError, SignatureError
from protocol.httpsig import (
    MASTODON_POLICY,
    SignedRequest,
    check_signature,
    parse_signature,
    rfc9421,
    sign_request,
    verify_signature,
)
from protocol.keys import generate_ed25519, generate_rsa

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
RSA = generate_rsa(2048)
ED = generate_ed25519()
KEYS = {"rsa": RSA, "ed25519": ED}
KEY_ID = "https://a.example/users/alice#main-key"
INBOX = "https://b.example:8443/users/bob/inbox"
OBJECT = "https://b.example/notes/1?page=2"
BODY = b'{"type":"Create","actor":"https://a.example/users/alice"}'
CT = "application/activity+json"


def _signed(method, url, body, *, key, scheme, extra=None):
    headers = dict(extra or {})
    added = sign_request(method, url, headers, body, key_id=KEY_ID, key=key, now=NOW, scheme=scheme)
    return {**headers, **added}


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_post_round_trip(scheme: str, kind: str) -> None:
    key = KEYS[kind]
    headers = _signed("POST", INBOX, BODY, key=key, scheme=scheme, extra={"Content-Type": CT})
    assert headers["Host"] == "b.example:8443"
    assert headers["Date"] == "Mon, 06 May 2024 07:08:09 GMT"
    req = parse_signature("POST", INBOX, headers, BODY)
    assert isinstance(req, SignedRequest)
    assert (req.scheme, req.key_id) == (scheme, KEY_ID)
    if scheme == "cavage":
        assert "Digest" in headers and "Content-Digest" not in headers
        assert req.covered == ("(request-target)", "host", "date", "digest", "content-type")
        assert req.algorithm == ("rsa-sha256" if kind == "rsa" else "hs2019")
    else:
        assert headers["Content-Digest"] == build_content_digest(BODY)
        assert "Digest" not in headers
        assert req.covered == ("@method", "@target-uri", "content-digest", "content-type")
        assert req.algorithm == ("ed25519" if kind == "ed25519" else None)
        assert ";alg=" in headers["Signature-Input"] or kind == "rsa"
        assert "keyid=" in headers["Signature-Input"]
    assert req.created == NOW
    assert verify_signature(req, key.public_key(), now=NOW) == KEY_ID


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_get_round_trip(scheme: str, kind: str) -> None:
    key = KEYS[kind]
    headers = _signed("GET", OBJECT, None, key=key, scheme=scheme, extra={"Accept": CT})
    assert headers["Host"] == "b.example"
    assert not {"Digest", "Content-Digest"} & set(headers)
    req = parse_signature("GET", OBJECT, headers, None)
    if scheme == "cavage":
        assert req.covered == ("(request-target)", "host", "date", "accept")
    else:
        assert req.covered == ("@method", "@target-uri")
    assert verify_signature(req, key.public_key(), now=NOW + timedelta(minutes=30)) == KEY_ID


def test_cavage_post_without_content_type_does_not_cover_it() -> None:
    headers = _signed("POST", INBOX, BODY, key=RSA, scheme="cavage")
    assert 'headers="(request-target) host date digest"' in headers["Signature"]
    req = parse_signature("POST", INBOX, headers, BODY)
    assert verify_signature(req, RSA.public_key(), now=NOW) == KEY_ID


def test_cavage_get_without_accept() -> None:
    headers = _signed("GET", OBJECT, None, key=RSA, scheme="cavage")
    assert 'headers="(request-target) host date"' in headers["Signature"]


def test_rsa_rfc9421_sends_no_alg() -> None:
    headers = _signed("POST", INBOX, BODY, key=RSA, scheme="rfc9421")
    assert "alg=" not in headers["Signature-Input"]
    assert ";created=" in headers["Signature-Input"]


# --- header inputs ------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
@pytest.mark.parametrize("shape", ["lowercase dict", "pairs", "cimultidictproxy"])
def test_any_header_shape(scheme: str, shape: str) -> None:
    headers = _signed("POST", INBOX, BODY, key=RSA, scheme=scheme, extra={"Content-Type": CT})
    if shape == "lowercase dict":
        given = {k.lower(): v for k, v in headers.items()}
    elif shape == "pairs":
        given = [(k.upper(), v) for k, v in headers.items()]
    else:
        given = CIMultiDictProxy(CIMultiDict(headers))
    req = parse_signature("POST", INBOX, given, BODY)
    assert verify_signature(req, RSA.public_key(), now=NOW) == KEY_ID


def test_a_case_insensitive_multidict_is_read_in_place() -> None:
    """aiohttp's headers are read without a copy, and answer as the copied view does."""
    from protocol.httpsig._headers import Headers

    pairs = [("Host", "b.example"), ("X-Twice", "1"), ("x-twice", " 2 "), ("Date", "d")]
    in_place = Headers(CIMultiDictProxy(CIMultiDict(pairs)))
    copied = Headers(pairs)
    for name in ("HOST", "x-TWICE", "date", "absent"):
        assert in_place.get(name) == copied.get(name)
        assert in_place.get_all(name) == copied.get_all(name)
        assert (name in in_place) == (name in copied)
    assert 42 not in in_place
    assert Headers(in_place).get("x-twice") == "1, 2"
    assert in_place.as_dict() == copied.as_dict()
    assert list(in_place) == pairs and len(in_place) == 4
    # A mutable multidict is copied as before: later changes do not show through.
    mutable = CIMultiDict(pairs)
    copy = Headers(mutable)
    mutable["Date"] = "changed"
    assert copy.get("date") == "d"
    # A value that is not text is refused when the view is made, as from any other shape.
    with pytest.raises(LocalProtocolError):
        Headers(CIMultiDictProxy(CIMultiDict([("Date", "d"), ("X-Number", 5)])))  # type: ignore[list-item]


# --- parse errors -------------------------------------------------------------------------


def test_no_signature() -> None:
    with pytest.raises(SignatureError, match="no signature"):
        parse_signature("GET", OBJECT, {"Host": "b.example"}, None)


def test_two_cavage_signature_headers() -> None:
    headers = _signed("GET", OBJECT, None, key=RSA, scheme="cavage")
    pairs = [*headers.items(), ("Signature", headers["Signature"])]
    with pytest.raises(SignatureError, match="more than once"):
        parse_signature("GET", OBJECT, pairs, None)


def test_malformed_signature_input_is_a_signature_error() -> None:
    headers = _signed("GET", OBJECT, None, key=ED, scheme="rfc9421")
    headers["Signature-Input"] = "sig1=(@method"
    with pytest.raises(SignatureError, match="malformed"):
        parse_signature("GET", OBJECT, headers, None)


def test_rfc9421_without_keyid() -> None:
    headers = {"Host": "b.example"}
    headers |= rfc9421.sign_request(
        "GET", OBJECT, headers, key=ED, key_id="x", alg="ed25519",
        components=["@method", "@target-uri"], created=int(NOW.timestamp()),
    )  # fmt: skip
    headers["Signature-Input"] = headers["Signature-Input"].replace(';keyid="x"', "")
    with pytest.raises(SignatureError, match="keyid"):
        parse_signature("GET", OBJECT, headers, None)


def test_signature_input_wins_over_cavage() -> None:
    headers = _signed("GET", OBJECT, None, key=ED, scheme="rfc9421")
    assert parse_signature("GET", OBJECT, headers, None).scheme == "rfc9421"


# --- tampering, both schemes --------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
def test_tampered_body(scheme: str) -> None:
    headers = _signed("POST", INBOX, BODY, key=ED, scheme=scheme, extra={"Content-Type": CT})
    tampered = BODY.replace(b"Create", b"Delete")
    req = parse_signature("POST", INBOX, headers, tampered)
    with pytest.raises(SignatureError, match="digest mismatch"):
        verify_signature(req, ED.public_key(), now=NOW)


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
def test_tampered_signed_header(scheme: str) -> None:
    headers = _signed("POST", INBOX, BODY, key=RSA, scheme=scheme, extra={"Content-Type": CT})
    headers["Content-Type"] = "application/ld+json"
    req = parse_signature("POST", INBOX, headers, BODY)
    with pytest.raises(SignatureError, match="signature does not verify"):
        verify_signature(req, RSA.public_key(), now=NOW)


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
def test_tampered_signature(scheme: str) -> None:
    headers = _signed("POST", INBOX, BODY, key=ED, scheme=scheme)
    value = headers["Signature"]
    start = value.index('signature="') + 11 if scheme == "cavage" else value.index(":") + 1
    raw = bytearray(base64.b64decode(value[start : start + 88]))
    raw[5] ^= 1
    headers["Signature"] = (
        value[:start] + base64.b64encode(bytes(raw)).decode() + value[start + 88 :]
    )
    req = parse_signature("POST", INBOX, headers, BODY)
    with pytest.raises(SignatureError, match="signature does not verify"):
        verify_signature(req, ED.public_key(), now=NOW)


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
def test_wrong_target(scheme: str) -> None:
    headers = _signed("POST", INBOX, BODY, key=RSA, scheme=scheme)
    req = parse_signature("POST", "https://b.example:8443/users/eve/inbox", headers, BODY)
    with pytest.raises(SignatureError, match="signature does not verify"):
        verify_signature(req, RSA.public_key(), now=NOW)


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
def test_other_key(scheme: str) -> None:
    headers = _signed("GET", OBJECT, None, key=ED, scheme=scheme)
    req = parse_signature("GET", OBJECT, headers, None)
    with pytest.raises(SignatureError):
        verify_signature(req, generate_ed25519().public_key(), now=NOW)


# --- RFC 9421 policy ----------------------------------------------------------------------


def _rfc9421(method, url, body, components, *, created=True, expires=None, key=ED):
    headers = {"Host": "b.example:8443", "Content-Type": CT}
    if body is not None:
        headers["Content-Digest"] = build_content_digest(body)
    headers |= rfc9421.sign_request(
        method, url, headers, key=key, key_id=KEY_ID, alg=rfc9421.infer_alg(key),
        components=components, created=int(NOW.timestamp()), expires=expires,
    )  # fmt: skip
    if not created:
        headers["Signature-Input"] = headers["Signature-Input"].replace(
            f";created={int(NOW.timestamp())}", ""
        )
    return parse_signature(method, url, headers, body)


@pytest.mark.parametrize(
    ("method", "components", "reason"),
    [
        ("GET", ["@method"], "missing required component: @target-uri"),
        ("GET", ["@target-uri", "host"], "missing required component: @method"),
        ("POST", ["@method", "@target-uri"], "missing required component: content-digest"),
    ],
)
def test_rfc9421_required_components(method: str, components: list[str], reason: str) -> None:
    req = _rfc9421(method, INBOX, BODY if method == "POST" else None, components)
    with pytest.raises(SignatureError, match=reason):
        check_signature(req, now=NOW)


def test_rfc9421_created_required() -> None:
    req = _rfc9421("GET", OBJECT, None, ["@method", "@target-uri"], created=False)
    assert req.created is None
    with pytest.raises(SignatureError, match="missing required parameter: created"):
        verify_signature(req, ED.public_key(), now=NOW)


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (timedelta(hours=-1, minutes=-5), True),
        (timedelta(hours=-1, minutes=-5, seconds=-1), False),
        (timedelta(hours=1), True),
        (timedelta(hours=1, seconds=1), False),
    ],
)
def test_rfc9421_window(offset: timedelta, ok: bool) -> None:
    req = _rfc9421("GET", OBJECT, None, ["@method", "@target-uri"])
    now = NOW - offset
    if ok:
        assert verify_signature(req, ED.public_key(), now=now) == KEY_ID
    else:
        with pytest.raises(SignatureError, match="date outside the accepted window"):
            verify_signature(req, ED.public_key(), now=now)


def test_rfc9421_expires_honoured() -> None:
    expires = int(NOW.timestamp()) + 10
    req = _rfc9421("GET", OBJECT, None, ["@method", "@target-uri"], expires=expires)
    assert req.expires == NOW + timedelta(seconds=10)
    with pytest.raises(SignatureError, match="signature expired"):
        verify_signature(req, ED.public_key(), now=NOW + timedelta(hours=1, seconds=11))


def test_rfc9421_malformed_content_digest_is_400() -> None:
    headers = _signed("POST", INBOX, BODY, key=RSA, scheme="rfc9421")
    headers["Content-Digest"] = headers["Content-Digest"].upper()
    req = parse_signature("POST", INBOX, headers, BODY)
    with pytest.raises(RemoteProtocolError) as caught:
        verify_signature(req, RSA.public_key(), now=NOW)
    assert caught.value.status_hint == 400
    assert "Content-Digest could not be parsed" in caught.value.reason


def test_rfc9421_small_rsa_key_refused_by_policy() -> None:
    from dataclasses import replace

    headers = _signed("GET", OBJECT, None, key=RSA, scheme="rfc9421")
    req = parse_signature("GET", OBJECT, headers, None)
    with pytest.raises(SignatureError, match="below the minimum of 4096"):
        verify_signature(
            req, RSA.public_key(), now=NOW, policy=replace(MASTODON_POLICY, min_rsa_bits=4096)
        )


def test_rfc9421_alg_mismatch_with_key() -> None:
    headers = _signed("GET", OBJECT, None, key=ED, scheme="rfc9421")
    req = parse_signature("GET", OBJECT, headers, None)
    with pytest.raises(SignatureError):
        verify_signature(req, RSA.public_key(), now=NOW)


# --- check_signature (no key needed) and caller errors ------------------------------------


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
def test_check_signature_refuses_stale_request_before_key_fetch(scheme: str) -> None:
    headers = _signed("POST", INBOX, BODY, key=RSA, scheme=scheme)
    req = parse_signature("POST", INBOX, headers, BODY)
    check_signature(req, now=NOW)
    with pytest.raises(SignatureError, match="date outside the accepted window"):
        check_signature(req, now=NOW + timedelta(days=1))


def test_naive_now_and_unknown_scheme_are_local_errors() -> None:
    with pytest.raises(LocalProtocolError):
        sign_request("GET", OBJECT, {}, None, key_id=KEY_ID, key=RSA, now=NOW.replace(tzinfo=None))
    with pytest.raises(LocalProtocolError):
        sign_request("GET", OBJECT, {}, None, key_id=KEY_ID, key=RSA, now=NOW, scheme="jws")
    with pytest.raises(LocalProtocolError):
        sign_request("GET", "/relative", {}, None, key_id=KEY_ID, key=RSA, now=NOW)


def test_signed_request_repr_hides_state() -> None:
    headers = _signed("GET", OBJECT, None, key=RSA, scheme="cavage")
    text = repr(parse_signature("GET", OBJECT, headers, None))
    assert "_state" not in text and "cavage" in text
