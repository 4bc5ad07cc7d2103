"""HTTP signatures front: parse, verify and sign requests with draft-cavage or RFC 9421."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ..digest import build_content_digest, build_digest, verify_content_digest
from ..errors import LocalProtocolError, RemoteProtocolError, SignatureError
from ..keys import PrivateKey, PublicKey
from . import cavage, rfc9421
from ._headers import Headers, HeadersLike, format_http_date, split_url
from .cavage import MASTODON_POLICY, VerifyPolicy, check_time_window

__all__ = [
    "MASTODON_POLICY",
    "SignedRequest",
    "VerifyPolicy",
    "check_signature",
    "parse_signature",
    "sign_request",
    "verify_signature",
]


@dataclass
class _State:
    method: str
    url: str
    headers: Headers
    body: bytes | None
    parsed: cavage.CavageSignature | rfc9421.ParsedSignature
    #: cavage: ``signature_times`` of the request, read once when it is parsed.
    times: tuple[datetime | None, datetime | None, str | None] | None = None
    #: (now, policy) of the last ``check_signature`` that passed: verifying at the same
    #: moment under the same policy need not check coverage, window and digest again.
    checked: tuple[datetime, VerifyPolicy] | None = None

    def was_checked(self, now: datetime, policy: VerifyPolicy) -> bool:
        return self.checked is not None and self.checked[0] == now and self.checked[1] is policy


class SignedRequest(msgspec.Struct, frozen=True, eq=False):
    """A request's signature, parsed but not yet verified.

    ``covered`` lists header names (cavage, lower-case, in ``headers=`` order) or
    RFC 9421 component names; ``created``/``expires`` are the signed times the time
    window uses (for cavage without ``(created)``: the ``Date`` header).
    """

    scheme: str
    key_id: str
    algorithm: str | None
    covered: tuple[str, ...]
    created: datetime | None
    expires: datetime | None
    _state: _State  # the request itself: never shown (headers, body)

    def __repr__(self) -> str:
        return (
            f"SignedRequest(scheme={self.scheme!r}, key_id={self.key_id!r}, "
            f"algorithm={self.algorithm!r}, covered={self.covered!r}, "
            f"created={self.created!r}, expires={self.expires!r})"
        )


def parse_signature(
    method: str, url: str, headers: HeadersLike, body: bytes | None
) -> SignedRequest:
    """Read the request's signature: RFC 9421 if ``Signature-Input`` is present, else cavage.

    Raises ``SignatureError`` ("no signature", or what is malformed).
    """
    view = Headers(headers)
    split_url(url)
    if "signature-input" in view:
        return _parse_rfc9421(method, url, view, body)
    values = view.get_all("signature")
    if not values:
        raise SignatureError("no signature: neither Signature nor Signature-Input is present")
    if len(values) > 1:
        raise SignatureError("malformed Signature header: sent more than once")
    sig = cavage.parse_signature_header(values[0])
    times = cavage.signature_times(sig, view)
    return SignedRequest(
        scheme="cavage",
        key_id=sig.key_id,
        algorithm=sig.algorithm,
        covered=sig.headers,
        created=times[0],
        expires=times[1],
        _state=_State(method, url, view, body, sig, times),
    )


def _parse_rfc9421(method: str, url: str, view: Headers, body: bytes | None) -> SignedRequest:
    try:
        found = rfc9421.parse_signatures(view)
    except SignatureError:
        raise
    except RemoteProtocolError as exc:
        raise SignatureError(f"malformed RFC 9421 signature: {exc.reason}") from exc
    parsed = next((sig for sig in found if sig.key_id), None)
    if parsed is None:
        raise SignatureError("missing signature parameter: keyid")
    alg = parsed.params.get("alg")
    return SignedRequest(
        scheme="rfc9421",
        key_id=parsed.key_id or "",
        algorithm=alg if isinstance(alg, str) else None,
        covered=parsed.component_names,
        created=_from_unix(parsed.params.get("created")),
        expires=_from_unix(parsed.params.get("expires")),
        _state=_State(method, url, view, body, parsed),
    )


def _from_unix(value: object) -> datetime | None:
    if not isinstance(value, int):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, ValueError, OSError) as exc:
        raise SignatureError(f"signature time {value} is out of range") from exc


def check_signature(
    req: SignedRequest, *, now: datetime, policy: VerifyPolicy = MASTODON_POLICY
) -> None:
    """Apply everything that needs no key (coverage, time window, body digest); raise on failure.

    Lets a caller refuse a stale or under-signed request before fetching the key.
    """
    state = req._state
    if state.was_checked(now, policy):
        return
    _check(req, state, now, policy)
    state.checked = (now, policy)


def _check(req: SignedRequest, state: _State, now: datetime, policy: VerifyPolicy) -> None:
    if isinstance(state.parsed, cavage.CavageSignature):
        cavage.check_request(
            state.parsed,
            method=state.method,
            headers=state.headers,
            body=state.body,
            now=now,
            policy=policy,
            times=state.times,
        )
        return
    covered = set(req.covered)
    if policy.rfc9421_require_created and req.created is None:
        raise SignatureError("missing required parameter: created must be signed")
    missing = [name for name in policy.rfc9421_required_components if name not in covered]
    if missing:
        raise SignatureError(f"missing required component: {', '.join(missing)} must be signed")
    if (
        policy.rfc9421_post_requires_content_digest
        and state.method.upper() == "POST"
        and "content-digest" not in covered
    ):
        raise SignatureError("missing required component: content-digest must be signed for POST")
    if req.algorithm is not None and req.algorithm not in policy.rfc9421_algorithms:
        raise SignatureError(f"unsupported signature algorithm {req.algorithm!r}")
    check_time_window(req.created, req.expires, now=now, policy=policy)
    if "content-digest" in covered:
        header = state.headers.get("content-digest")
        if header is None:
            raise SignatureError("missing required header: content-digest (covered but absent)")
        verify_content_digest(header, state.body or b"")


def verify_signature(
    req: SignedRequest,
    public_key: PublicKey,
    *,
    now: datetime,
    policy: VerifyPolicy = MASTODON_POLICY,
) -> str:
    """Verify ``req`` with the signer's public key under ``policy``; return the key id.

    Raises ``SignatureError`` naming what failed (``RemoteProtocolError`` with status
    400 for an unparsable Content-Digest).
    """
    state = req._state
    if isinstance(state.parsed, cavage.CavageSignature):
        return cavage.verify_request(
            state.parsed,
            method=state.method,
            url=state.url,
            headers=state.headers,
            body=state.body,
            public_key=public_key,
            now=now,
            policy=policy,
            checked=state.was_checked(now, policy),
        )
    check_signature(req, now=now, policy=policy)
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < policy.min_rsa_bits:
        raise SignatureError(
            f"RSA key of {public_key.key_size} bits is below the minimum of {policy.min_rsa_bits}"
        )
    if not isinstance(
        public_key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
    ):
        raise SignatureError(f"unsupported key type {type(public_key).__name__}")
    alg = req.algorithm or rfc9421.infer_alg(public_key)
    if alg not in policy.rfc9421_algorithms:
        raise SignatureError(f"unsupported signature algorithm {alg!r}")
    rfc9421.verify_signature(
        state.method, state.url, state.headers, state.parsed, public_key, alg=alg
    )
    return req.key_id


def sign_request(
    method: str,
    url: str,
    headers: HeadersLike,
    body: bytes | None,
    *,
    key_id: str,
    key: PrivateKey,
    now: datetime,
    scheme: str = "cavage",
) -> dict[str, str]:
    """Sign a request; return the headers to add (they replace any of the same name).

    Always ``Host`` (the URL's authority, port included) and ``Date``; with a body
    (or for POST) ``Digest`` (cavage) or ``Content-Digest`` (rfc9421); then
    ``Signature`` and, for rfc9421, ``Signature-Input``. cavage covers
    ``(request-target) host date digest content-type`` (POST; content-type only if
    the caller set it) or ``(request-target) host date [accept]`` (GET).
    RFC 9421 covers ``@method @target-uri [content-digest content-type]`` with
    ``created`` and ``keyid`` (and ``alg`` for Ed25519).
    """
    if now.tzinfo is None:
        raise LocalProtocolError("now must be a timezone-aware datetime")
    view = Headers(headers)
    added = {"Host": split_url(url)[1], "Date": format_http_date(now)}
    with_body = body is not None or method.upper() == "POST"
    if scheme == "cavage":
        covered = ["(request-target)", "host", "date"]
        if with_body:
            added["Digest"] = build_digest(body or b"")
            covered.append("digest")
            if "content-type" in view:
                covered.append("content-type")
        elif "accept" in view:
            covered.append("accept")
        merged = _merge(view, added)
        added["Signature"] = cavage.sign_request(
            method, url, merged, key_id=key_id, key=key, covered=covered
        )
        return added
    if scheme != "rfc9421":
        raise LocalProtocolError(f"unknown signature scheme {scheme!r}")
    components = ["@method", "@target-uri"]
    if with_body:
        added["Content-Digest"] = _content_digest(body or b"")
        components.append("content-digest")
        if "content-type" in view:
            components.append("content-type")
    alg = rfc9421.infer_alg(key)
    merged = _merge(view, added)
    fields = {}
    for name in components[2:]:
        values = merged.get_all(name)
        if len(values) == 1:
            fields[name] = values[0]
    signing: dict[str, Any] = {
        "key": key,
        "key_id": key_id,
        "alg": alg,
        "components": components,
        "created": int(now.timestamp()),
        "include_alg": alg == "ed25519",
    }
    if len(fields) == len(components) - 2:  # each covered field sent once: the short way
        return added | rfc9421.sign_basic_request(method, url, fields, **signing)
    added |= rfc9421.sign_request(method, url, merged, **signing)
    return added


# A fan-out signs the same body for every inbox: its digest is computed once.
_content_digest = lru_cache(maxsize=4)(build_content_digest)


def _merge(view: Headers, added: dict[str, str]) -> Headers:
    replaced = {name.lower() for name in added}
    pairs = [(name, value) for name, value in view if name.lower() not in replaced]
    return Headers([*pairs, *added.items()])
