"""Token buckets per key (a host, a client address): pure logic, the clock is an argument.

A limit of ``per_minute`` requests refills at ``per_minute / 60`` tokens a second
into a bucket that holds ``BURST_SECONDS`` worth of them (at least ``MIN_BURST``
requests, or ``per_minute`` if that is less), so a peer may send a short burst (a fan-out after a meetup is published) but not a flood. Memory is
bounded: a limiter keeps at most ``max_keys`` buckets and drops the least
recently used first (a dropped key starts again with a full bucket, which only
ever errs towards letting a request through).

    limiter = RateLimiter(per_minute=600, max_keys=10_000)
    wait = limiter.take("peer.example", now=time.monotonic())
    if wait is not None: answer 429 with Retry-After: ceil(wait)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from protocol.errors import RemoteProtocolError

__all__ = [
    "BURST_SECONDS",
    "MIN_BURST",
    "Bucket",
    "RateLimited",
    "RateLimiter",
    "retry_after_header",
]

#: A bucket holds this many seconds of its refill rate (the burst a key may send at once) ...
BURST_SECONDS = 15.0
#: ... and at least this many requests (a person may mistype a password twice).
MIN_BURST = 5.0


@dataclass
class Bucket:
    """Tokens left and when they were last counted (seconds on the caller's monotonic clock)."""

    tokens: float
    at: float


class RateLimiter:
    """One limit applied per key; ``take`` spends a token or says how long to wait."""

    def __init__(self, per_minute: float, *, max_keys: int = 10_000, burst: float | None = None):
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.rate = per_minute / 60.0  # tokens per second
        if burst is None:  # 15 s of the rate, but a few requests at once even for slow limits
            burst = max(min(float(per_minute), MIN_BURST), self.rate * BURST_SECONDS, 1.0)
        self.capacity = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, *, now: float, cost: float = 1.0) -> float | None:
        """Spend ``cost`` tokens of ``key``'s bucket: ``None`` if allowed, else seconds to wait."""
        if not self.enabled:
            return None
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = Bucket(self.capacity, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.at)  # a clock going back refills nothing
            bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.rate)
            bucket.at = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return None
        return (cost - bucket.tokens) / self.rate

    def forget(self, key: str) -> None:
        self._buckets.pop(key, None)


def retry_after_header(wait: float) -> str:
    """Whole seconds for ``Retry-After`` (at least 1)."""
    return str(max(1, math.ceil(wait)))


class RateLimited(RemoteProtocolError):
    """A request over its limit (429); ``retry_after`` in seconds, ``scope`` names the limit."""

    status_hint = 429

    def __init__(self, scope: str, key: str, retry_after: float) -> None:
        super().__init__(
            f"rate limit exceeded ({scope}); retry after {retry_after_header(retry_after)} s"
        )
        self.scope, self.key, self.retry_after = scope, key, retry_after
