"""NodeInfo 2.0/2.1 documents and the /.well-known/nodeinfo discovery document, without I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import msgspec

from protocol.errors import LocalProtocolError, RemoteProtocolError
from protocol.vocab import NODEINFO_20, NODEINFO_21

__all__ = [
    "INBOUND_SERVICES",
    "OUTBOUND_SERVICES",
    "PROTOCOLS",
    "REL_APPLICATION",
    "NodeInfo",
    "Services",
    "Software",
    "Usage",
    "Users",
    "build_discovery",
    "build_nodeinfo",
    "content_type",
    "instance_actor_href",
    "parse_discovery",
    "parse_nodeinfo",
    "select_nodeinfo",
]

Version = Literal["2.0", "2.1"]

#: FEP-2677: the discovery link naming the server's Application actor.
REL_APPLICATION: Final = "https://www.w3.org/ns/activitystreams#Application"

_REL_BY_VERSION: Final[dict[str, str]] = {"2.0": NODEINFO_20, "2.1": NODEINFO_21}
_SOFTWARE_NAME_RE: Final = re.compile(r"[a-z0-9-]+")
_NODEINFO_REL_RE: Final = re.compile(
    r"http://nodeinfo\.diaspora\.software/ns/schema/([0-9]+)\.([0-9]+)"
)

#: The enums of the 2.0/2.1 schemas (identical in both versions).
PROTOCOLS: Final = frozenset(
    {"activitypub", "buddycloud", "dfrn", "diaspora", "libertree", "ostatus", "pumpio", "tent"}
    | {"xmpp", "zot"}
)
INBOUND_SERVICES: Final = frozenset(
    {"atom1.0", "gnusocial", "imap", "pnut", "pop3", "pumpio", "rss2.0", "twitter"}
)
OUTBOUND_SERVICES: Final = frozenset(
    {"atom1.0", "blogger", "buddycloud", "diaspora", "dreamwidth", "drupal", "facebook"}
    | {"friendica", "gnusocial", "google", "insanejournal", "libertree", "linkedin"}
    | {"livejournal", "mediagoblin", "myspace", "pinterest", "pnut", "posterous", "pumpio"}
    | {"redmatrix", "rss2.0", "smtp", "tent", "tumblr", "twitter", "wordpress", "xmpp"}
)


def _rel(version: str) -> str:
    try:
        return _REL_BY_VERSION[version]
    except KeyError:
        raise LocalProtocolError(f"unsupported NodeInfo version {version!r}") from None


def _base(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise LocalProtocolError(f"base URL must be http(s)://host[:port][/path]: {base_url!r}")
    return base_url.rstrip("/")


def content_type(version: Version) -> str:
    """Return the Content-Type of a NodeInfo document of ``version`` (with its schema profile)."""
    return f'application/json; profile="{_rel(version)}#"'


def build_discovery(base_url: str, *, instance_actor: bool = True) -> dict[str, Any]:
    """Return ``/.well-known/nodeinfo``: links to 2.1 and 2.0, and the FEP-2677 actor link.

    The 2.1 link comes first for clients that take the first link; the
    instance actor is ``{base}/actor``.
    """
    base = _base(base_url)
    links = [
        {"rel": NODEINFO_21, "href": f"{base}/nodeinfo/2.1"},
        {"rel": NODEINFO_20, "href": f"{base}/nodeinfo/2.0"},
    ]
    if instance_actor:
        links.append({"rel": REL_APPLICATION, "href": f"{base}/actor"})
    return {"links": links}


def _count(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LocalProtocolError(f"{name} must be a non-negative int, not {value!r}")
    return value


def _services(name: str, values: Iterable[str], allowed: frozenset[str]) -> list[str]:
    out = list(values)
    unknown = sorted(set(out) - allowed)
    if unknown:
        raise LocalProtocolError(f"{name} services not in the NodeInfo schema: {unknown}")
    return out


def build_nodeinfo(
    version: Version,
    *,
    software_name: str = "kantine",
    software_version: str,
    repository: str | None = None,
    homepage: str | None = None,
    users_total: int,
    users_active_month: int,
    users_active_halfyear: int,
    local_posts: int,
    local_comments: int | None = None,
    open_registrations: bool,
    metadata: Mapping[str, Any],
    inbound: Sequence[str] = (),
    outbound: Sequence[str] = ("atom1.0",),
) -> dict[str, Any]:
    """Return a NodeInfo 2.0 or 2.1 document that validates against its schema.

    ``repository`` and ``homepage`` exist only in 2.1 and are left out of 2.0.
    Services must be values of the schema's enums (iCalendar is not one).
    """
    _rel(version)
    if not _SOFTWARE_NAME_RE.fullmatch(software_name):
        raise LocalProtocolError(f"software name must match ^[a-z0-9-]+$: {software_name!r}")
    if not software_version:
        raise LocalProtocolError("software version must not be empty")
    if not isinstance(open_registrations, bool):
        raise LocalProtocolError("open_registrations must be a bool")
    software: dict[str, Any] = {"name": software_name, "version": software_version}
    if version == "2.1":
        if repository is not None:
            software["repository"] = repository
        if homepage is not None:
            software["homepage"] = homepage
    usage: dict[str, Any] = {
        "users": {
            "total": _count("users_total", users_total),
            "activeHalfyear": _count("users_active_halfyear", users_active_halfyear),
            "activeMonth": _count("users_active_month", users_active_month),
        },
        "localPosts": _count("local_posts", local_posts),
    }
    if local_comments is not None:
        usage["localComments"] = _count("local_comments", local_comments)
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {
            "inbound": _services("inbound", inbound, INBOUND_SERVICES),
            "outbound": _services("outbound", outbound, OUTBOUND_SERVICES),
        },
        "openRegistrations": open_registrations,
        "usage": usage,
        "metadata": dict(metadata),
    }


class Software(msgspec.Struct, frozen=True):
    """The ``software`` member as a peer sent it."""

    name: str
    version: str = ""
    repository: str | None = None
    homepage: str | None = None


class Services(msgspec.Struct, frozen=True):
    """The ``services`` member as a peer sent it."""

    inbound: tuple[str, ...] = ()
    outbound: tuple[str, ...] = ()


class Users(msgspec.Struct, frozen=True, rename="camel"):
    """User counts; ``None`` where the peer does not say."""

    total: int | None = None
    active_halfyear: int | None = None
    active_month: int | None = None


class Usage(msgspec.Struct, frozen=True, rename="camel"):
    """The ``usage`` member as a peer sent it."""

    users: Users = Users()
    local_posts: int | None = None
    local_comments: int | None = None


class NodeInfo(msgspec.Struct, frozen=True, rename="camel"):
    """A NodeInfo document (any 2.x) as a peer sent it; unknown members ignored."""

    software: Software
    version: str = ""
    protocols: tuple[str, ...] = ()
    services: Services = Services()
    open_registrations: bool | None = None
    usage: Usage = Usage()
    metadata: dict[str, Any] = {}


class _RawNodeInfo(msgspec.Struct, rename="camel"):
    software: Software
    version: str = ""
    # NodeInfo 1.x spelled protocols as {"inbound": [...], "outbound": [...]}.
    protocols: list[str] | dict[str, list[str]] = []
    services: Services = Services()
    open_registrations: bool | None = None
    usage: Usage = Usage()
    metadata: dict[str, Any] | None = None


class _Link(msgspec.Struct):
    rel: str
    href: str


class _RawDiscovery(msgspec.Struct):
    links: list[msgspec.Raw]


# strict=False: peers send counts as "12" or 12.0; those still mean 12.
_nodeinfo_decoder: Final = msgspec.json.Decoder(_RawNodeInfo, strict=False)
_discovery_decoder: Final = msgspec.json.Decoder(_RawDiscovery)
_link_decoder: Final = msgspec.json.Decoder(_Link)


def parse_nodeinfo(body: bytes) -> NodeInfo:
    """Decode a peer's NodeInfo document; ``RemoteProtocolError`` if it is not one."""
    try:
        raw = _nodeinfo_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise RemoteProtocolError(f"invalid NodeInfo document: {exc}") from exc
    if isinstance(raw.protocols, dict):
        protocols = tuple(dict.fromkeys(p for side in raw.protocols.values() for p in side))
    else:
        protocols = tuple(raw.protocols)
    return NodeInfo(
        software=raw.software,
        version=raw.version,
        protocols=protocols,
        services=raw.services,
        open_registrations=raw.open_registrations,
        usage=raw.usage,
        metadata=raw.metadata or {},
    )


def parse_discovery(body: bytes) -> list[tuple[str, str]]:
    """Return the ``(rel, href)`` pairs of a discovery document; malformed links are skipped."""
    try:
        raw = _discovery_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise RemoteProtocolError(f"invalid NodeInfo discovery document: {exc}") from exc
    out = []
    for item in raw.links:
        try:
            decoded = _link_decoder.decode(item)
        except msgspec.DecodeError:
            continue
        out.append((decoded.rel, decoded.href))
    return out


def select_nodeinfo(
    links: Iterable[tuple[str, str]], supported: Iterable[str] = ("2.0", "2.1")
) -> tuple[str, str] | None:
    """Return ``(version, href)`` of the highest supported NodeInfo version linked, if any."""
    wanted = set(supported)
    best: tuple[tuple[int, int], str, str] | None = None
    for rel, href in links:
        match = _NODEINFO_REL_RE.fullmatch(rel.rstrip("#"))
        if match is None:
            continue
        major, minor = int(match[1]), int(match[2])
        version = f"{major}.{minor}"
        if version in wanted and (best is None or (major, minor) > best[0]):
            best = ((major, minor), version, href)
    return None if best is None else (best[1], best[2])


def instance_actor_href(links: Iterable[tuple[str, str]]) -> str | None:
    """Return the FEP-2677 Application actor linked from discovery, if any."""
    for rel, href in links:
        if rel == REL_APPLICATION:
            return href
    return None
