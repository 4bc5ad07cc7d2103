"""WebFinger (RFC 7033): acct: resources, JRD documents and host-meta, without I/O."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit
from xml.sax.saxutils import quoteattr

import idna
import msgspec

from protocol.errors import LocalProtocolError, RemoteProtocolError
from protocol.vocab import ACTIVITY_JSON, LD_JSON

__all__ = [
    "AP_LINK_TYPES",
    "REL_PROFILE",
    "REL_SELF",
    "REL_SUBSCRIBE",
    "AcctResource",
    "Jrd",
    "JrdLink",
    "Resource",
    "UrlResource",
    "build_acct",
    "build_host_meta",
    "build_host_meta_jrd",
    "build_jrd",
    "build_webfinger_url",
    "filter_rels",
    "link",
    "normalise_host",
    "parse_acct",
    "parse_jrd",
    "parse_query",
    "parse_resource",
]

REL_SELF: Final = "self"
REL_PROFILE: Final = "http://webfinger.net/rel/profile-page"
REL_SUBSCRIBE: Final = "http://ostatus.org/schema/1.0/subscribe"
REL_LRDD: Final = "lrdd"
#: Media types under which a ``self`` link names an ActivityPub actor.
AP_LINK_TYPES: Final = (ACTIVITY_JSON, LD_JSON)

_XRD_NS: Final = "http://docs.oasis-open.org/ns/xri/xrd-1.0"
_MAX_RESOURCE: Final = 1024
_MAX_USER: Final = 255
_USER_RE: Final = re.compile(r"[A-Za-z0-9_.\-]+")
_LABEL_RE: Final = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?")
_PORT_RE: Final = re.compile(r"[0-9]{1,5}")
_SCHEME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")

AcctResource = tuple[Literal["acct"], str, str]
UrlResource = tuple[Literal["url"], str]
Resource = AcctResource | UrlResource


def _bad(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(reason, status_hint=400)


def _check_text(value: str, what: str) -> None:
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in value):
        raise _bad(f"{what} contains whitespace or control characters")


def _normalise_hostname(name: str) -> str:
    if not name:
        raise _bad("empty host")
    if name.isascii():
        name = name.lower()
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            pass
        else:
            return name
        if len(name) > 253:
            raise _bad("host name too long")
        labels = name.split(".")
        for label in labels:
            if not _LABEL_RE.fullmatch(label):
                raise _bad(f"invalid host label {label!r}")
            if label.startswith("xn--"):
                try:
                    idna.decode(label)
                except UnicodeError as exc:
                    raise _bad(f"invalid IDNA label {label!r}") from exc
        if labels[-1].isdigit():
            raise _bad(f"invalid host {name!r}")
        return name
    try:
        return _normalise_hostname(idna.encode(name, uts46=True).decode("ascii"))
    except UnicodeError as exc:
        raise _bad(f"host {name!r} is not a valid internationalised domain name") from exc


def normalise_host(host: str) -> str:
    """Return ``host[:port]`` lowercased and IDNA-encoded; ``RemoteProtocolError`` if invalid."""
    _check_text(host, "host")
    if host.startswith("["):
        literal, sep, rest = host[1:].partition("]")
        try:
            address = ipaddress.IPv6Address(literal)
        except ValueError as exc:
            raise _bad(f"invalid IPv6 literal {literal!r}") from exc
        name = f"[{address.compressed}]"
        if not sep:
            raise _bad("unterminated IPv6 literal")
        if not rest:
            return name
        if not rest.startswith(":"):
            raise _bad(f"invalid host {host!r}")
        port = rest[1:]
    else:
        name, sep, port = host.partition(":")
        name = _normalise_hostname(name)
        if not sep:
            return name
    if not _PORT_RE.fullmatch(port) or not 0 < int(port) < 65536:
        raise _bad(f"invalid port {port!r}")
    return f"{name}:{int(port)}"


def parse_acct(resource: str) -> tuple[str, str]:
    """Split ``acct:user@host``, ``user@host`` or ``@user@host`` into ``(user, host)``."""
    if len(resource) > _MAX_RESOURCE:
        raise _bad("resource too long")
    _check_text(resource, "resource")
    rest = resource
    if rest[:5].lower() == "acct:":
        rest = rest[5:]
    elif rest.startswith("@"):
        rest = rest[1:]
    if rest.count("@") != 1:
        raise _bad("an account must be user@host, with exactly one '@'")
    raw_user, _, host = rest.partition("@")
    if not raw_user:
        raise _bad("empty user in account")
    if not host:
        raise _bad("empty host in account")
    try:
        user = unquote(raw_user, errors="strict")
    except UnicodeDecodeError as exc:
        raise _bad("user part is not valid percent-encoded UTF-8") from exc
    if len(user) > _MAX_USER:
        raise _bad("user part too long")
    if not _USER_RE.fullmatch(user):
        raise _bad(f"user {user!r} may only contain A-Z, a-z, 0-9, '_', '.' and '-'")
    return user, normalise_host(host)


def build_acct(user: str, host: str) -> str:
    """Return the canonical ``acct:user@host`` URI (the inverse of ``parse_acct``)."""
    try:
        user, host = parse_acct(f"{user}@{host}")
    except RemoteProtocolError as exc:
        raise LocalProtocolError(f"cannot build an acct: URI: {exc.reason}") from exc
    return f"acct:{user}@{host}"


def _normalise_url(url: str) -> str:
    if len(url) > _MAX_RESOURCE:
        raise _bad("resource too long")
    _check_text(url, "resource")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise _bad(f"malformed URL: {exc}") from exc
    if parts.scheme.lower() not in ("https", "http"):
        raise _bad(f"unsupported URL scheme {parts.scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise _bad("URL must not carry user information")
    host = normalise_host(parts.netloc)
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", parts.query, parts.fragment))


def parse_resource(resource: str) -> Resource:
    """Classify a WebFinger ``resource``: ``("acct", user, host)`` or ``("url", url)``.

    ``http(s)`` URLs are returned with scheme and host normalised and an empty
    path spelled ``/`` (so ``https://host`` and ``https://host/`` both name the
    FEP-d556 server actor query). Another well-formed URI scheme is a resource we
    cannot have: ``RemoteProtocolError`` with status 404.
    """
    if not resource:
        raise _bad("empty resource")
    lowered = resource[:8].lower()
    if lowered.startswith(("https://", "http://")):
        return ("url", _normalise_url(resource))
    if lowered.startswith("acct:") or not _SCHEME_RE.match(resource):
        user, host = parse_acct(resource)
        return ("acct", user, host)
    _check_text(resource, "resource")
    scheme = resource.split(":", 1)[0]
    raise RemoteProtocolError(f"unsupported resource scheme {scheme!r}", status_hint=404)


def parse_query(pairs: Iterable[tuple[str, str]]) -> tuple[Resource, tuple[str, ...]]:
    """Read decoded query pairs: exactly one ``resource`` (RFC 7033 4.2) and any ``rel``."""
    resources: list[str] = []
    rels: list[str] = []
    for name, value in pairs:
        if name == "resource":
            resources.append(value)
        elif name == "rel":
            rels.append(value)
    if not resources:
        raise _bad("missing 'resource' parameter")
    if len(resources) > 1:
        raise _bad("'resource' parameter given more than once")
    return parse_resource(resources[0]), tuple(rels)


def build_webfinger_url(
    host: str, resource: str, *, rels: Sequence[str] = (), scheme: str = "https"
) -> str:
    """Return the query URL ``{scheme}://{host}/.well-known/webfinger?resource=...&rel=...``."""
    if scheme not in ("https", "http"):
        raise LocalProtocolError(f"unsupported scheme {scheme!r}")
    try:
        host = normalise_host(host)
    except RemoteProtocolError as exc:
        raise LocalProtocolError(f"invalid host: {exc.reason}") from exc
    query = "resource=" + quote(resource, safe="")
    query += "".join("&rel=" + quote(rel, safe="") for rel in rels)
    return f"{scheme}://{host}/.well-known/webfinger?{query}"


def link(
    rel: str,
    href: str | None = None,
    type: str | None = None,  # the JRD member is called "type"
    template: str | None = None,
    *,
    titles: dict[str, str] | None = None,
    properties: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """Return one JRD link object (RFC 7033 4.4.4), omitting absent members."""
    if not rel:
        raise LocalProtocolError("a JRD link needs a rel")
    if href is not None and template is not None:
        raise LocalProtocolError("a JRD link has an href or a template, not both")
    out: dict[str, Any] = {"rel": rel}
    if type is not None:
        out["type"] = type
    if href is not None:
        out["href"] = href
    if template is not None:
        out["template"] = template
    if titles:
        out["titles"] = dict(titles)
    if properties:
        out["properties"] = dict(properties)
    return out


def build_jrd(
    subject: str,
    *,
    aliases: Sequence[str] = (),
    links: Sequence[dict[str, Any]],
    properties: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """Return a JRD document: ``subject``, then ``aliases``/``properties`` if any, then ``links``."""
    if not subject:
        raise LocalProtocolError("a JRD needs a subject")
    out: dict[str, Any] = {"subject": subject}
    if aliases:
        out["aliases"] = list(aliases)
    if properties:
        out["properties"] = dict(properties)
    for item in links:
        if not isinstance(item, dict) or not item.get("rel"):
            raise LocalProtocolError("every JRD link must be a dict with a rel")
    out["links"] = [dict(item) for item in links]
    return out


def _rel_key(rel: str) -> str:
    # Registered relation types compare case-insensitively (RFC 8288); URIs exactly.
    return rel if ":" in rel else rel.lower()


def filter_rels(jrd: dict[str, Any], rels: Iterable[str]) -> dict[str, Any]:
    """Keep only the links whose ``rel`` was asked for (RFC 7033 4.3); no rels keeps all."""
    wanted = {_rel_key(rel) for rel in rels}
    out = dict(jrd)
    if wanted and "links" in jrd:
        out["links"] = [
            item
            for item in jrd["links"]
            if isinstance(item.get("rel"), str) and _rel_key(item["rel"]) in wanted
        ]
    return out


def build_host_meta(base_url: str) -> str:
    """Return the host-meta XRD pointing ``lrdd`` at our WebFinger endpoint."""
    template = quoteattr(f"{_base(base_url)}/.well-known/webfinger?resource={{uri}}")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<XRD xmlns="{_XRD_NS}">\n'
        f'  <Link rel="{REL_LRDD}" template={template}/>\n'
        "</XRD>\n"
    )


def build_host_meta_jrd(base_url: str) -> dict[str, Any]:
    """Return host-meta as JRD (``/.well-known/host-meta.json``)."""
    template = f"{_base(base_url)}/.well-known/webfinger?resource={{uri}}"
    return {"links": [link(REL_LRDD, template=template)]}


def _base(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise LocalProtocolError(f"base URL must be http(s)://host[:port][/path]: {base_url!r}")
    return base_url.rstrip("/")


def _media_type(value: str) -> tuple[str, frozenset[tuple[str, str]]]:
    head, *params = value.split(";")
    pairs = set()
    for param in params:
        key, _, val = param.partition("=")
        pairs.add((key.strip().lower(), val.strip().strip('"')))
    return head.strip().lower(), frozenset(pairs)


class JrdLink(msgspec.Struct, frozen=True):
    """One link of a JRD as a peer sent it; unknown members ignored."""

    rel: str
    type: str | None = None
    href: str | None = None
    template: str | None = None
    titles: dict[str, Any] = {}
    properties: dict[str, Any] = {}


class Jrd(msgspec.Struct, frozen=True):
    """A JRD as a peer sent it; unknown members ignored, malformed links dropped."""

    subject: str | None = None
    aliases: tuple[str, ...] = ()
    properties: dict[str, Any] = {}
    links: tuple[JrdLink, ...] = ()

    def links_for(self, rel: str) -> list[JrdLink]:
        """Return the links with this ``rel``, in document order."""
        key = _rel_key(rel)
        return [item for item in self.links if _rel_key(item.rel) == key]

    def self_link(self, types: Sequence[str] = AP_LINK_TYPES) -> str | None:
        """Return the ``href`` of the first ``self`` link of one of ``types`` (an actor id)."""
        wanted = {_media_type(t) for t in types}
        for item in self.links_for(REL_SELF):
            if item.type is None or _media_type(item.type) not in wanted:
                continue
            if item.href and item.href.lower().startswith(("https://", "http://")):
                return item.href
        return None

    def subscribe_template(self) -> str | None:
        """Return the OStatus remote-follow template (with ``{uri}``), if offered."""
        for item in self.links_for(REL_SUBSCRIBE):
            if item.template:
                return item.template
        return None

    def profile_page(self) -> str | None:
        """Return the ``href`` of the first profile-page link, if any."""
        for item in self.links_for(REL_PROFILE):
            if item.href:
                return item.href
        return None


class _RawJrd(msgspec.Struct):
    subject: str | None = None
    aliases: list[str] = []
    properties: dict[str, Any] = {}
    links: list[msgspec.Raw] = []


_raw_decoder: Final = msgspec.json.Decoder(_RawJrd)
_link_decoder: Final = msgspec.json.Decoder(JrdLink)


def parse_jrd(body: bytes) -> Jrd:
    """Decode a JRD; ``RemoteProtocolError`` if it is not one. Links without a rel are dropped."""
    try:
        raw = _raw_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise _bad(f"invalid JRD: {exc}") from exc
    links = []
    for item in raw.links:
        try:
            links.append(_link_decoder.decode(item))
        except msgspec.DecodeError:
            continue
    return Jrd(
        subject=raw.subject,
        aliases=tuple(raw.aliases),
        properties=raw.properties,
        links=tuple(links),
    )
