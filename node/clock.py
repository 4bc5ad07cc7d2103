"""The injected clock and the one timestamp format stored in the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "from_iso", "iso", "system_clock"]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, UTC."""
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """UTC, fixed width, so that stored timestamps compare as strings."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return dt.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
