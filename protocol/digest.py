"""Body digests: the legacy ``Digest`` header and RFC 9530 ``Content-Digest``, build and verify."""

from __future__ import annotations

import base64
import hashlib
import hmac

import http_sfv

from .errors import LocalProtocolError, RemoteProtocolError, SignatureError

__all__ = [
    "CONTENT_DIGEST_ALGORITHMS",
    "build_content_digest",
    "build_digest",
    "verify_content_digest",
    "verify_digest",
]

#: RFC 9530 algorithms we compute, by their Content-Digest key.
CONTENT_DIGEST_ALGORITHMS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def build_digest(body: bytes) -> str:
    """Return a ``Digest`` header value: ``SHA-256=<base64>`` (what Mastodon sends and checks)."""
    return "SHA-256=" + _b64(hashlib.sha256(body).digest())


def verify_digest(header: str, body: bytes) -> None:
    """Check a ``Digest`` header against the raw body, with Mastodon's rules.

    The value is split on ``,`` and each part on its first ``=``; algorithm names
    compare case-insensitively and only SHA-256 is supported. Raises
    ``SignatureError`` ("digest mismatch ..." or "unsupported digest algorithm ...").
    """
    text = header.strip()
    if text.startswith("SHA-256=") and "," not in text:  # what Mastodon sends: no list to read
        given: str | None = text[8:].strip()
        offered = [("sha-256", given)]
    else:
        offered = []
        for part in header.split(","):
            name, _, value = part.strip().partition("=")
            offered.append((name.strip().lower(), value.strip()))
        given = next((value for name, value in offered if name == "sha-256"), None)
    if given is None:
        names = ", ".join(name or "(empty)" for name, _ in offered)
        raise SignatureError(
            f"unsupported digest algorithm: only SHA-256 is supported; offered: {names}"
        )
    computed = _b64(hashlib.sha256(body).digest())
    if not hmac.compare_digest(computed.encode("ascii"), given.encode("utf-8", "replace")):
        raise SignatureError(f"digest mismatch: computed SHA-256 {computed}, given {given}")


def build_content_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """Return an RFC 9530 ``Content-Digest`` value, e.g. ``sha-256=:<base64>:``."""
    hasher = CONTENT_DIGEST_ALGORITHMS.get(algorithm)
    if hasher is None:
        raise LocalProtocolError(
            f"unsupported Content-Digest algorithm {algorithm!r} (use sha-256 or sha-512)"
        )
    return f"{algorithm}=:{_b64(hasher(body).digest())}:"


def verify_content_digest(header: str, body: bytes) -> None:
    """Check an RFC 9530 ``Content-Digest`` header against the raw body.

    The header must parse as an RFC 8941 dictionary (else ``RemoteProtocolError``,
    status 400) and hold at least one of sha-256 / sha-512; every one of those
    present must match (else ``SignatureError``). Other algorithms are ignored.
    """
    parsed = http_sfv.Dictionary()
    try:
        parsed.parse(header.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise RemoteProtocolError(
            "Content-Digest could not be parsed: not a valid RFC 8941 dictionary",
            status_hint=400,
        ) from exc
    checked = 0
    for name, hasher in CONTENT_DIGEST_ALGORITHMS.items():
        if name not in parsed:
            continue
        member = parsed[name]
        given = getattr(member, "value", None)
        if not isinstance(given, bytes):
            raise RemoteProtocolError(
                f"Content-Digest could not be parsed: {name} is not a byte sequence",
                status_hint=400,
            )
        computed = hasher(body).digest()
        if not hmac.compare_digest(computed, given):
            raise SignatureError(
                f"digest mismatch: computed {name} {_b64(computed)}, given {_b64(given)}"
            )
        checked += 1
    if checked == 0:
        offered = ", ".join(parsed.keys()) or "(none)"
        raise SignatureError(
            f"unsupported digest algorithm: Content-Digest needs sha-256 or sha-512; "
            f"offered: {offered}"
        )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
