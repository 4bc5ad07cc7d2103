"""Case-insensitive header access and URL pieces shared by the HTTP signature schemes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from ..errors import LocalProtocolError

__all__ = [
    "Headers",
    "HeadersLike",
    "format_http_date",
    "parse_http_date",
    "split_url",
]

HeadersLike = Mapping[str, str] | Iterable[tuple[str, str]]


class Headers:
    """An immutable, case-insensitive, multi-valued view of request headers."""

    __slots__ = ("_ci", "_index", "_items")

    def __init__(self, headers: HeadersLike | Headers) -> None:
        #: An immutable case-insensitive multidict (aiohttp's request headers, from the
        #: ``multidict`` package, which this one does not import) read in place: no copy.
        self._ci: Any = None
        if isinstance(headers, Headers):
            self._ci = headers._ci
            self._items: tuple[tuple[str, str], ...] = headers._items
            self._index: dict[str, list[str]] = headers._index
            return
        source: Any = headers
        if (
            type(source).__name__ == "CIMultiDictProxy"  # immutable: a view stays true
            and hasattr(source, "getall")
            and all(type(value) is str for value in source.values())
        ):
            self._ci = headers
            self._items, self._index = (), {}
            return
        self._index_pairs(headers)

    def _index_pairs(self, headers: HeadersLike) -> None:
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        items = tuple(pairs)
        index: dict[str, list[str]] = {}
        for name, value in items:
            if not isinstance(name, str) or not isinstance(value, str):
                raise LocalProtocolError("header names and values must be str")
            key = name.lower()
            values = index.get(key)
            if values is None:
                index[key] = [value]
            else:
                values.append(value)
        self._items = items
        self._index = index  # lower-cased name -> values in message order (never mutated)

    @classmethod
    def of(cls, headers: HeadersLike | Headers) -> Headers:
        """``headers`` itself if it is a ``Headers`` already, else a new view of it."""
        return headers if isinstance(headers, Headers) else cls(headers)

    def _copy(self) -> None:
        """Index the case-insensitive multidict after all (to iterate or count)."""
        if self._ci is not None:
            self._index_pairs(list(self._ci.items()))
            self._ci = None

    def get_all(self, name: str) -> list[str]:
        """Every value of a header, in message order."""
        if self._ci is not None:
            return list(self._ci.getall(name, ()))
        return list(self._index.get(name.lower(), ()))

    def get(self, name: str) -> str | None:
        """A header's value; several instances are joined with ``", "`` (RFC 9110 5.3)."""
        if self._ci is not None:
            values = self._ci.getall(name, None)
        else:
            values = self._index.get(name.lower())
        if not values:
            return None
        if len(values) == 1:
            return values[0].strip()
        return ", ".join(value.strip() for value in values)

    def __contains__(self, name: object) -> bool:
        if self._ci is not None:
            return isinstance(name, str) and name in self._ci
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[tuple[str, str]]:
        self._copy()
        return iter(self._items)

    def __len__(self) -> int:
        self._copy()
        return len(self._items)

    def as_dict(self) -> dict[str, str]:
        """A plain dict (lower-cased names, repeated headers joined) for other libraries."""
        self._copy()
        out: dict[str, str] = {}
        for key, _ in self._items:
            lowered = key.lower()
            if lowered not in out:
                out[lowered] = self.get(lowered) or ""
        return out

    def __repr__(self) -> str:
        self._copy()
        return f"Headers({list(self._items)!r})"


def split_url(url: str) -> tuple[str, str, str, str]:
    """Split an absolute URL into (scheme, authority, path with query, path)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise LocalProtocolError(f"URL must be absolute: {url!r}")
    authority = parts.netloc.rpartition("@")[2]
    path = parts.path or "/"
    full = f"{path}?{parts.query}" if parts.query or url.endswith("?") else path
    return parts.scheme.lower(), authority, full, path


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MON = "(?P<mon>" + "|".join(_MONTHS) + ")"
_TIME = r"(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)"
_DATE_FORMS = (
    # IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    re.compile(
        rf"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (?P<d>\d\d) {_MON} (?P<y>\d{{4}}) {_TIME} GMT$"
    ),
    # obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    re.compile(rf"^[A-Z][a-z]+day, (?P<d>\d\d)-{_MON}-(?P<y>\d\d) {_TIME} GMT$"),
    # obsolete asctime: Sun Nov  6 08:49:37 1994
    re.compile(rf"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) {_MON} (?P<d>[ \d]\d) {_TIME} (?P<y>\d{{4}})$"),
)


# Requests signed within the same second carry the same Date: each value is parsed once
# (the result, an immutable datetime or None, is shared).
@lru_cache(maxsize=64)
def parse_http_date(value: str) -> datetime | None:
    """Parse an HTTP date (RFC 9110 5.6.7, all three forms) as aware UTC; None if invalid."""
    value = value.strip()
    for form in _DATE_FORMS:
        match = form.match(value)
        if match is None:
            continue
        year = int(match["y"])
        if year < 100:  # RFC 850 two-digit year, RFC 9110's 50-year rule simplified
            year += 2000 if year < 70 else 1900
        try:
            return datetime(
                year,
                _MONTHS.index(match["mon"]) + 1,
                int(match["d"]),
                int(match["h"]),
                int(match["m"]),
                int(match["s"]),
                tzinfo=UTC,
            )
        except ValueError:
            return None
    return None


def format_http_date(moment: datetime) -> str:
    """Format an aware datetime as an IMF-fixdate (``Wed, 20 Dec 2023 10:00:00 GMT``)."""
    if moment.tzinfo is None:
        raise LocalProtocolError("datetime must be timezone-aware")
    utc = moment.astimezone(UTC)
    return (
        f"{_WEEKDAYS[utc.weekday()]}, {utc.day:02d} {_MONTHS[utc.month - 1]} "
        f"{utc.year:04d} {utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} GMT"
    )
