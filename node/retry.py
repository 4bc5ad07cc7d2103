"""Delivery retry rules and the per-host circuit breaker, as data plus pure functions.

Nothing here performs I/O or reads the clock: ``now`` is always an argument and
the jitter source is an injectable :class:`random.Random`.

**Retry schedule** (``DEFAULT``: base 30 s, doubling, capped at 16 h, 14
attempts).  After attempt *n* fails with a retryable outcome the next attempt
is scheduled ``min(30 s * 2**(n-1), 16 h)`` later, multiplied by a jitter
factor drawn uniformly from ``[0.85, 1.15]``:

====== ========= =================
failed wait      next attempt at
====== ========= =================
1      30 s      ~0:00:30
2      1 min     ~0:01:30
3      2 min     ~0:03:30
4      4 min     ~0:07:30
5      8 min     ~0:15:30
6      16 min    ~0:31:30
7      32 min    ~1:03:30
8      64 min    ~2:07:30
9      ~2.1 h    ~4:15:30
10     ~4.3 h    ~8:31:30
11     ~8.5 h    ~17:03:30
12     16 h      ~33:03:30
13     16 h      ~49:03:30 (the 14th and last attempt)
14     give up
====== ========= =================

So a delivery is tried for about two days (49 h nominal, 42-57 h with jitter).

**What retries**: network errors and timeouts (``status=None``), every 5xx,
401 (the peer may not have our new key yet), 408 and 429; also the odd 1xx/3xx
(an inbox should answer 2xx).  Any other 4xx is final (:class:`GiveUp`).
``Retry-After`` (delta-seconds or an HTTP-date) is honoured when it asks for a
later time than the backoff, capped at ``max_retry_after`` (24 h).

**Circuit breaker** (one :class:`HostState` per host, stored by the caller):
after ``breaker_threshold`` consecutive host failures the circuit opens for a
cool-off of ``breaker_base * 2**(failures - threshold)``, at most
``breaker_max`` (1 h).  When it expires one trial may go through
(:func:`on_attempt` claims it); a success closes the circuit.  A host failing
continuously for ``unavailable_after`` (2 days) is *unavailable*: it gets one
probe delivery per ``probe_interval`` (24 h) until a success or any activity
received from it (:func:`on_activity_received`) clears it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

__all__ = [
    "DEFAULT",
    "GiveUp",
    "HostState",
    "Retry",
    "RetryPolicy",
    "after_attempt",
    "is_host_failure",
    "may_attempt",
    "on_activity_received",
    "on_attempt",
    "on_failure",
    "on_success",
    "parse_retry_after",
    "schedule",
]


@dataclass(frozen=True)
class RetryPolicy:
    """The numbers behind retries and the circuit breaker."""

    base: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=16)
    max_attempts: int = 14
    jitter: float = 0.15
    max_retry_after: timedelta = timedelta(hours=24)
    breaker_threshold: int = 5
    breaker_base: timedelta = timedelta(minutes=1)
    breaker_max: timedelta = timedelta(hours=1)
    unavailable_after: timedelta = timedelta(days=2)
    probe_interval: timedelta = timedelta(days=1)


DEFAULT = RetryPolicy()

#: 4xx answers that may succeed later: unauthorised (key not fetched yet),
#: request timeout, too many requests.
_RETRYABLE_4XX = frozenset({401, 408, 429})


@dataclass(frozen=True)
class Retry:
    """Try the delivery again at ``at``."""

    at: datetime


@dataclass(frozen=True)
class GiveUp:
    """Stop trying this delivery; ``reason`` says why (for the queue's record)."""

    reason: str


def _check_status(status: int | None) -> None:
    if status is not None and not 100 <= status <= 599:
        raise ValueError(f"not an HTTP status: {status}")


def is_host_failure(status: int | None) -> bool:
    """Whether an outcome counts against the host's circuit breaker.

    Network errors, timeouts, 5xx, 408 and 429 mean the host is down or
    overloaded; any other answer means it is up (even a 4xx).
    """
    _check_status(status)
    return status is None or status >= 500 or status in (408, 429)


def _backoff(attempt: int, policy: RetryPolicy) -> timedelta:
    seconds = policy.base.total_seconds() * policy.factor ** (attempt - 1)
    return min(timedelta(seconds=seconds), policy.max_delay)


def schedule(policy: RetryPolicy = DEFAULT) -> list[timedelta]:
    """The nominal (unjittered) waits after attempts 1 .. max_attempts - 1."""
    return [_backoff(n, policy) for n in range(1, policy.max_attempts)]


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Parse a ``Retry-After`` value (delta-seconds or HTTP-date) relative to ``now``.

    Returns None when absent, malformed or already past.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return timedelta(seconds=int(value)) if int(value) > 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=now.tzinfo)
    delay = when - now
    return delay if delay > timedelta(0) else None


def after_attempt(
    attempt: int,
    status: int | None,
    now: datetime,
    retry_after: str | None,
    *,
    rng: random.Random | None = None,
    policy: RetryPolicy = DEFAULT,
) -> Retry | GiveUp | None:
    """Decide what follows delivery attempt number ``attempt`` (1-based).

    ``status`` is the HTTP status, or None for a network error or timeout.
    Returns None when delivered (2xx), :class:`GiveUp` when the answer is final
    or the attempts are used up, otherwise :class:`Retry` with the next time.
    """
    if attempt < 1:
        raise ValueError(f"attempt numbers start at 1, got {attempt}")
    _check_status(status)
    if status is not None and 200 <= status <= 299:
        return None
    if status is not None and 400 <= status <= 499 and status not in _RETRYABLE_4XX:
        return GiveUp(f"HTTP {status} is final")
    if attempt >= policy.max_attempts:
        what = "network error" if status is None else f"HTTP {status}"
        return GiveUp(f"{what} after {attempt} attempts")
    uniform = rng.uniform if rng is not None else random.uniform
    delay = _backoff(attempt, policy) * uniform(1 - policy.jitter, 1 + policy.jitter)
    asked = parse_retry_after(retry_after, now)
    if asked is not None:
        delay = max(delay, min(asked, policy.max_retry_after))
    return Retry(now + delay)


@dataclass(frozen=True)
class HostState:
    """Circuit-breaker state of one remote host (persisted by the caller)."""

    consecutive_failures: int = 0
    open_until: datetime | None = None
    first_failure_at: datetime | None = None
    unavailable: bool = False
    last_probe_at: datetime | None = None


def _cool_off(failures: int, policy: RetryPolicy) -> timedelta:
    exponent = failures - policy.breaker_threshold
    seconds = policy.breaker_base.total_seconds() * 2 ** min(exponent, 32)
    return min(timedelta(seconds=seconds), policy.breaker_max)


def may_attempt(state: HostState, now: datetime, policy: RetryPolicy = DEFAULT) -> bool:
    """Whether a delivery to this host may be attempted at ``now``."""
    if state.unavailable:
        return state.last_probe_at is None or now - state.last_probe_at >= policy.probe_interval
    return state.open_until is None or now >= state.open_until


def on_attempt(state: HostState, now: datetime, policy: RetryPolicy = DEFAULT) -> HostState:
    """Record that an attempt starts; claims the day's probe or the half-open trial.

    Call it when :func:`may_attempt` allowed a delivery, before sending, so that
    concurrent workers do not all send the one permitted probe or trial.  If the
    outcome is never recorded the slot frees itself after the interval.
    """
    if state.unavailable:
        return replace(state, last_probe_at=now)
    if state.consecutive_failures >= policy.breaker_threshold:
        return replace(state, open_until=now + _cool_off(state.consecutive_failures, policy))
    return state


def on_success(state: HostState, now: datetime, policy: RetryPolicy = DEFAULT) -> HostState:
    """The host answered: close the circuit and clear unavailability."""
    return HostState()


def on_activity_received(
    state: HostState, now: datetime, policy: RetryPolicy = DEFAULT
) -> HostState:
    """The host sent us something, so it is up: clear everything."""
    return HostState()


def on_failure(state: HostState, now: datetime, policy: RetryPolicy = DEFAULT) -> HostState:
    """Record a host failure (see :func:`is_host_failure`) observed at ``now``."""
    failures = state.consecutive_failures + 1
    first = state.first_failure_at or now
    open_until = state.open_until
    if failures >= policy.breaker_threshold:
        open_until = now + _cool_off(failures, policy)
    unavailable = state.unavailable or now - first >= policy.unavailable_after
    last_probe_at = state.last_probe_at
    if unavailable:
        last_probe_at = now if last_probe_at is None else max(last_probe_at, now)
    return HostState(
        consecutive_failures=failures,
        open_until=open_until,
        first_failure_at=first,
        unavailable=unavailable,
        last_probe_at=last_probe_at,
    )
