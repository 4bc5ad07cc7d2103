"""Digest (SHA-256=) and RFC 9530 Content-Digest: good, bad and malformed values."""

from __future__ import annotations

import base64
import hashlib

import pytest

from protocol.digest import (
    build_content_digest,
    build_digest,
    verify_content_digest,
    verify_digest,
)
from protocol.errors import LocalProtocolError, RemoteProtocolError, SignatureError

BODY = b"Hello world"
# From Mastodon's spec (signature_verification_spec.rb).
HELLO_SHA256 = "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="
HELLO_SHA512 = base64.b64encode(hashlib.sha512(BODY).digest()).decode()
# RFC 9530 Appendix: {"hello": "world"}.
RFC9530_BODY = b'{"hello": "world"}'
RFC9530_SHA256 = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
RFC9530_SHA512 = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"


def test_build_digest_matches_mastodon() -> None:
    assert build_digest(BODY) == f"SHA-256={HELLO_SHA256}"


def test_build_digest_empty_body() -> None:
    assert build_digest(b"") == "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


@pytest.mark.parametrize(
    "header",
    [
        f"SHA-256={HELLO_SHA256}",
        f"sha-256={HELLO_SHA256}",
        f"Sha-256={HELLO_SHA256}",
        f"SHA-512=abc, SHA-256={HELLO_SHA256}",
        f"SHA-256={HELLO_SHA256},MD5=xyz",
    ],
)
def test_verify_digest_accepts(header: str) -> None:
    verify_digest(header, BODY)


def test_verify_digest_splits_on_first_equals_only() -> None:
    # base64 padding contains '=': the value is everything after the first '='.
    verify_digest(build_digest(b"ab"), b"ab")


@pytest.mark.parametrize("body", [b"Hello world!", b"hello world", b"", b"Hello world\n"])
def test_verify_digest_mismatch(body: bytes) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_digest(f"SHA-256={HELLO_SHA256}", body)
    assert caught.value.reason.startswith("digest mismatch")
    assert caught.value.status_hint == 401


@pytest.mark.parametrize(
    ("header", "offered"),
    [
        (f"SHA-512={HELLO_SHA512}", "sha-512"),
        ("MD5=abc, SHA=def", "md5, sha"),
        ("garbage", "garbage"),
        ("", "(empty)"),
    ],
)
def test_verify_digest_unsupported_names_offered(header: str, offered: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_digest(header, BODY)
    assert caught.value.reason.startswith("unsupported digest algorithm")
    assert offered in caught.value.reason


def test_build_content_digest() -> None:
    assert build_content_digest(RFC9530_BODY) == RFC9530_SHA256
    assert build_content_digest(RFC9530_BODY, "sha-512") == RFC9530_SHA512
    assert build_content_digest(BODY) == f"sha-256=:{HELLO_SHA256}:"


def test_build_content_digest_unknown_algorithm() -> None:
    with pytest.raises(LocalProtocolError):
        build_content_digest(BODY, "md5")


@pytest.mark.parametrize(
    "header",
    [
        RFC9530_SHA256,
        RFC9530_SHA512,
        f"{RFC9530_SHA256}, {RFC9530_SHA512}",
        f"unixsum=:AAAA:, {RFC9530_SHA256}",
        f"{RFC9530_SHA512},md5=:AAAA:",
    ],
)
def test_verify_content_digest_accepts(header: str) -> None:
    verify_content_digest(header, RFC9530_BODY)


@pytest.mark.parametrize(
    "header",
    [
        RFC9530_SHA256,
        # one good, one bad: every supported algorithm present must match
        f"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:{HELLO_SHA512}:",
    ],
)
def test_verify_content_digest_mismatch(header: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_content_digest(header, RFC9530_BODY + b" ")
    assert caught.value.reason.startswith("digest mismatch")


def test_verify_content_digest_one_of_two_wrong() -> None:
    header = f"{RFC9530_SHA256}, sha-512=:{HELLO_SHA512}:"
    with pytest.raises(SignatureError, match="digest mismatch: computed sha-512"):
        verify_content_digest(header, RFC9530_BODY)


def test_verify_content_digest_no_supported_algorithm() -> None:
    with pytest.raises(SignatureError) as caught:
        verify_content_digest("md5=:AAAA:, unixsum=:AAAA:", RFC9530_BODY)
    assert caught.value.reason.startswith("unsupported digest algorithm")
    assert "md5, unixsum" in caught.value.reason


@pytest.mark.parametrize(
    "header",
    [
        f"SHA-256=:{HELLO_SHA256}:",  # upper-case key is not an sf-dictionary key (Mastodon: 400)
        f"SHA-256={HELLO_SHA256}",  # the legacy Digest syntax
        "sha-256=:not base64!:",
        "sha-256=:AAAA",  # unterminated byte sequence
        "sha-256=:AAAA:;",
        "sha-256=:AAAA: garbage",
        "sha-256=:caf\u00e9:",  # not ASCII
    ],
)
def test_verify_content_digest_malformed_is_400(header: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        verify_content_digest(header, BODY)
    assert not isinstance(caught.value, SignatureError)
    assert caught.value.status_hint == 400
    assert caught.value.reason.startswith("Content-Digest could not be parsed")


@pytest.mark.parametrize("header", ['sha-256="a string"', "sha-256=42", "sha-256=?1"])
def test_verify_content_digest_value_must_be_bytes(header: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        verify_content_digest(header, BODY)
    assert caught.value.status_hint == 400
    assert "not a byte sequence" in caught.value.reason


def test_content_digest_round_trip() -> None:
    for algorithm in ("sha-256", "sha-512"):
        verify_content_digest(build_content_digest(BODY, algorithm), BODY)


@pytest.mark.parametrize(
    "spelling",
    [
        "SHA-256={d}",
        "  SHA-256={d} ",
        "sha-256={d}",
        "SHA-256= {d}",
        "MD5=x,SHA-256={d}",
        "SHA-256={d}, MD5=x",
    ],
)
def test_every_spelling_of_a_good_digest_verifies(spelling: str) -> None:
    """Mastodon's own spelling takes the short way; the others the general reading."""
    body = b'{"type":"Follow"}'
    verify_digest(spelling.format(d=build_digest(body)[8:]), body)
    with pytest.raises(SignatureError, match="digest mismatch"):
        verify_digest(spelling.format(d=build_digest(b"other")[8:]), body)
