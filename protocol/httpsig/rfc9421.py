"""RFC 9421 HTTP Message Signatures: parse, build the signature base, sign and verify (sans-I/O)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple, TypeAlias
from urllib.parse import SplitResult, unquote_to_bytes, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from http_sfv import Dictionary, InnerList, Item, List

from ..errors import LocalProtocolError, RemoteProtocolError, SignatureError

__all__ = [
    "ALGORITHMS",
    "Headers",
    "ParsedSignature",
    "Request",
    "check_window",
    "infer_alg",
    "parse_signatures",
    "sign_basic_request",
    "sign_request",
    "sign_response",
    "signature_base",
    "verify_signature",
]

Headers: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]
SigningKey: TypeAlias = (
    ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | bytes
)
VerifyingKey: TypeAlias = (
    ed25519.Ed25519PublicKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey | bytes
)

#: The algorithms of the RFC 9421 registry that we sign and verify.
ALGORITHMS = ("ed25519", "rsa-v1_5-sha256", "rsa-pss-sha512", "ecdsa-p256-sha256", "hmac-sha256")

_DERIVED = frozenset(
    {"@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query"}
    | {"@query-param", "@status"}
)
_PARAM_ORDER = ("created", "expires", "keyid", "alg", "nonce", "tag")
_INT_PARAMS = frozenset({"created", "expires"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The WHATWG application/x-www-form-urlencoded percent-encode set leaves only these alone.
_FORM_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-._")
_OBS_FOLD = re.compile(r"\r?\n[ \t]+")
_FIELD_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9a-z]+$")
# RFC 8941: a key, a string's characters, an integer's range.
_SF_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*\Z")
_SF_STRING = re.compile(r"[\x20-\x7e]*\Z")
_SF_INT_MAX = 999_999_999_999_999
# Fields whose structured type (RFC 8941) we know, for the ";sf" parameter.
_SF_LISTS = frozenset({"accept-ch", "cache-status", "proxy-status"})
_SF_DICTS = frozenset(
    {"content-digest", "repr-digest", "want-content-digest", "want-repr-digest", "priority"}
    | {"signature", "signature-input", "accept-signature", "cdn-cache-control", "example-dict"}
)


class _ComponentError(ValueError):
    """A component could not be resolved; the caller decides whose fault it is."""


class Request(NamedTuple):
    """The request a signed response answers, for components marked ``;req``."""

    method: str
    url: str
    headers: Headers = ()


@dataclass(frozen=True)
class ParsedSignature:
    """One labelled signature from ``Signature-Input`` + ``Signature``.

    ``components`` are the covered identifiers serialised as in the field
    (``'"@query-param";name="Pet"'``); ``signature_params`` is the received inner
    list with its parameters, re-serialised per RFC 8941 as the signature base
    uses it (RFC 9421 2.3).
    """

    label: str
    components: tuple[str, ...]
    params: dict[str, int | str] = field(hash=False)
    signature: bytes
    signature_params: str

    @property
    def component_names(self) -> tuple[str, ...]:
        """Bare component names (``"@method"``, ``"content-digest"``), without parameters."""
        return tuple(_component(c).name for c in self.components)

    @property
    def key_id(self) -> str | None:
        """The ``keyid`` parameter, if any."""
        value = self.params.get("keyid")
        return value if isinstance(value, str) else None


# --- parsing ---------------------------------------------------------------------------------


def parse_signatures(headers: Headers) -> list[ParsedSignature]:
    """Read every signature of a message; ``SignatureError`` if absent or inconsistent."""
    fields = _field_lines(headers)
    if "signature-input" not in fields:
        raise SignatureError("missing Signature-Input header")
    if "signature" not in fields:
        raise SignatureError("missing Signature header")
    inputs = _parse_sf_dictionary(fields["signature-input"], "Signature-Input")
    values = _parse_sf_dictionary(fields["signature"], "Signature")
    if not inputs:
        raise SignatureError("empty Signature-Input header")
    out = []
    for label, inner in inputs.items():
        if not isinstance(inner, InnerList):
            raise RemoteProtocolError(f"Signature-Input member {label} is not an inner list")
        sig = values.get(label)
        if sig is None:
            raise SignatureError(f"no Signature for label {label}")
        if not isinstance(sig, Item) or not isinstance(sig.value, bytes):
            raise RemoteProtocolError(f"Signature member {label} is not a byte sequence")
        components = []
        for item in inner:
            if type(item.value) is not str:
                raise RemoteProtocolError(f"component identifier in {label} is not a string")
            components.append(str(item))
        params = dict(inner.params)
        for name, value in params.items():
            if not _param_ok(name, value):
                raise RemoteProtocolError(
                    f"signature parameter {name} of {label} has the wrong type"
                )
        out.append(ParsedSignature(label, tuple(components), params, sig.value, str(inner)))
    return out


def _param_ok(name: str, value: object) -> bool:
    """``created``/``expires`` are integers, the other known parameters strings."""
    return name not in _PARAM_ORDER or type(value) is (int if name in _INT_PARAMS else str)


def _parse_sf_dictionary(lines: list[str], name: str) -> Dictionary:
    parsed = Dictionary()
    try:
        parsed.parse(", ".join(lines).encode("ascii"))
    except (ValueError, IndexError, UnicodeError) as exc:
        raise RemoteProtocolError(f"malformed {name} header: {exc}") from exc
    return parsed


def _component_item(identifier: str) -> Item:
    """Read ``'"@query-param";name="Pet"'``, ``'@query-param;name="Pet"'`` or ``'@method'``."""
    name, sep, rest = identifier.partition(";")
    text = identifier if identifier.startswith('"') else f'"{name}"{sep}{rest}'
    item = Item()
    try:
        item.parse(text.encode("ascii"))
    except (ValueError, IndexError, UnicodeError) as exc:
        raise _ComponentError(f"malformed component identifier {identifier!r}") from exc
    if type(item.value) is not str:
        raise _ComponentError(f"component identifier {identifier!r} is not a string")
    return item


class _Component(NamedTuple):
    """A component identifier, read once: its name, its RFC 8941 form, its parameters."""

    name: str
    ident: str
    params: tuple[tuple[str, object], ...]


@lru_cache(maxsize=512)
def _component(identifier: str) -> _Component:
    """``_component_item`` as an immutable value, cached: the same few identifiers are
    signed and verified on every request, and parsing them is most of the base's cost."""
    item = _component_item(identifier)
    return _Component(str(item.value), str(item), tuple(item.params.items()))


# --- the signature base ----------------------------------------------------------------------


class _Message:
    """What component values are read from: one request or one response."""

    def __init__(
        self, method: str | None, url: str | None, headers: Headers, status: int | None
    ) -> None:
        self.method = method
        self.url = url
        self.fields = _field_lines(headers)
        self.status = status
        self.parts: SplitResult | None = None
        if url is not None:
            try:
                self.parts = urlsplit(url)
                _ = self.parts.port
            except ValueError as exc:
                raise _ComponentError(f"malformed URL: {exc}") from exc
            if not self.parts.scheme or not self.parts.hostname:
                raise _ComponentError(f"URL is not absolute: {url}")


def signature_base(
    method: str | None,
    url: str | None,
    headers: Headers,
    signed: ParsedSignature | Sequence[str],
    *,
    params: Mapping[str, int | str] | None = None,
    status: int | None = None,
    request: Request | None = None,
) -> str:
    """Build the RFC 9421 signature base (LF-joined, no trailing LF).

    ``signed`` is a received signature (its components and parameters are used as
    received; errors are ``SignatureError``) or a sequence of component identifiers
    with ``params`` (errors are ``LocalProtocolError``). For a response pass
    ``status`` and, for components marked ``;req``, the ``request`` it answers
    (``method`` and ``url``, if given, stand in for that request's).
    """
    remote = isinstance(signed, ParsedSignature)
    try:
        if isinstance(signed, ParsedSignature):
            items = [_component(c) for c in signed.components]
            return _base(method, url, headers, items, signed.signature_params, status, request)
        items = [_component(c) for c in signed]
        inner = _signature_params(items, params or {})
        return _base(method, url, headers, items, inner, status, request)
    except _ComponentError as exc:
        raise (SignatureError if remote else LocalProtocolError)(str(exc)) from exc


def _signature_params(items: list[_Component], params: Mapping[str, int | str]) -> str:
    ordered = [k for k in _PARAM_ORDER if k in params] + [
        k for k in params if k not in _PARAM_ORDER
    ]
    out = ["(", " ".join(item.ident for item in items), ")"]
    for name in ordered:
        value = params[name]
        if not _param_ok(name, value):
            raise _ComponentError(f"signature parameter {name} has the wrong type")
        if not _SF_KEY.match(name):
            raise _ComponentError(f"unserialisable signature parameter name {name!r}")
        out += (";", name, "=", _sf_bare(value))
    return "".join(out)


def _sf_bare(value: object) -> str:
    """An RFC 8941 bare item: integers and strings here, anything else through http_sfv."""
    if type(value) is int:
        if not -_SF_INT_MAX <= value <= _SF_INT_MAX:
            raise _ComponentError(f"integer parameter out of range: {value}")
        return str(value)
    if type(value) is str:
        if not _SF_STRING.match(value):
            raise _ComponentError(f"unserialisable string parameter {value!r}")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    try:
        return str(Item(value))  # type: ignore[arg-type]  # http_sfv checks the type
    except ValueError as exc:
        raise _ComponentError(f"unserialisable signature parameter: {exc}") from exc


def _base(
    method: str | None,
    url: str | None,
    headers: Headers,
    items: list[_Component],
    signature_params: str,
    status: int | None,
    request: Request | None,
) -> str:
    msg = _Message(method, url, headers, status)
    req: _Message | None = None
    lines = []
    seen = set()
    for name, ident, item_params in items:
        identity = (name, frozenset((k, str(v)) for k, v in item_params))
        if identity in seen:
            raise _ComponentError(f"component listed twice: {ident}")
        seen.add(identity)
        if name == "@signature-params" or name != name.lower() or not name:
            raise _ComponentError(f"invalid component name: {ident}")
        params = dict(item_params)
        target = msg
        if "req" in params:
            if params.pop("req") is not True or status is None:
                raise _ComponentError(f"';req' is only valid in a response signature: {ident}")
            if req is None:
                if request is None and (method is None or url is None):
                    raise _ComponentError(f"covered component needs the request: {ident}")
                base_req = request or Request(method or "", url or "")
                req = _Message(base_req.method, base_req.url, base_req.headers, None)
            target = req
        if name.startswith("@"):
            value = _derived(target, name, params, ident)
        else:
            value = _field(target, name, params, ident)
        if "\n" in value or "\r" in value:
            raise _ComponentError(f"component value contains a newline: {ident}")
        lines.append(f"{ident}: {value}")
    lines.append(f'"@signature-params": {signature_params}')
    base = "\n".join(lines)
    if not base.isascii():
        raise _ComponentError("signature base is not ASCII (sign such fields with ;bs)")
    return base


def _derived(msg: _Message, name: str, params: dict[str, object], ident: str) -> str:
    if name not in _DERIVED:
        raise _ComponentError(f"unknown derived component: {ident}")
    if name == "@status":
        if msg.status is None or params:
            raise _ComponentError(f"@status is only valid in a response signature: {ident}")
        return str(msg.status)
    if msg.status is not None:
        raise _ComponentError(f"request component in a response needs ';req': {ident}")
    if name == "@query-param":
        wanted = params.pop("name", None)
        if not isinstance(wanted, str) or params:
            raise _ComponentError(f"@query-param needs exactly a string 'name' parameter: {ident}")
    elif params:
        raise _ComponentError(f"unexpected parameters on derived component: {ident}")
    if name == "@method":
        if not msg.method:
            raise _ComponentError("covered component missing: @method")
        return msg.method
    parts = msg.parts
    if parts is None or msg.url is None:
        raise _ComponentError(f"covered component missing: {name} (no URL)")
    has_query = "?" in msg.url.partition("#")[0]
    query = f"?{parts.query}" if has_query else ""
    path = parts.path or "/"
    if name == "@target-uri":
        return f"{parts.scheme.lower()}://{parts.netloc.rpartition('@')[2]}{path}{query}"
    if name == "@authority":
        return _authority(parts)
    if name == "@scheme":
        return parts.scheme.lower()
    if name == "@request-target":
        return f"{path}{query}"
    if name == "@path":
        return path
    if name == "@query":
        return query or "?"
    return _query_param(parts.query, str(wanted), ident)


def _authority(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or _DEFAULT_PORTS.get(parts.scheme.lower()) == port:
        return host
    return f"{host}:{port}"


def _form_decode(text: str) -> str:
    return unquote_to_bytes(text.replace("+", " ")).decode("utf-8", "replace")


def _form_encode(text: str) -> str:
    data = text.encode("utf-8", "surrogateescape")
    return "".join(chr(b) if b in _FORM_SAFE else f"%{b:02X}" for b in data)


def _query_param(query: str, wanted: str, ident: str) -> str:
    key = _form_encode(_form_decode(wanted))
    found = []
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if _form_encode(_form_decode(name)) == key:
            found.append(value)
    if not found:
        raise _ComponentError(f"covered component missing: {ident}")
    if len(found) > 1:
        raise _ComponentError(f"query parameter occurs more than once: {ident}")
    return _form_encode(_form_decode(found[0]))


def _field(msg: _Message, name: str, params: dict[str, object], ident: str) -> str:
    if not _FIELD_NAME.match(name):
        raise _ComponentError(f"invalid field name: {ident}")
    lines = msg.fields.get(name)
    if lines is None:
        raise _ComponentError(f"covered component missing: {name}")
    unknown = set(params) - {"sf", "key", "bs"}
    if unknown or any(params[p] is not True for p in ("sf", "bs") if p in params):
        raise _ComponentError(f"unsupported component parameters: {ident}")
    if "bs" in params:
        if len(params) > 1:
            raise _ComponentError(f"';bs' cannot be combined with other parameters: {ident}")
        return ", ".join(str(Item(line.encode("utf-8", "surrogateescape"))) for line in lines)
    value = ", ".join(lines)
    if not params:
        return value
    if "key" not in params and name not in _SF_LISTS | _SF_DICTS:
        raise _ComponentError(f"no structured type known for field: {ident}")
    parsed: List | Dictionary = Dictionary()
    if name in _SF_LISTS and "key" not in params:
        parsed = List()
    try:
        parsed.parse(value.encode("ascii"))
    except (ValueError, IndexError, UnicodeError) as exc:
        raise _ComponentError(f"field is not a valid structured field: {ident}") from exc
    key = params.get("key")
    if key is None:
        return str(parsed)
    if not isinstance(parsed, Dictionary) or not isinstance(key, str) or key not in parsed:
        raise _ComponentError(f"covered component missing: {ident}")
    return str(parsed[key])


def _field_lines(headers: Headers) -> dict[str, list[str]]:
    """Lowercased field name -> its trimmed line values, in order (RFC 9421 2.1)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name.lower(), []).append(_OBS_FOLD.sub(" ", value).strip(" \t"))
    return out


# --- algorithms ------------------------------------------------------------------------------


def infer_alg(key: SigningKey | VerifyingKey) -> str:
    """The algorithm a key implies when a signature names none."""
    if isinstance(key, bytes):
        return "hmac-sha256"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "rsa-v1_5-sha256"
    if (
        isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey)
        and key.curve.name == "secp256r1"
    ):
        return "ecdsa-p256-sha256"
    raise LocalProtocolError(f"unsupported key type {type(key).__name__}")


def _key_fits(alg: str, key: SigningKey | VerifyingKey) -> bool:
    kind = infer_alg(key)
    return kind == alg or (kind == "rsa-v1_5-sha256" and alg == "rsa-pss-sha512")


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)


def _sign_bytes(alg: str, key: SigningKey, data: bytes) -> bytes:
    if alg == "hmac-sha256" and isinstance(key, bytes):
        mac = hmac.HMAC(key, hashes.SHA256())
        mac.update(data)
        return mac.finalize()
    if alg == "ed25519" and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if alg == "rsa-v1_5-sha256" and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if alg == "rsa-pss-sha512" and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, _pss(), hashes.SHA512())
    if alg == "ecdsa-p256-sha256" and isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    raise LocalProtocolError(f"cannot sign {alg} with a {type(key).__name__}")


def _verify_bytes(alg: str, key: VerifyingKey, signature: bytes, data: bytes) -> None:
    """Raise ``InvalidSignature`` unless ``signature`` is ``alg`` over ``data`` by ``key``."""
    if alg == "hmac-sha256" and isinstance(key, bytes):
        mac = hmac.HMAC(key, hashes.SHA256())
        mac.update(data)
        mac.verify(signature)
    elif alg == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, data)
    elif alg == "rsa-v1_5-sha256" and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "rsa-pss-sha512" and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, _pss(), hashes.SHA512())
    elif alg == "ecdsa-p256-sha256" and isinstance(key, ec.EllipticCurvePublicKey):
        if len(signature) != 64:
            raise InvalidSignature
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    else:
        raise InvalidSignature


# --- verify and sign -------------------------------------------------------------------------


def verify_signature(
    method: str | None,
    url: str | None,
    headers: Headers,
    parsed: ParsedSignature,
    public_key: VerifyingKey,
    *,
    alg: str | None = None,
    status: int | None = None,
    request: Request | None = None,
) -> None:
    """Check one parsed signature's structure and cryptography; raise ``SignatureError``.

    ``alg`` pins the algorithm the caller expects for this key; otherwise the
    signature's ``alg`` parameter, otherwise the key type decides. The time window
    is the caller's policy (see ``check_window``).
    """
    claimed = parsed.params.get("alg")
    if alg is not None and claimed is not None and claimed != alg:
        raise SignatureError(f"alg mismatch: signature says {claimed}, expected {alg}")
    chosen = alg or claimed or infer_alg(public_key)
    if not isinstance(chosen, str) or chosen not in ALGORITHMS:
        raise SignatureError(f"unsupported alg: {chosen}")
    if not _key_fits(chosen, public_key):
        raise SignatureError(f"key type does not match alg {chosen}")
    base = signature_base(method, url, headers, parsed, status=status, request=request)
    try:
        _verify_bytes(chosen, public_key, parsed.signature, base.encode("ascii"))
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify") from exc


def check_window(
    params: Mapping[str, object],
    now: datetime,
    *,
    max_age: timedelta | None = timedelta(hours=1),
    skew: timedelta = timedelta(minutes=1),
    require_created: bool = True,
) -> None:
    """Apply a time policy to ``created``/``expires``; raise ``SignatureError`` naming the failure."""
    if now.tzinfo is None:
        raise LocalProtocolError("now must be timezone-aware")
    stamp = now.timestamp()
    created, expires = params.get("created"), params.get("expires")
    if created is None:
        if require_created:
            raise SignatureError("signature has no created parameter")
    elif type(created) is not int:
        raise SignatureError("created parameter is not an integer")
    else:
        if created > stamp + skew.total_seconds():
            raise SignatureError("signature created in the future")
        if max_age is not None and created < stamp - (max_age + skew).total_seconds():
            raise SignatureError("signature too old")
    if expires is not None:
        if type(expires) is not int:
            raise SignatureError("expires parameter is not an integer")
        if expires < stamp - skew.total_seconds():
            raise SignatureError("signature expired")


def sign_request(
    method: str,
    url: str,
    headers: Headers,
    *,
    key: SigningKey,
    key_id: str,
    alg: str,
    components: Sequence[str],
    created: int,
    expires: int | None = None,
    label: str = "sig1",
    nonce: str | None = None,
    tag: str | None = None,
    include_alg: bool = True,
) -> dict[str, str]:
    """Sign a request; return the ``Signature-Input`` and ``Signature`` headers to add."""
    params = {"created": created, "expires": expires, "keyid": key_id}
    params |= {"alg": alg if include_alg else None, "nonce": nonce, "tag": tag}
    return _sign(Request(method, url, headers), None, None, key, alg, components, params, label)


_BASIC_DERIVED = frozenset({"@method", "@target-uri"})


def sign_basic_request(
    method: str,
    url: str,
    fields: Mapping[str, str],
    *,
    key: SigningKey,
    key_id: str,
    alg: str,
    components: Sequence[str],
    created: int,
    include_alg: bool = True,
) -> dict[str, str]:
    """``sign_request`` for the common shape, without the general machinery: components
    ``@method``, ``@target-uri`` and plain fields (``fields``: lower-case name -> its one
    value), parameters ``created``, ``keyid`` and ``alg``. The result is the same bytes
    as ``sign_request`` gives (a test holds them equal); anything else goes there.
    """
    if alg not in ALGORITHMS or any(
        c not in _BASIC_DERIVED and (c not in fields or not _FIELD_NAME.match(c))
        for c in components
    ):
        return sign_request(
            method,
            url,
            list(fields.items()),
            key=key,
            key_id=key_id,
            alg=alg,
            components=components,
            created=created,
            include_alg=include_alg,
        )
    lines = []
    for name in components:
        if name == "@method":
            value = method
        elif name == "@target-uri":
            value = _target_uri(url)
        else:
            value = _OBS_FOLD.sub(" ", fields[name]).strip(" \t")
        if "\n" in value or "\r" in value or not value.isascii():
            raise LocalProtocolError(f"component {name} cannot be signed as it is")
        lines.append(f'"{name}": {value}')
    params = f";created={_sf_bare(created)};keyid={_sf_bare(key_id)}"
    if include_alg:
        params += f";alg={_sf_bare(alg)}"
    inner = "(" + " ".join(f'"{name}"' for name in components) + ")" + params
    lines.append(f'"@signature-params": {inner}')
    signature = _sign_bytes(alg, key, "\n".join(lines).encode("ascii"))
    value = base64.b64encode(signature).decode("ascii")
    return {"Signature-Input": f"sig1={inner}", "Signature": f"sig1=:{value}:"}


def _target_uri(url: str) -> str:
    try:
        parts = urlsplit(url)
        _ = parts.port  # an invalid port is refused, as the general signer does
    except ValueError as exc:
        raise LocalProtocolError(f"malformed URL: {exc}") from exc
    if not parts.scheme or not parts.hostname:
        raise LocalProtocolError(f"URL is not absolute: {url}")
    has_query = "?" in url.partition("#")[0]
    query = f"?{parts.query}" if has_query else ""
    return f"{parts.scheme.lower()}://{parts.netloc.rpartition('@')[2]}{parts.path or '/'}{query}"


def sign_response(
    status: int,
    headers: Headers,
    *,
    key: SigningKey,
    key_id: str,
    alg: str,
    components: Sequence[str],
    created: int,
    request: Request | None = None,
    expires: int | None = None,
    label: str = "sig1",
    nonce: str | None = None,
    tag: str | None = None,
    include_alg: bool = True,
) -> dict[str, str]:
    """Sign a response (``@status``, fields, ``;req`` components of ``request``)."""
    params = {"created": created, "expires": expires, "keyid": key_id}
    params |= {"alg": alg if include_alg else None, "nonce": nonce, "tag": tag}
    message = Request("", "", headers)
    return _sign(message, status, request, key, alg, components, params, label)


def _sign(
    message: Request,
    status: int | None,
    request: Request | None,
    key: SigningKey,
    alg: str,
    components: Sequence[str],
    params: Mapping[str, int | str | None],
    label: str,
) -> dict[str, str]:
    if alg not in ALGORITHMS:
        raise LocalProtocolError(f"unsupported alg: {alg}")
    if isinstance(components, str):
        raise LocalProtocolError("components must be a sequence of identifiers, not a string")
    method, url = (message.method, message.url) if status is None else (None, None)
    present = {k: v for k, v in params.items() if v is not None}
    base = signature_base(
        method, url, message.headers, components, params=present, status=status, request=request
    )
    signature = _sign_bytes(alg, key, base.encode("ascii"))
    if not _SF_KEY.match(label):
        raise LocalProtocolError(f"invalid signature label {label!r}")
    inner = base.rpartition('"@signature-params": ')[2]
    value = base64.b64encode(signature).decode("ascii")
    return {"Signature-Input": f"{label}={inner}", "Signature": f"{label}=:{value}:"}
