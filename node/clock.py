"""The injected clock and the one timestamp format stored in the database."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = ["Clock", "from_iso", "iso", "now_iso", "system_clock"]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, UTC."""
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """UTC, fixed width, so that stored timestamps compare as strings."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return dt.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" -> "Z"


_second: list[Any] = [-1, ""]  # the last whole second now_iso formatted, and its text


def now_iso(clock: Clock = system_clock) -> str:
    """``iso(clock())``; for the real clock without a datetime, its second's text made once."""
    if clock is not system_clock:
        return iso(clock())
    now = time.time()
    second = int(now)
    if second != _second[0]:
        _second[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return f"{_second[1]}.{int((now - second) * 1_000_000):06d}Z"


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
