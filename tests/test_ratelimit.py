"""Rate limits: token buckets on an injected clock, and a real node under a burst from one host.

A burst from one remote host is answered 429 with Retry-After while another host's
POSTs are still accepted (DESIGN, Policy: rate limits per remote host).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from node.appkeys import LIMITERS
from node.ratelimit import RateLimiter, retry_after_header
from nodes import start_node
from peers import FakeActor, FakePeer

# -- the bucket, pure ------------------------------------------------------------------------


def test_bucket_allows_a_burst_then_refills_at_its_rate() -> None:
    limiter = RateLimiter(per_minute=60, burst=5)  # one token a second, five at once
    assert [limiter.take("a", now=100.0) for _ in range(5)] == [None] * 5
    wait = limiter.take("a", now=100.0)
    assert wait == pytest.approx(1.0)
    assert retry_after_header(wait) == "1"
    assert limiter.take("a", now=100.5) == pytest.approx(0.5)  # half a token came back
    assert limiter.take("a", now=101.0) is None
    assert limiter.take("a", now=101.0) is not None
    # A quiet key fills up to its burst, no further.
    assert [limiter.take("a", now=1000.0) for _ in range(6)].count(None) == 5


def test_keys_are_independent_and_memory_is_bounded() -> None:
    limiter = RateLimiter(per_minute=60, burst=1, max_keys=3)
    assert limiter.take("noisy", now=0.0) is None
    assert limiter.take("noisy", now=0.0) is not None
    assert limiter.take("quiet", now=0.0) is None  # another key has its own bucket
    for i in range(10):
        limiter.take(f"k{i}", now=0.0)
    assert len(limiter) == 3  # least recently used keys are dropped


def test_a_clock_going_back_refills_nothing_and_zero_disables() -> None:
    limiter = RateLimiter(per_minute=60, burst=1)
    assert limiter.take("a", now=50.0) is None
    assert limiter.take("a", now=10.0) is not None
    off = RateLimiter(per_minute=0)
    assert not off.enabled
    assert all(off.take("a", now=0.0) is None for _ in range(1000))


def test_default_burst_is_fifteen_seconds_of_the_rate_and_at_least_five() -> None:
    assert RateLimiter(per_minute=120).capacity == 30
    assert RateLimiter(per_minute=10).capacity == 5  # sign-in: a few tries at once
    assert RateLimiter(per_minute=2).capacity == 2  # never more than a minute's worth
    assert RateLimiter(per_minute=0.5).capacity == 1  # never less than one request


# -- a real node ---------------------------------------------------------------------------


async def _post(actor: FakeActor, url: str, activity: dict[str, Any]) -> tuple[int, Any]:
    body = msgspec.json.encode(activity)
    headers = actor.sign("POST", url, body)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as resp,
    ):
        await resp.read()
        return resp.status, resp.headers.get("Retry-After")


async def test_a_burst_from_one_host_is_limited_while_another_host_gets_through(
    tmp_path: Path,
) -> None:
    # 60 a minute per host: a burst of 15; the test's clock stands still, so the counts are exact.
    node = await start_node(
        tmp_path,
        "Zwolle",
        host="127.0.0.80",
        limits={"inbox_per_host_per_minute": 60, "inbox_per_ip_per_minute": 100_000},
    )
    node.app[LIMITERS].clock = lambda: 5000.0
    abuser = await FakePeer("127.0.0.81").start()
    good = await FakePeer("127.0.0.82").start()
    try:
        spam, alice = abuser.actor("spam"), good.actor("alice")
        inbox = node.url + "/inbox"
        results = await asyncio.gather(
            *(_post(spam, inbox, abuser.activity(spam, "Like", node.network_id)) for _ in range(40))
        )
        statuses = [s for s, _ in results]
        assert statuses.count(202) == 15
        assert statuses.count(429) == 25
        assert all(int(r) >= 1 for s, r in results if s == 429)
        # The refused ones cost no fetch (the limit applies before the key is looked up).
        assert abuser.fetches.count("/users/spam") <= 2

        # Meanwhile the other host is welcome: every one of its POSTs is accepted.
        for _ in range(10):
            status, _ = await _post(alice, inbox, good.activity(alice, "Like", node.network_id))
            assert status == 202
        # The abuser's host stays limited (its bucket is empty), not the node as a whole.
        status, retry_after = await _post(
            spam, inbox, abuser.activity(spam, "Like", node.network_id)
        )
        assert (status, retry_after) == (429, "1")
        # A minute later (on the limiter's clock) it may send again.
        node.app[LIMITERS].clock = lambda: 5060.0
        status, _ = await _post(spam, inbox, abuser.activity(spam, "Like", node.network_id))
        assert status == 202
        row = await node.rt.db.fetchone(
            "SELECT count(*) AS n FROM inbox WHERE host = ?", (f"{abuser.host}:{abuser.port}",)
        )
        assert row["n"] == 16
    finally:
        await abuser.stop()
        await good.stop()
        await node.stop()


async def test_inbox_api_and_sign_in_are_limited_per_client_address(tmp_path: Path) -> None:
    node = await start_node(
        tmp_path,
        "Deventer",
        host="127.0.0.83",
        limits={
            "inbox_per_ip_per_minute": 12,  # a burst of 5 (the minimum)
            "api_per_ip_per_minute": 40,  # a burst of 10
            "signin_per_ip_per_minute": 10,  # a burst of 5
        },
    )
    node.app[LIMITERS].clock = lambda: 0.0
    try:
        async with aiohttp.ClientSession() as session:
            inbox = []
            for _ in range(7):  # not even JSON: refused 415, but each one counts first
                async with session.post(node.url + "/inbox", data=b"{}") as resp:
                    inbox.append(resp.status)
            assert inbox == [415] * 5 + [429] * 2

            api = []
            for _ in range(12):
                async with session.get(node.url + "/api/v1/admin/blocks") as resp:
                    api.append(resp.status)
                    if resp.status == 429:
                        assert resp.headers["Retry-After"] == "2"  # 1.5 s, rounded up
                        assert "rate limit" in (await resp.json())["error"]
            assert api == [401] * 10 + [429] * 2

            signin = []
            for _ in range(7):
                async with session.post(node.url + "/api/v1/login", data=b"") as resp:
                    signin.append(resp.status)
            assert signin == [404] * 5 + [429] * 2

            # What is not limited stays open: discovery and the actor documents.
            async with session.get(node.url + "/.well-known/nodeinfo") as resp:
                assert resp.status == 200
    finally:
        await node.stop()
