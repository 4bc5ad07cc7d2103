"""draft-cavage-12: Appendix C vectors, header parsing, signing strings, Mastodon's policy."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from protocol.digest import build_digest
from protocol.errors import SignatureError
from protocol.httpsig import cavage
from protocol.httpsig._headers import format_http_date, parse_http_date
from protocol.httpsig.cavage import MASTODON_POLICY, VerifyPolicy
from protocol.keys import generate_ed25519, generate_rsa, load_private_pem, load_public_pem

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "cavage12"
C = json.loads((VECTORS / "cavage12_vectors.json").read_text())
C_PRIVATE = load_private_pem(C["private_key_pem"])
C_PUBLIC = load_public_pem(C["public_key_pem"])
C_URL = "https://example.com/foo?param=value&pet=dog"
C_HEADERS = [tuple(pair) for pair in C["request"]["fields"]]
C_BODY = C["request"]["body"].encode()
C_NOW = datetime(2014, 1, 5, 21, 31, 40, tzinfo=UTC)
# Appendix C requests are POSTs that do not sign digest; Mastodon would refuse them.
LENIENT = VerifyPolicy(require_digest_or_request_target=False, post_requires_digest=False)

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
RSA = generate_rsa(2048)
ED = generate_ed25519()
KEY_ID = "https://a.example/users/alice#main-key"
URL = "https://b.example:8443/users/bob/inbox?x=1"


# --- Appendix C ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["C.1 default", "C.2 basic"])
def test_appendix_c_recomputes_exactly(name: str) -> None:
    test = C["tests"][name]
    header = test.get("signature_header", test["authorization"])
    sig = cavage.parse_signature_header(header)
    text = cavage.build_signing_string(
        sig, method="POST", target="/foo?param=value&pet=dog", headers=C_HEADERS
    )
    assert text == test["signing_string"]
    assert C_PUBLIC.key_size == 1024  # the draft says 2048; the key is 1024
    value = cavage.sign_request(
        "POST", C_URL, C_HEADERS, key_id="Test", key=C_PRIVATE, covered=sig.headers
    )
    assert cavage.parse_signature_header(value).signature == base64.b64decode(test["signature"])
    if test["headers_param"] is not None:
        assert value == test["authorization"]


@pytest.mark.parametrize("name", ["C.1 default", "C.2 basic"])
def test_appendix_c_verifies(name: str) -> None:
    sig = cavage.parse_signature_header(C["tests"][name]["authorization"])
    got = cavage.verify_request(
        sig,
        method="POST",
        url=C_URL,
        headers=C_HEADERS,
        body=C_BODY,
        public_key=C_PUBLIC,
        now=C_NOW,
        policy=LENIENT,
    )
    assert got == "Test"


def test_appendix_c_refused_by_mastodon_policy_and_by_key_size() -> None:
    sig = cavage.parse_signature_header(C["tests"]["C.2 basic"]["authorization"])
    args = dict(method="POST", url=C_URL, headers=C_HEADERS, body=C_BODY, now=C_NOW)
    with pytest.raises(SignatureError, match="missing required header: digest"):
        cavage.verify_request(sig, public_key=C_PUBLIC, **args)
    strict = replace(LENIENT, min_rsa_bits=2048)
    with pytest.raises(SignatureError, match="1024 bits is below the minimum of 2048"):
        cavage.verify_request(sig, public_key=C_PUBLIC, policy=strict, **args)


def test_appendix_c3_parses_but_rsa_sha256_cannot_cover_created() -> None:
    sig = cavage.parse_signature_header(C["tests"]["C.3 all headers"]["signature_header"])
    assert (sig.created, sig.expires) == ("1402170695", "1402170699")
    assert sig.headers[:3] == ("(request-target)", "(created)", "(expires)")
    with pytest.raises(SignatureError, match=r"\(created\) is only allowed with hs2019"):
        cavage.build_signing_string(sig, method="POST", target="/foo", headers=C_HEADERS)


# --- parsing the Signature header ---------------------------------------------------------

SIG_B64 = base64.b64encode(b"\x01\x02\x03").decode()


def test_parse_defaults_and_prefix() -> None:
    sig = cavage.parse_signature_header(f'Signature keyId="k",signature="{SIG_B64}"')
    assert sig.key_id == "k"
    assert sig.algorithm == "hs2019" and not sig.algorithm_sent
    assert sig.headers == ("(created)",)
    assert sig.signature == b"\x01\x02\x03"
    rsa = cavage.parse_signature_header(f'keyId="k",algorithm="RSA-SHA256",signature="{SIG_B64}"')
    assert rsa.algorithm == "rsa-sha256"
    assert rsa.headers == ("date",)


def test_parse_whitespace_escapes_unknown_and_numbers() -> None:
    sig = cavage.parse_signature_header(
        f'keyId = "a\\"b" , algorithm="hs2019",  created=1700000000, expires="1700000300",'
        f' headers="(request-target) Host  DATE", foo=bar, signature="{SIG_B64}"'
    )
    assert sig.key_id == 'a"b'
    assert sig.headers == ("(request-target)", "host", "date")
    assert (sig.created, sig.expires) == ("1700000000", "1700000300")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (f'signature="{SIG_B64}"', "missing signature parameter: keyId"),
        ('keyId="k"', "missing signature parameter: signature"),
        (f'keyId="",signature="{SIG_B64}"', "missing signature parameter: keyId"),
        (f'keyId=k,signature="{SIG_B64}"', "keyId must be a quoted string"),
        (f'keyId="k",headers=date,signature="{SIG_B64}"', "headers must be a quoted string"),
        (f'keyId="k,signature="{SIG_B64}"', "malformed Signature header"),
        ('keyId="k",signature="abc', "unterminated quoted string"),
        (f'keyId="k",keyId="j",signature="{SIG_B64}"', "keyId is repeated"),
        (f'keyId="k";signature="{SIG_B64}"', "',' expected"),
        (f'keyId="k",signature="{SIG_B64}",', "parameter name expected"),
        (f'keyId="k" signature="{SIG_B64}"', "',' expected"),
        ('keyId="k",signature="not base64!"', "signature is not base64"),
        (f'keyId="k",headers="  ",signature="{SIG_B64}"', "headers is empty"),
        (f'keyId="k",created=soon,signature="{SIG_B64}"', "created must be an integer"),
        (f'keyId="k",expires=-5,signature="{SIG_B64}"', "expires must be an integer"),
        ("", "parameter name expected"),
        (f'keyId="a\nb",signature="{SIG_B64}"', "control character"),
    ],
)
def test_parse_refuses(header: str, reason: str) -> None:
    with pytest.raises(SignatureError) as caught:
        cavage.parse_signature_header(header)
    assert reason in caught.value.reason
    assert caught.value.status_hint == 401


# --- the signing string -------------------------------------------------------------------


def test_signing_string_follows_headers_order_and_joins_repeats() -> None:
    sig = cavage.CavageSignature(
        key_id="k",
        algorithm="rsa-sha256",
        headers=("x-b", "(request-target)", "x-a"),
        signature=b"",
    )
    headers = [("X-A", " one "), ("x-b", "two"), ("X-a", "three")]
    text = cavage.build_signing_string(sig, method="PUT", target="/p?q", headers=headers)
    assert text == "x-b: two\n(request-target): put /p?q\nx-a: one, three"


def test_signing_string_missing_header() -> None:
    sig = cavage.CavageSignature(
        key_id="k", algorithm="rsa-sha256", headers=("date",), signature=b""
    )
    with pytest.raises(SignatureError, match="missing required header: date"):
        cavage.build_signing_string(sig, method="GET", target="/", headers={})


def test_signing_string_created_needs_its_parameter() -> None:
    sig = cavage.CavageSignature(
        key_id="k", algorithm="hs2019", headers=("(created)",), signature=b""
    )
    with pytest.raises(SignatureError, match=r"\(created\) is covered but its parameter is absent"):
        cavage.build_signing_string(sig, method="GET", target="/", headers={})


# --- signing and verifying ----------------------------------------------------------------


def _post(
    key=RSA, *, when: datetime = NOW, body: bytes = b'{"type":"Follow"}', **sign_kw
) -> tuple[list[tuple[str, str]], bytes]:
    headers = [
        ("Host", "b.example:8443"),
        ("Date", format_http_date(when)),
        ("Digest", build_digest(body)),
        ("Content-Type", "application/activity+json"),
    ]
    covered = sign_kw.pop("covered", ("(request-target)", "host", "date", "digest", "content-type"))
    value = cavage.sign_request(
        "POST", URL, headers, key_id=KEY_ID, key=key, covered=covered, **sign_kw
    )
    return [*headers, ("Signature", value)], body


def _verify(headers, body, *, key=RSA, now=NOW, method="POST", url=URL, policy=MASTODON_POLICY):
    value = next(v for k, v in headers if k == "Signature")
    sig = cavage.parse_signature_header(value)
    return cavage.verify_request(
        sig,
        method=method,
        url=url,
        headers=headers,
        body=body,
        public_key=key.public_key(),
        now=now,
        policy=policy,
    )


def test_rsa_post_round_trip() -> None:
    headers, body = _post()
    value = dict(headers)["Signature"]
    assert 'algorithm="rsa-sha256"' in value
    assert 'headers="(request-target) host date digest content-type"' in value
    assert _verify(headers, body) == KEY_ID


def test_ed25519_hs2019_round_trip_with_created() -> None:
    created = int(NOW.timestamp()) - 30
    headers, body = _post(
        ED,
        created=created,
        expires=created + 300,
        covered=("(request-target)", "(created)", "(expires)", "host", "digest"),
    )
    assert 'algorithm="hs2019"' in dict(headers)["Signature"]
    assert _verify(headers, body, key=ED) == KEY_ID


def test_rsa_with_hs2019_verifies_as_pkcs1() -> None:
    headers, body = _post(algorithm="hs2019")
    assert _verify(headers, body) == KEY_ID


def test_wrong_key_type_for_algorithm() -> None:
    headers, body = _post(ED)
    value = dict(headers)["Signature"].replace('algorithm="hs2019"', 'algorithm="rsa-sha256"')
    headers = [(k, value if k == "Signature" else v) for k, v in headers]
    with pytest.raises(SignatureError, match="cannot verify rsa-sha256"):
        _verify(headers, body, key=ED)


def test_other_key_does_not_verify() -> None:
    headers, body = _post()
    with pytest.raises(SignatureError, match="signature does not verify"):
        _verify(headers, body, key=generate_rsa(2048))


def test_unsupported_algorithm() -> None:
    headers, body = _post()
    value = dict(headers)["Signature"].replace("rsa-sha256", "hmac-sha256")
    headers = [(k, value if k == "Signature" else v) for k, v in headers]
    with pytest.raises(SignatureError, match="unsupported signature algorithm 'hmac-sha256'"):
        _verify(headers, body)


# --- tampering ----------------------------------------------------------------------------


def test_tampered_body_byte() -> None:
    headers, body = _post()
    tampered = bytes([body[0] ^ 1]) + body[1:]
    with pytest.raises(SignatureError, match="digest mismatch"):
        _verify(headers, tampered)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Host", "b.example:8444"),
        ("Content-Type", "application/activity+jsoN"),
        ("Digest", build_digest(b'{"type":"Follow"}').replace("SHA-256", "sha-256")),
    ],
)
def test_tampered_signed_header(name: str, value: str) -> None:
    headers, body = _post()
    headers = [(k, value if k == name else v) for k, v in headers]
    with pytest.raises(SignatureError, match="signature does not verify"):
        _verify(headers, body)


def test_tampered_signature_byte() -> None:
    headers, body = _post()
    sig = cavage.parse_signature_header(dict(headers)["Signature"])
    raw = bytearray(sig.signature)
    raw[17] ^= 0x40
    value = dict(headers)["Signature"].replace(
        base64.b64encode(sig.signature).decode(), base64.b64encode(bytes(raw)).decode()
    )
    headers = [(k, value if k == "Signature" else v) for k, v in headers]
    with pytest.raises(SignatureError, match="signature does not verify"):
        _verify(headers, body)


def test_tampered_target_and_method() -> None:
    headers, body = _post()
    with pytest.raises(SignatureError, match="signature does not verify"):
        _verify(headers, body, url="https://b.example:8443/users/carol/inbox?x=1")
    with pytest.raises(SignatureError, match="signature does not verify"):
        _verify(headers, body, method="PUT")


def test_query_fallback_can_be_disabled() -> None:
    headers, body = _post()
    url = "https://b.example:8443/users/bob/inbox"
    signed = cavage.sign_request(
        "POST",
        url,
        headers[:-1],
        key_id=KEY_ID,
        key=RSA,
        covered=("(request-target)", "host", "date", "digest"),
    )
    headers = [*headers[:-1], ("Signature", signed)]
    assert _verify(headers, body, url=URL) == KEY_ID  # signed without ?x=1, received with it
    with pytest.raises(SignatureError, match="signature does not verify"):
        _verify(headers, body, url=URL, policy=replace(MASTODON_POLICY, query_fallback=False))


# --- Mastodon's policy --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "covered", "reason"),
    [
        ("GET", ("(request-target)", "date"), "host must be signed for GET"),
        ("GET", ("(request-target)", "host"), "date or (created) must be signed"),
        ("GET", ("host", "date"), "digest or (request-target) must be signed"),
        ("POST", ("(request-target)", "host", "date"), "digest must be signed for POST"),
    ],
)
def test_required_headers(method: str, covered: tuple[str, ...], reason: str) -> None:
    headers = [("Host", "b.example:8443"), ("Date", format_http_date(NOW))]
    value = cavage.sign_request(method, URL, headers, key_id=KEY_ID, key=RSA, covered=covered)
    headers.append(("Signature", value))
    with pytest.raises(SignatureError) as caught:
        _verify(headers, b"" if method == "POST" else None, method=method)
    assert caught.value.reason == f"missing required header: {reason}"


def test_post_with_digest_only_satisfies_policy() -> None:
    headers, body = _post(covered=("date", "digest"))
    assert _verify(headers, body) == KEY_ID


def test_digest_covered_but_absent() -> None:
    headers, body = _post(covered=("(request-target)", "host", "date", "digest"))
    headers = [(k, v) for k, v in headers if k != "Digest"]
    with pytest.raises(SignatureError, match="missing required header: digest"):
        _verify(headers, body)


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (timedelta(hours=1), True),
        (timedelta(hours=1, seconds=1), False),
        (timedelta(minutes=-65), True),
        (timedelta(minutes=-65, seconds=-1), False),
        (timedelta(days=-1), False),
    ],
)
def test_date_window(offset: timedelta, ok: bool) -> None:
    headers, body = _post(when=NOW + offset)
    if ok:
        assert _verify(headers, body) == KEY_ID
    else:
        with pytest.raises(SignatureError, match="date outside the accepted window"):
            _verify(headers, body)


def test_unparsable_date() -> None:
    headers, body = _post()
    headers = [(k, "yesterday" if k == "Date" else v) for k, v in headers]
    with pytest.raises(SignatureError, match="date header could not be parsed"):
        _verify(headers, body)


COVER_CREATED = ("(request-target)", "(created)", "(expires)", "host", "digest")


@pytest.mark.parametrize(
    ("created", "expires", "ok"),
    [
        (-30, 300, True),
        # an explicit expires is honoured ...
        (-3 * 3600, 6 * 3600, True),
        # ... but capped at created + 12 h (+ 1 h skew)
        (-13 * 3600 + 60, 24 * 3600, True),
        (-13 * 3600 - 60, 24 * 3600, False),
        # expired more than the 1 h skew ago
        (-2 * 3600, 30, False),
        # created more than 1 h in the future
        (3600 + 60, 300, False),
    ],
)
def test_created_expires_window(created: int, expires: int, ok: bool) -> None:
    stamp = int(NOW.timestamp()) + created
    # A stale Date proves (created) is what counts for hs2019.
    headers, body = _post(
        ED,
        when=NOW - timedelta(days=3),
        created=stamp,
        expires=stamp + expires,
        covered=COVER_CREATED,
    )
    if ok:
        assert _verify(headers, body, key=ED) == KEY_ID
    else:
        with pytest.raises(SignatureError, match="date outside the accepted window"):
            _verify(headers, body, key=ED)


def test_uncovered_created_parameter_is_ignored() -> None:
    """An unsigned created= cannot move the window: the signed Date decides."""
    headers, body = _post(
        ED,
        when=NOW - timedelta(days=3),
        created=int(NOW.timestamp()),
        covered=("(request-target)", "host", "date", "digest"),
    )
    with pytest.raises(SignatureError, match="date outside the accepted window"):
        _verify(headers, body, key=ED)


def test_check_time_window_needs_aware_now() -> None:
    with pytest.raises(Exception, match="timezone-aware"):
        cavage.check_time_window(NOW, None, now=NOW.replace(tzinfo=None))


# --- HTTP dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"],
)
def test_http_date_forms(text: str) -> None:
    assert parse_http_date(text) == datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["wrong date", "Sun, 06 Nov 1994 08:49:37 +0000", "Sun, 31 Feb 1994 08:49:37 GMT", ""]
)
def test_http_date_refused(text: str) -> None:
    assert parse_http_date(text) is None


def test_format_http_date() -> None:
    assert format_http_date(datetime(2023, 12, 20, 11, 0, tzinfo=UTC)) == (
        "Wed, 20 Dec 2023 11:00:00 GMT"
    )


@pytest.mark.parametrize(
    ("header", "fast"),
    [
        # Mastodon's exact shape: read by the string-method fast path.
        (
            f'keyId="https://a.example/u#k",algorithm="rsa-sha256",'
            f'headers="(request-target) host date digest content-type",signature="{SIG_B64}"',
            True,
        ),
        # Near misses that the fast path must hand to the exact reader.
        (f'keyId="k\tx",algorithm="rsa-sha256",headers="date",signature="{SIG_B64}"', False),
        (f'keyId="k\\"x",algorithm="rsa-sha256",headers="date",signature="{SIG_B64}"', False),
        (f'keyId="k", algorithm="rsa-sha256",headers="date",signature="{SIG_B64}"', False),
        (f'keyId="k",algorithm="rsa-sha256",headers="date",signature="{SIG_B64}",x="y"', False),
        (f'algorithm="rsa-sha256",keyId="k",headers="date",signature="{SIG_B64}"', False),
    ],
)
def test_fast_and_exact_readers_agree(header: str, fast: bool) -> None:
    """The one-shape reader gives what the general reader gives, or leaves it to it."""
    quick = cavage._mastodon_shape(header)
    assert (quick is not None) == fast
    exact = cavage.parse_signature_header(header)
    assert exact.signature == b"\x01\x02\x03"
    if quick is not None:
        assert quick["keyId"][0] == exact.key_id
        assert quick["headers"][0].split() == list(exact.headers)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        # Mastodon's shape with a value the fast reader must not accept as it stands.
        ('keyId="k",algorithm="rsa-sha256",headers="date",signature="QQ"', "not base64"),
        ('keyId="k",algorithm="rsa-sha256",headers="date",signature="QQ==="', "not base64"),
        ('keyId="k",algorithm="rsa-sha256",headers="date",signature="Q Q=="', "not base64"),
        ('keyId="k",algorithm="rsa-sha256",headers="",signature="QQ=="', "headers is empty"),
        ('keyId="",algorithm="rsa-sha256",headers="date",signature="QQ=="', "keyId"),
        ('keyId="k\x01",algorithm="rsa-sha256",headers="date",signature="QQ=="', "control"),
    ],
)
def test_mastodon_shape_is_still_checked(header: str, reason: str) -> None:
    with pytest.raises(SignatureError) as caught:
        cavage.parse_signature_header(header)
    assert reason in caught.value.reason
