"""draft-cavage-http-signatures-12 (rsa-sha256, hs2019) and Mastodon's verification policy."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ..digest import verify_digest
from ..errors import LocalProtocolError, SignatureError
from ..keys import PrivateKey, PublicKey
from ._headers import Headers, HeadersLike, parse_http_date, split_url

__all__ = [
    "ALGORITHMS",
    "MASTODON_POLICY",
    "CavageSignature",
    "VerifyPolicy",
    "build_signing_string",
    "check_request",
    "check_time_window",
    "parse_signature_header",
    "sign_request",
    "signature_times",
    "verify_request",
]

#: The draft-cavage algorithms we speak.
ALGORITHMS = frozenset({"rsa-sha256", "hs2019"})


@dataclass(frozen=True)
class VerifyPolicy:
    """What a signed request must cover and how old it may be (defaults: Mastodon's rules)."""

    algorithms: frozenset[str] = ALGORITHMS
    clock_skew: timedelta = timedelta(hours=1)
    default_validity: timedelta = timedelta(minutes=5)
    max_validity: timedelta = timedelta(hours=12)
    require_date_or_created: bool = True
    require_digest_or_request_target: bool = True
    get_requires_host: bool = True
    post_requires_digest: bool = True
    #: Retry ``(request-target)`` without the query string (older Mastodon senders).
    query_fallback: bool = True
    min_rsa_bits: int = 1024
    # RFC 9421 (applied by the httpsig front)
    rfc9421_require_created: bool = True
    rfc9421_required_components: tuple[str, ...] = ("@method", "@target-uri")
    rfc9421_post_requires_content_digest: bool = True
    rfc9421_algorithms: frozenset[str] = frozenset(
        {"ed25519", "rsa-v1_5-sha256", "rsa-pss-sha512", "ecdsa-p256-sha256"}
    )


#: Mastodon's rules (app/lib/signed_request.rb), for both schemes.
MASTODON_POLICY = VerifyPolicy()


class CavageSignature(msgspec.Struct, frozen=True):
    """The parameters of a ``Signature`` header, as sent (``algorithm`` lower-cased, defaulted)."""

    key_id: str
    algorithm: str
    headers: tuple[str, ...]
    signature: bytes
    created: str | None = None
    expires: str | None = None
    algorithm_sent: bool = True


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NUMBER = re.compile(r"\d{1,15}(?:\.\d{1,9})?")
_QUOTED_PARAMS = ("keyId", "algorithm", "headers", "signature")


def parse_signature_header(value: str) -> CavageSignature:
    """Parse a ``Signature`` header value; raise ``SignatureError`` naming what is wrong.

    Tolerates the buggy leading ``Signature `` prefix some servers send. ``keyId``,
    ``algorithm``, ``headers`` and ``signature`` must be quoted strings;
    ``created`` / ``expires`` are integers (bare or quoted). Unknown parameters are
    ignored, repeated ones refused.
    """
    text = value.strip()
    if text.startswith("Signature "):
        text = text[len("Signature ") :].lstrip()
    params = _parse_params(text)
    for name in _QUOTED_PARAMS:
        if name in params and not params[name][1]:
            raise SignatureError(f"malformed Signature header: {name} must be a quoted string")
    for name in ("keyId", "signature"):
        if not params.get(name, ("", True))[0]:
            raise SignatureError(
                f"missing signature parameter: {name} (keyId and signature are required)"
            )
    algorithm_sent = "algorithm" in params
    algorithm = params["algorithm"][0].lower() if algorithm_sent else "hs2019"
    if "headers" in params:
        covered = tuple(params["headers"][0].lower().split())
        if not covered:
            raise SignatureError("malformed Signature header: headers is empty")
    else:
        covered = ("(created)",) if algorithm == "hs2019" else ("date",)
    times: dict[str, str | None] = {}
    for name in ("created", "expires"):
        raw = params.get(name, (None, False))[0]
        if raw is not None and not _NUMBER.fullmatch(raw):
            raise SignatureError(f"malformed Signature header: {name} must be an integer")
        times[name] = raw
    try:
        # Strict: only the alphabet, padding only at the end.
        signature = base64.b64decode(params["signature"][0], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("malformed Signature header: signature is not base64") from exc
    return CavageSignature(
        key_id=params["keyId"][0],
        algorithm=algorithm,
        headers=covered,
        signature=signature,
        created=times["created"],
        expires=times["expires"],
        algorithm_sent=algorithm_sent,
    )


# One parameter with a plain value (a token, or a quoted string without escapes or
# control characters) and what follows it: the common case, read by one match.
_PLAIN_PARAM = re.compile(
    r"""([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*"""
    r"""(?:"([^"\\\x00-\x08\x0a-\x1f]*)"|([!#$%&'*+\-.^_`|~0-9A-Za-z]+))"""
    r"""[ \t]*(?:,[ \t]*|\Z)"""
)


def _mastodon_shape(text: str) -> dict[str, tuple[str, bool]] | None:
    """The header as Mastodon (and most of the fediverse) writes it,
    ``keyId="…",algorithm="…",headers="…",signature="…"``, read with string methods (a
    regular expression steps through the ~350 characters of the signature one by one);
    None for any other shape. The values hold no quote, backslash or control character:
    eight quotes in all, and a printable text (tabs, allowed in quoted strings, go to
    the exact reader)."""
    if (
        not text.startswith('keyId="')
        or not text.endswith('"')
        or text.count('"') != 8
        or "\\" in text
        or not text.isprintable()
    ):
        return None
    key_id, found, rest = text[7:-1].partition('",algorithm="')
    algorithm, found2, rest = rest.partition('",headers="')
    headers, found3, signature = rest.partition('",signature="')
    if not (found and found2 and found3):
        return None
    return {
        "keyId": (key_id, True),
        "algorithm": (algorithm, True),
        "headers": (headers, True),
        "signature": (signature, True),
    }


def _parse_params(text: str) -> dict[str, tuple[str, bool]]:
    """Parse ``name=value`` pairs separated by commas; value is (text, was_quoted)."""
    usual = _mastodon_shape(text)
    if usual is not None:
        return usual
    params: dict[str, tuple[str, bool]] = {}
    pos = 0
    end = len(text)
    while True:
        plain = _PLAIN_PARAM.match(text, pos)
        if plain is None or (plain.end() == end and text.endswith(",")):
            break  # anything else (escapes, a malformed list): the exact reader below
        name, quoted_value, token = plain.groups()
        if name in params:
            raise SignatureError(f"malformed Signature header: {name} is repeated")
        params[name] = (token, False) if quoted_value is None else (quoted_value, True)
        pos = plain.end()
        if pos == end:
            return params
    while True:
        match = _TOKEN.match(text, pos)
        if match is None:
            raise SignatureError(f"malformed Signature header: parameter name expected at {pos}")
        name = match.group()
        pos = _skip_ows(text, match.end())
        if not text.startswith("=", pos):
            raise SignatureError(f"malformed Signature header: '=' expected after {name}")
        pos = _skip_ows(text, pos + 1)
        if text.startswith('"', pos):
            value, pos = _parse_quoted(text, pos)
            quoted = True
        else:
            token = _TOKEN.match(text, pos)
            if token is None:
                raise SignatureError(f"malformed Signature header: value expected for {name}")
            value, pos, quoted = token.group(), token.end(), False
        if name in params:
            raise SignatureError(f"malformed Signature header: {name} is repeated")
        params[name] = (value, quoted)
        pos = _skip_ows(text, pos)
        if pos == len(text):
            return params
        if text[pos] != ",":
            raise SignatureError(f"malformed Signature header: ',' expected at {pos}")
        pos = _skip_ows(text, pos + 1)


def _skip_ows(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos


_QUOTED_PLAIN = re.compile(r'[^"\\\x00-\x08\x0a-\x1f]*"')


def _parse_quoted(text: str, pos: int) -> tuple[str, int]:
    plain = _QUOTED_PLAIN.match(text, pos + 1)  # fast path: no escapes, no control characters
    if plain is not None:
        return text[pos + 1 : plain.end() - 1], plain.end()
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        char = text[i]
        if char == '"':
            return "".join(out), i + 1
        if char == "\\" and i + 1 < len(text):
            i += 1
            char = text[i]
        elif ord(char) < 0x20 and char != "\t":
            raise SignatureError("malformed Signature header: control character in a quoted string")
        out.append(char)
        i += 1
    raise SignatureError("malformed Signature header: unterminated quoted string")


def build_signing_string(
    sig: CavageSignature, *, method: str, target: str, headers: HeadersLike | Headers
) -> str:
    """Build the string to sign from ``headers=`` in its order; ``target`` is path + query."""
    view = Headers.of(headers)
    lines = []
    for name in sig.headers:
        if name == "(request-target)":
            value = f"{method.lower()} {target}"
        elif name in ("(created)", "(expires)"):
            if sig.algorithm != "hs2019":
                raise SignatureError(f"pseudo-header {name} is only allowed with hs2019")
            raw = sig.created if name == "(created)" else sig.expires
            if raw is None:
                raise SignatureError(f"pseudo-header {name} is covered but its parameter is absent")
            value = raw
        else:
            found = view.get(name)
            if found is None:
                raise SignatureError(
                    f"missing required header: {name} (covered by the signature but absent)"
                )
            value = found
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def sign_request(
    method: str,
    url: str,
    headers: HeadersLike | Headers,
    *,
    key_id: str,
    key: PrivateKey,
    covered: tuple[str, ...] | list[str],
    algorithm: str | None = None,
    created: int | None = None,
    expires: int | None = None,
) -> str:
    """Return a ``Signature`` header value over ``covered`` (the headers must already be set).

    RSA keys sign ``rsa-sha256`` (PKCS#1 v1.5, SHA-256) by default; Ed25519 keys ``hs2019``.
    """
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = algorithm or "rsa-sha256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = algorithm or "hs2019"
        if algorithm != "hs2019":
            raise LocalProtocolError("an Ed25519 key signs draft-cavage only as hs2019")
    else:
        raise LocalProtocolError(f"cannot sign draft-cavage with {type(key).__name__}")
    if algorithm not in ALGORITHMS:
        raise LocalProtocolError(f"unsupported draft-cavage algorithm {algorithm!r}")
    names = tuple(name.lower() for name in covered)
    sig = CavageSignature(
        key_id=key_id,
        algorithm=algorithm,
        headers=names,
        signature=b"",
        created=None if created is None else str(created),
        expires=None if expires is None else str(expires),
    )
    target = split_url(url)[2]
    data = build_signing_string(sig, method=method, target=target, headers=headers).encode()
    if isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        raw = key.sign(data)
    parts = [f"keyId={_quote(key_id)}", f'algorithm="{algorithm}"']
    if sig.created is not None:
        parts.append(f"created={sig.created}")
    if sig.expires is not None:
        parts.append(f"expires={sig.expires}")
    parts.append(f'headers="{" ".join(names)}"')
    parts.append(f'signature="{base64.b64encode(raw).decode("ascii")}"')
    return ",".join(parts)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def signature_times(
    sig: CavageSignature, headers: HeadersLike | Headers
) -> tuple[datetime | None, datetime | None, str | None]:
    """Return (created, expires, problem) as Mastodon reads them, from signed values only.

    ``created`` is the ``created`` parameter when hs2019 covers ``(created)``, else the
    ``Date`` header; ``expires`` is used only when ``(expires)`` is covered. ``problem``
    names an unparsable Date.
    """
    created = expires = None
    if sig.algorithm == "hs2019" and "(created)" in sig.headers and sig.created is not None:
        created = _from_unix(sig.created)
    else:
        raw_date = Headers.of(headers).get("date")
        if raw_date is not None:
            created = parse_http_date(raw_date)
            if created is None:
                return None, None, f"date header could not be parsed: {raw_date!r}"
    if sig.algorithm == "hs2019" and "(expires)" in sig.headers and sig.expires is not None:
        expires = _from_unix(sig.expires)
    return created, expires, None


def _from_unix(raw: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(raw.partition(".")[0]), tz=UTC)
    except (OverflowError, ValueError, OSError) as exc:
        raise SignatureError(f"signature time {raw} is out of range") from exc


def check_time_window(
    created: datetime | None,
    expires: datetime | None,
    *,
    now: datetime,
    policy: VerifyPolicy = MASTODON_POLICY,
) -> None:
    """Mastodon's window: created at most ``clock_skew`` ahead; expiry (default created +
    5 min, capped at created + 12 h) passed by at most ``clock_skew``."""
    if now.tzinfo is None:
        raise LocalProtocolError("now must be a timezone-aware datetime")
    if created is not None:
        expires = expires or created + policy.default_validity
        expires = min(expires, created + policy.max_validity)
        if created > now + policy.clock_skew:
            raise SignatureError("date outside the accepted window: signed in the future")
    if expires is not None and now > expires + policy.clock_skew:
        raise SignatureError("date outside the accepted window: signature expired")


def check_request(
    sig: CavageSignature,
    *,
    method: str,
    headers: HeadersLike | Headers,
    body: bytes | None,
    now: datetime,
    policy: VerifyPolicy = MASTODON_POLICY,
    times: tuple[datetime | None, datetime | None, str | None] | None = None,
) -> None:
    """Apply everything that needs no key: algorithm, coverage, time window, body digest.

    ``times``: what ``signature_times(sig, headers)`` returned, if the caller has it.
    """
    view = Headers.of(headers)
    if sig.algorithm not in policy.algorithms:
        raise SignatureError(
            f"unsupported signature algorithm {sig.algorithm!r} "
            f"(accepted: {', '.join(sorted(policy.algorithms))})"
        )
    covered = set(sig.headers)
    if sig.algorithm != "hs2019" and covered & {"(created)", "(expires)"}:
        raise SignatureError("pseudo-headers (created) and (expires) are only allowed with hs2019")
    verb = method.upper()
    if policy.require_date_or_created and not covered & {"date", "(created)"}:
        raise SignatureError("missing required header: date or (created) must be signed")
    if policy.require_digest_or_request_target and not covered & {"digest", "(request-target)"}:
        raise SignatureError("missing required header: digest or (request-target) must be signed")
    if policy.get_requires_host and verb == "GET" and "host" not in covered:
        raise SignatureError("missing required header: host must be signed for GET")
    if policy.post_requires_digest and verb == "POST" and "digest" not in covered:
        raise SignatureError("missing required header: digest must be signed for POST")
    created, expires, problem = times if times is not None else signature_times(sig, view)
    if problem is not None:
        raise SignatureError(problem)
    check_time_window(created, expires, now=now, policy=policy)
    if "digest" in covered:
        digest = view.get("digest")
        if digest is None:
            raise SignatureError("missing required header: digest (covered but absent)")
        verify_digest(digest, body or b"")


def verify_request(
    sig: CavageSignature,
    *,
    method: str,
    url: str,
    headers: HeadersLike | Headers,
    body: bytes | None,
    public_key: PublicKey,
    now: datetime,
    policy: VerifyPolicy = MASTODON_POLICY,
    checked: bool = False,
) -> str:
    """Verify a draft-cavage signature under ``policy``; return its keyId or raise.

    ``checked``: ``check_request`` already passed for this request, ``now`` and ``policy``.
    """
    view = Headers.of(headers)
    if not checked:
        check_request(sig, method=method, headers=view, body=body, now=now, policy=policy)
    _, _, target, path = split_url(url)
    targets = [target]
    if policy.query_fallback and target != path and "(request-target)" in sig.headers:
        targets.append(path)
    for candidate in targets:
        text = build_signing_string(sig, method=method, target=candidate, headers=view)
        if _verify_bytes(sig, public_key, text.encode(), policy):
            return sig.key_id
    raise SignatureError("signature does not verify")


_PKCS1V15, _SHA256 = padding.PKCS1v15(), hashes.SHA256()  # stateless: made once
#: A key class -> "rsa", "ed25519" or "other": the ABC checks once per class, not per request.
_KEY_KINDS: dict[type, str] = {}


def _key_kind(public_key: PublicKey) -> str:
    cls = type(public_key)
    kind = _KEY_KINDS.get(cls)
    if kind is None:
        if isinstance(public_key, rsa.RSAPublicKey):
            kind = "rsa"
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            kind = "ed25519"
        else:
            kind = "other"
        # Only plain classes (not a proxy answering another ``__class__``), and a few.
        if public_key.__class__ is cls and len(_KEY_KINDS) < 32:
            _KEY_KINDS[cls] = kind
    return kind


def _verify_bytes(
    sig: CavageSignature, public_key: PublicKey, data: bytes, policy: VerifyPolicy
) -> bool:
    kind = _key_kind(public_key)
    try:
        if kind == "rsa":
            rsa_key = cast(rsa.RSAPublicKey, public_key)
            if rsa_key.key_size < policy.min_rsa_bits:
                raise SignatureError(
                    f"RSA key of {rsa_key.key_size} bits is below the minimum of "
                    f"{policy.min_rsa_bits}"
                )
            rsa_key.verify(sig.signature, data, _PKCS1V15, _SHA256)
        elif kind == "ed25519" and sig.algorithm == "hs2019":
            cast(ed25519.Ed25519PublicKey, public_key).verify(sig.signature, data)
        else:
            raise SignatureError(
                f"key type {type(public_key).__name__} cannot verify {sig.algorithm}"
            )
    except InvalidSignature:
        return False
    return True
