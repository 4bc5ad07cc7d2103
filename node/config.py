"""Typed node configuration: read and write ``config.toml`` in the data directory."""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from .eventloop import CHOICES as EVENT_LOOPS

__all__ = ["ConfigError", "Limits", "Settings", "data_dir", "load", "save", "validate_url"]

CONFIG_NAME = "config.toml"
DB_NAME = "kantine.db"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class ConfigError(Exception):
    """The configuration or the command line is unusable (a user error, exit 1)."""


#: The largest collection page the node serves, whatever ``page_size`` says.
MAX_PAGE_SIZE = 200


class Limits(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Resource bounds; every one is configurable in ``[limits]``."""

    max_body: int = 1 << 20
    max_json_depth: int = 32
    fetch_timeout: float = 10.0
    fetch_max_bytes: int = 1 << 20
    fetch_max_redirects: int = 3
    min_rsa_bits: int = 2048
    page_size: int = 20
    delivery_concurrency: int = 256
    delivery_per_host: int = 4
    #: Child processes that sign and send deliveries (node.sender), on a machine with more
    #: than one core; 0 delivers in the node's own process.
    delivery_senders: int = 2
    key_cache_seconds: int = 86400
    date_skew_seconds: int = 3600
    # -- abuse bounds (docs/security.md); a rate of 0 turns that limit off --
    #: Signed POSTs one remote host (the signer's host) may make to the inbox per minute.
    inbox_per_host_per_minute: int = 1200
    #: POSTs to the inbox from one client address per minute.
    inbox_per_ip_per_minute: int = 2400
    #: JSON API requests (``/api/``) from one client address per minute.
    api_per_ip_per_minute: int = 300
    #: Sign-in attempts from one client address per minute.
    signin_per_ip_per_minute: int = 10
    #: Rate-limit keys (hosts, addresses) held in memory per limit; the least recent go first.
    rate_limit_keys: int = 10000
    #: Remote fetches (keys, actors, objects) one incoming activity may cause, in total.
    max_fetches_per_activity: int = 5
    #: Characters of the longest string (or key) an incoming document may hold.
    max_string_length: int = 65536
    #: Seconds a request may take, body read included (slow clients get 408).
    request_timeout: float = 30.0
    #: Seconds an idle keep-alive connection is held open.
    keepalive_timeout: float = 75.0

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if not 0 <= self.delivery_senders <= 16:
            raise ValueError("delivery_senders must be between 0 and 16")
        if self.max_fetches_per_activity < 1 or self.max_string_length < 256:
            raise ValueError("max_fetches_per_activity >= 1 and max_string_length >= 256")


class Settings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The node's settings (``config.toml``)."""

    url: str
    name: str
    slug: str
    timezone: str = "Europe/Amsterdam"
    dev: bool = False
    manual_approval: bool = False
    allowlist_mode: bool = False
    authorized_fetch: bool = False
    #: The node runs behind a reverse proxy that appends the client's address to
    #: ``X-Forwarded-For``: rate limits then key on that address, not the proxy's.
    behind_proxy: bool = False
    #: Seconds between two participant-count ``Update``s of one meetup (0: at once).
    event_update_interval: float = 300.0
    #: How many days ahead a recurring series publishes its occurrences.
    series_horizon_days: int = 42
    #: ``auto`` (uvloop if installed, else asyncio's own loop), ``uvloop`` or ``asyncio``.
    event_loop: str = "auto"
    limits: Limits = msgspec.field(default_factory=Limits)
    data: str = ""  # the data directory, filled in when loaded; never written

    def __post_init__(self) -> None:
        if self.event_loop not in EVENT_LOOPS:
            raise ValueError(f"event_loop must be one of {', '.join(EVENT_LOOPS)}")

    @property
    def base(self) -> str:
        return self.url.rstrip("/")

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc.lower()

    @property
    def data_path(self) -> Path:
        return Path(self.data)

    @property
    def db_path(self) -> Path:
        return Path(self.data) / DB_NAME


def data_dir(arg: str | None) -> Path:
    """The data directory: ``--data``, else ``$KANTINE_DATA``, else ``./kantine-data``."""
    return Path(arg or os.environ.get("KANTINE_DATA") or "kantine-data")


def validate_url(url: str, *, dev: bool) -> str:
    """Check a public base URL; ``http://`` only with ``dev``."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"--url must be an absolute http(s) URL, got {url!r}")
    if parts.scheme == "http" and not dev:
        raise ConfigError("--url must use https:// (use --dev for http:// in local development)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError("--url must not carry a query, fragment or credentials")
    if parts.path not in ("", "/"):
        raise ConfigError("--url must be the site root (no path)")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def load(directory: Path) -> Settings:
    """Load ``config.toml`` from a data directory; raise ``ConfigError`` with a clear reason."""
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(
            f"no Kantine node in {directory} (run `kantine init --data {directory}` first)"
        )
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    raw["data"] = str(directory.resolve())
    try:
        return msgspec.convert(raw, Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def save(settings: Settings, directory: Path) -> None:
    """Write ``config.toml`` (the ``data`` field is never written)."""
    lines = ["# Kantine node configuration", ""]
    top = msgspec.to_builtins(settings)
    limits = top.pop("limits", {})
    top.pop("data", None)
    for key, value in top.items():
        lines.append(f"{key} = {_toml_value(value)}")
    lines += ["", "[limits]"]
    for key, value in limits.items():
        lines.append(f"{key} = {_toml_value(value)}")
    tmp = directory / (CONFIG_NAME + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(directory / CONFIG_NAME)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise ConfigError(f"cannot write {value!r} to TOML")
