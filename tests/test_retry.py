"""Delivery retry rules and the circuit breaker, with an injected clock and a seeded RNG."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from node import retry
from node.retry import (
    DEFAULT,
    GiveUp,
    HostState,
    Retry,
    RetryPolicy,
    after_attempt,
    is_host_failure,
    may_attempt,
    on_activity_received,
    on_attempt,
    on_failure,
    on_success,
    parse_retry_after,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NO_JITTER = RetryPolicy(jitter=0.0)


def run_schedule(rng: random.Random, policy: RetryPolicy = DEFAULT) -> list[datetime]:
    """Fail every attempt with a 503; return the time of each attempt."""
    times = [T0]
    attempt = 1
    while True:
        outcome = after_attempt(attempt, 503, times[-1], None, rng=rng, policy=policy)
        if isinstance(outcome, GiveUp):
            return times
        assert isinstance(outcome, Retry)
        times.append(outcome.at)
        attempt += 1


def test_schedule_is_monotone_and_spans_about_two_days() -> None:
    for seed in range(20):
        times = run_schedule(random.Random(seed))
        assert len(times) == DEFAULT.max_attempts
        assert all(a < b for a, b in itertools.pairwise(times))
        span = times[-1] - times[0]
        assert timedelta(hours=41) < span < timedelta(hours=57), span


def test_nominal_schedule_matches_the_docstring() -> None:
    waits = retry.schedule()
    assert waits[0] == timedelta(seconds=30)
    assert waits[1] == timedelta(minutes=1)
    assert waits[-1] == timedelta(hours=16)
    assert all(a <= b for a, b in itertools.pairwise(waits))
    assert sum(waits, timedelta()) == timedelta(seconds=176610)  # 49 h 3 min 30 s
    times = run_schedule(random.Random(0), NO_JITTER)
    assert [b - a for a, b in itertools.pairwise(times)] == waits


def test_jitter_stays_within_bounds() -> None:
    rng = random.Random(1234)
    for attempt in range(1, DEFAULT.max_attempts):
        nominal = retry.schedule()[attempt - 1]
        for _ in range(50):
            outcome = after_attempt(attempt, None, T0, None, rng=rng)
            assert isinstance(outcome, Retry)
            delay = outcome.at - T0
            assert nominal * 0.85 <= delay <= nominal * 1.15


def test_jitter_is_reproducible_with_a_seed() -> None:
    assert run_schedule(random.Random(7)) == run_schedule(random.Random(7))
    assert run_schedule(random.Random(7)) != run_schedule(random.Random(8))


def test_default_rng_is_used_when_none_given() -> None:
    outcome = after_attempt(1, 500, T0, None)
    assert isinstance(outcome, Retry)
    assert T0 + timedelta(seconds=25) <= outcome.at <= T0 + timedelta(seconds=35)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_means_delivered(status: int) -> None:
    assert after_attempt(1, status, T0, None) is None
    assert after_attempt(DEFAULT.max_attempts, status, T0, None) is None


@pytest.mark.parametrize("status", [400, 403, 404, 405, 410, 413, 422, 451])
def test_no_retry_on_final_4xx(status: int) -> None:
    outcome = after_attempt(1, status, T0, "60")
    assert isinstance(outcome, GiveUp)
    assert str(status) in outcome.reason


@pytest.mark.parametrize("status", [None, 401, 408, 429, 500, 502, 503, 504, 302])
def test_retry_on_transient_outcomes(status: int | None) -> None:
    outcome = after_attempt(1, status, T0, None, rng=random.Random(0))
    assert isinstance(outcome, Retry)
    assert outcome.at > T0


def test_give_up_after_the_last_attempt() -> None:
    assert isinstance(after_attempt(DEFAULT.max_attempts - 1, 500, T0, None), Retry)
    outcome = after_attempt(DEFAULT.max_attempts, 500, T0, None)
    assert isinstance(outcome, GiveUp)
    assert "14 attempts" in outcome.reason
    outcome = after_attempt(3, None, T0, None, policy=RetryPolicy(max_attempts=3))
    assert isinstance(outcome, GiveUp)
    assert "network error" in outcome.reason


def test_invalid_arguments_are_a_bug() -> None:
    with pytest.raises(ValueError):
        after_attempt(0, 500, T0, None)
    with pytest.raises(ValueError):
        after_attempt(1, 99, T0, None)
    with pytest.raises(ValueError):
        is_host_failure(600)


def test_retry_after_seconds_is_honoured_when_later() -> None:
    outcome = after_attempt(1, 429, T0, "3600", policy=NO_JITTER)
    assert outcome == Retry(T0 + timedelta(hours=1))


def test_retry_after_earlier_than_backoff_is_ignored() -> None:
    # attempt 10 backs off ~4.3 h; a Retry-After of 10 s does not shorten it
    outcome = after_attempt(10, 503, T0, "10", policy=NO_JITTER)
    assert outcome == Retry(T0 + timedelta(seconds=15360))


def test_retry_after_http_date_is_honoured() -> None:
    when = T0 + timedelta(hours=2)
    outcome = after_attempt(2, 503, T0, format_datetime(when, usegmt=True), policy=NO_JITTER)
    assert outcome == Retry(when)


def test_retry_after_is_capped() -> None:
    outcome = after_attempt(1, 429, T0, str(7 * 24 * 3600), policy=NO_JITTER)
    assert outcome == Retry(T0 + timedelta(hours=24))
    far = format_datetime(T0 + timedelta(days=30), usegmt=True)
    outcome = after_attempt(1, 503, T0, far, policy=NO_JITTER)
    assert outcome == Retry(T0 + timedelta(hours=24))


@pytest.mark.parametrize(
    "value", [None, "", "  ", "-5", "0", "1.5", "soon", "Wed, 99 Foo 2025 00:00:00 GMT", "٣"]
)
def test_malformed_or_empty_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, T0) is None
    outcome = after_attempt(1, 503, T0, value, policy=NO_JITTER)
    assert outcome == Retry(T0 + timedelta(seconds=30))


def test_retry_after_in_the_past_is_ignored() -> None:
    past = format_datetime(T0 - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(past, T0) is None


def test_host_failure_classification() -> None:
    assert is_host_failure(None)
    assert is_host_failure(500)
    assert is_host_failure(503)
    assert is_host_failure(429)
    assert is_host_failure(408)
    assert not is_host_failure(404)
    assert not is_host_failure(401)
    assert not is_host_failure(202)


# -- circuit breaker ---------------------------------------------------------


def fail(state: HostState, times: int, now: datetime) -> HostState:
    for _ in range(times):
        state = on_failure(state, now)
    return state


def test_breaker_opens_after_threshold_failures() -> None:
    state = fail(HostState(), 4, T0)
    assert state.consecutive_failures == 4
    assert state.first_failure_at == T0
    assert may_attempt(state, T0)
    state = on_failure(state, T0)
    assert state.open_until == T0 + timedelta(minutes=1)
    assert not may_attempt(state, T0 + timedelta(seconds=59))
    assert may_attempt(state, T0 + timedelta(minutes=1))


def test_breaker_cool_off_grows_up_to_one_hour() -> None:
    state = fail(HostState(), 5, T0)
    cool_offs = []
    now = T0
    for _ in range(10):
        assert state.open_until is not None
        cool_offs.append(state.open_until - now)
        now = state.open_until
        state = on_failure(state, now)
    assert cool_offs[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert all(a <= b for a, b in itertools.pairwise(cool_offs))
    assert cool_offs[-1] == timedelta(hours=1)


def test_breaker_closes_on_success() -> None:
    state = fail(HostState(), 7, T0)
    assert not may_attempt(state, T0)
    state = on_success(state, T0 + timedelta(minutes=5))
    assert state == HostState()
    assert may_attempt(state, T0 + timedelta(minutes=5))


def test_half_open_trial_is_claimed_once() -> None:
    state = fail(HostState(), 5, T0)
    later = T0 + timedelta(minutes=2)
    assert may_attempt(state, later)
    state = on_attempt(state, later)
    assert not may_attempt(state, later), "a second worker must wait for the trial"
    # an unrecorded trial frees the slot after the cool-off
    assert may_attempt(state, later + timedelta(minutes=1))


def test_on_attempt_is_a_no_op_for_a_healthy_host() -> None:
    state = fail(HostState(), 2, T0)
    assert on_attempt(state, T0) == state


def failing_for(duration: timedelta, step: timedelta = timedelta(hours=1)) -> HostState:
    state = HostState()
    now = T0
    while now <= T0 + duration:
        if may_attempt(state, now):
            state = on_failure(on_attempt(state, now), now)
        now += step
    return state


def test_host_failing_for_two_days_becomes_unavailable() -> None:
    assert not failing_for(timedelta(hours=47)).unavailable
    state = failing_for(timedelta(hours=48))
    assert state.unavailable
    assert state.first_failure_at == T0
    assert state.last_probe_at == T0 + timedelta(hours=48)


def test_unavailable_host_gets_one_probe_a_day() -> None:
    state = failing_for(timedelta(hours=48))
    marked = T0 + timedelta(hours=48)
    attempts = []
    now = marked
    end = marked + timedelta(days=3)
    while now < end:
        if may_attempt(state, now):
            attempts.append(now)
            state = on_failure(on_attempt(state, now), now)
        now += timedelta(minutes=10)
    assert attempts == [marked + timedelta(days=d) for d in (1, 2)]
    assert state.unavailable


def test_probe_is_claimed_once() -> None:
    state = failing_for(timedelta(hours=48))
    probe_time = state.last_probe_at + timedelta(days=1)  # type: ignore[operator]
    assert may_attempt(state, probe_time)
    claimed = on_attempt(state, probe_time)
    assert not may_attempt(claimed, probe_time + timedelta(hours=1))


def test_successful_probe_clears_unavailability() -> None:
    state = failing_for(timedelta(hours=72))
    assert state.unavailable
    state = on_success(state, T0 + timedelta(days=4))
    assert not state.unavailable
    assert state.consecutive_failures == 0
    assert may_attempt(state, T0 + timedelta(days=4))


def test_activity_received_clears_unavailability() -> None:
    state = failing_for(timedelta(hours=72))
    now = state.last_probe_at + timedelta(minutes=1)  # type: ignore[operator]
    assert not may_attempt(state, now)
    state = on_activity_received(state, now)
    assert state == HostState()
    assert may_attempt(state, now)


def test_success_restarts_the_two_day_count() -> None:
    state = failing_for(timedelta(hours=40))
    state = on_success(state, T0 + timedelta(hours=41))
    state = fail(state, 1, T0 + timedelta(hours=50))
    assert state.first_failure_at == T0 + timedelta(hours=50)
    assert not state.unavailable
