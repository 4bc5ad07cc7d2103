"""Origin rules: IRI checks, origins and hosts, signer owns actor, objects live on their actor's origin."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final
from urllib.parse import SplitResult, urlsplit

from .errors import OwnershipError, RemoteProtocolError

__all__ = [
    "MAX_IRI_LENGTH",
    "check_object_origin",
    "check_signer_owns_actor",
    "host_of",
    "origin",
    "same_origin",
    "validate_iri",
]

#: Longer IRIs are refused (no peer needs more; a database column should not hold more).
MAX_IRI_LENGTH: Final = 4096

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f<>\"\\^`{|}]")


def _split(url: object) -> tuple[SplitResult, str, int | None]:
    """Split an absolute http(s) URL; return the parts, the lowercase host and a non-default port."""
    if not isinstance(url, str) or not url:
        raise RemoteProtocolError(f"not an IRI: {url!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RemoteProtocolError(f"malformed IRI {url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise RemoteProtocolError(f"not an absolute http(s) IRI: {url!r}")
    host = parts.hostname
    if not host:
        raise RemoteProtocolError(f"IRI has no host: {url!r}")
    if port == _DEFAULT_PORTS[scheme]:
        port = None
    return parts, host, port


def _authority(host: str, port: int | None) -> str:
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return host if port is None else f"{host}:{port}"


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: lowercase, default port dropped."""
    if not isinstance(url, str):
        raise RemoteProtocolError(f"not an IRI: {url!r}")
    return _origin(url)


def host_of(url: str) -> str:
    """The authority of ``url`` as Kantine counts hosts: lowercase host, non-default port kept."""
    if not isinstance(url, str):
        raise RemoteProtocolError(f"not an IRI: {url!r}")
    return _host_of(url)


# The same few actor IRIs are checked on every request: parse each once (errors are not cached).
@lru_cache(maxsize=4096)
def _origin(url: str) -> str:
    parts, host, port = _split(url)
    return f"{parts.scheme.lower()}://{_authority(host, port)}"


@lru_cache(maxsize=4096)
def _host_of(url: str) -> str:
    _, host, port = _split(url)
    return _authority(host, port)


def same_origin(a: str, b: str) -> bool:
    """Whether two URLs share scheme, host and port (RemoteProtocolError if either is not a URL)."""
    return origin(a) == origin(b)


def validate_iri(value: object) -> str:
    """Return ``value`` if it is an absolute http(s) IRI without credentials; else raise.

    Refuses relative and fragment-only references, whitespace and control characters,
    user info (``user:pass@``), a missing host, an invalid port and IRIs over
    ``MAX_IRI_LENGTH`` characters.
    """
    if not isinstance(value, str):
        raise RemoteProtocolError(f"IRI must be a string, got {type(value).__name__}")
    if len(value) > MAX_IRI_LENGTH:
        raise RemoteProtocolError(f"IRI longer than {MAX_IRI_LENGTH} characters")
    if _FORBIDDEN_CHARS.search(value):
        raise RemoteProtocolError(f"IRI contains a forbidden character: {value!r}")
    parts, _, _ = _split(value)
    if "@" in parts.netloc:
        raise RemoteProtocolError(f"IRI carries credentials: {value!r}")
    return value


def check_signer_owns_actor(key_id: str, key_owner: str | None, actor_id: str) -> None:
    """The key's owner (or controller) must be the actor, and the key must live on its origin."""
    if key_owner != actor_id:
        raise OwnershipError(f"key {key_id} belongs to {key_owner}, not to the actor {actor_id}")
    if not same_origin(key_id, actor_id):
        raise OwnershipError(f"key {key_id} is not on the origin of the actor {actor_id}")


def check_object_origin(activity_actor: str, object_id: str) -> None:
    """An object an actor creates or changes must live on the actor's origin."""
    home = origin(activity_actor)
    # ``home`` is normalised, so an id that starts with it and a "/" has exactly that
    # origin (the authority ends at the first "/"); other spellings take the full parse.
    if isinstance(object_id, str) and object_id.startswith(home + "/"):
        return
    if not same_origin(activity_actor, object_id):
        raise OwnershipError(
            f"object {object_id} is not on the origin of its actor {activity_actor}"
        )
