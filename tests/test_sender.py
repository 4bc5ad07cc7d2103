"""The delivery sender: a real child process signs and POSTs to real servers on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from node.sender import DeliverySender, DeliverySenders, SenderStopped
from peers import independent_verify_cavage
from protocol import httpsig

ServerFactory = Callable[..., Awaitable[TestServer]]

BODY = b'{"type":"Create","id":"https://a.example/1"}'
HEADERS = {"Content-Type": "application/activity+json", "User-Agent": "Kantine-test"}


def _pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _job(url: str, *, pem: str | None = None, scheme: str = "rfc9421", key_id: str = "k") -> dict:
    """The keyword arguments of one ``post``: an Ed25519 key unless ``pem`` is given."""
    return {
        "pem": pem if pem is not None else _pem(ed25519.Ed25519PrivateKey.generate()),
        "key_id": key_id,
        "scheme": scheme,
        "url": url,
        "body": BODY,
        "headers": HEADERS,
        "now": datetime.now(UTC),
    }


@pytest.fixture
async def sender() -> AsyncIterator[DeliverySender]:
    started = await DeliverySender.start(allow_private=True, timeout=2.0, idle_per_host=2)
    try:
        yield started
    finally:
        await started.close()


async def _inbox(
    aiohttp_server: ServerFactory, status: int = 202, headers: dict[str, str] | None = None
) -> tuple[TestServer, list[tuple[Any, bytes, str]]]:
    got: list[tuple[Any, bytes, str]] = []

    async def inbox(request: web.Request) -> web.Response:
        got.append((request.headers.copy(), await request.read(), request.path_qs))
        return web.Response(status=status, headers=headers)

    app = web.Application()
    app.router.add_post("/inbox", inbox)
    return await aiohttp_server(app, host="127.0.0.1"), got


async def test_cavage_delivery_is_signed_and_answered(
    sender: DeliverySender, aiohttp_server: ServerFactory
) -> None:
    server, got = await _inbox(aiohttp_server)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    url = str(server.make_url("/inbox"))
    outcome = await sender.post(
        **_job(url, pem=_pem(key), scheme="cavage", key_id="https://a.example/u#main-key")
    )
    assert outcome == (202, None, None)
    [(headers, body, path)] = got
    assert body == BODY
    assert headers["User-Agent"] == "Kantine-test"
    key_id = independent_verify_cavage("POST", path, headers, body, _public_pem(key))
    assert key_id == "https://a.example/u#main-key"
    assert sender._process is not None and sender._process.pid != os.getpid()


async def test_rfc9421_delivery_verifies(
    sender: DeliverySender, aiohttp_server: ServerFactory
) -> None:
    server, got = await _inbox(aiohttp_server)
    key = ed25519.Ed25519PrivateKey.generate()
    url = str(server.make_url("/inbox"))
    now = datetime.now(UTC)
    outcome = await sender.post(
        **_job(url, pem=_pem(key), key_id="https://a.example/u#ed25519-key") | {"now": now}
    )
    assert outcome == (202, None, None)
    [(headers, body, _)] = got
    signed = httpsig.parse_signature("POST", url, headers, body)
    assert signed.scheme == "rfc9421"
    assert "content-digest" in signed.covered
    httpsig.verify_signature(signed, key.public_key(), now=now)
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    with pytest.raises(httpsig.SignatureError):
        httpsig.verify_signature(signed, other, now=now)


async def test_status_and_retry_after_come_back(
    sender: DeliverySender, aiohttp_server: ServerFactory
) -> None:
    server, _ = await _inbox(aiohttp_server, status=429, headers={"Retry-After": "120"})
    key = ed25519.Ed25519PrivateKey.generate()
    outcome = await sender.post(**_job(str(server.make_url("/inbox")), pem=_pem(key)))
    assert outcome == (429, "120", None)


async def test_many_jobs_each_get_their_own_outcome(
    sender: DeliverySender, aiohttp_server: ServerFactory, unused_tcp_port_factory: Any
) -> None:
    ok, got = await _inbox(aiohttp_server, status=202)
    gone, _ = await _inbox(aiohttp_server, status=410)
    closed = unused_tcp_port_factory()  # nothing listens there
    key = ed25519.Ed25519PrivateKey.generate()
    urls = [str(ok.make_url("/inbox")), str(gone.make_url("/inbox"))] * 10
    urls.append(f"http://127.0.0.1:{closed}/inbox")
    outcomes = await asyncio.gather(*(sender.post(**_job(url, pem=_pem(key))) for url in urls))
    assert [o[0] for o in outcomes[:20]] == [202, 410] * 10
    status, retry_after, error = outcomes[20]
    assert status is None and retry_after is None
    assert error is not None and error.startswith(("ConnectionRefusedError", "OSError"))
    assert len(got) == 10


async def test_private_addresses_are_refused_without_dev(aiohttp_server: ServerFactory) -> None:
    server, got = await _inbox(aiohttp_server)
    strict = await DeliverySender.start(allow_private=False, timeout=2.0, idle_per_host=2)
    try:
        status, _, error = await strict.post(**_job(str(server.make_url("/inbox"))))
    finally:
        await strict.close()
    assert status is None
    assert error is not None and error.startswith("UnsafeAddressError")
    assert got == []


async def test_a_bad_key_fails_that_job_only(
    sender: DeliverySender, aiohttp_server: ServerFactory
) -> None:
    server, got = await _inbox(aiohttp_server)
    url = str(server.make_url("/inbox"))
    bad, good = await asyncio.gather(
        sender.post(**_job(url, pem="not a key", scheme="cavage")),
        sender.post(**_job(url)),
    )
    assert bad[0] is None and bad[2] is not None and bad[2].startswith("signing failed")
    assert good == (202, None, None)
    assert len(got) == 1


async def test_a_dead_child_fails_what_is_in_flight_and_turns_off(
    aiohttp_server: ServerFactory,
) -> None:
    started = await DeliverySender.start(allow_private=True, timeout=5.0, idle_per_host=2)
    hang = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await hang.wait()
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/inbox", slow)
    server = await aiohttp_server(app, host="127.0.0.1")
    try:
        pending = asyncio.ensure_future(started.post(**_job(str(server.make_url("/inbox")))))
        await asyncio.sleep(0.5)  # the job is with the child now
        assert started._process is not None
        os.kill(started._process.pid, signal.SIGKILL)
        with pytest.raises(SenderStopped):
            await asyncio.wait_for(pending, 5)
        assert started.alive is False
        with pytest.raises(SenderStopped):
            await started.post(**_job("http://127.0.0.1/", pem="x"))
    finally:
        hang.set()
        await started.close()


async def test_the_child_exits_when_the_node_closes_it() -> None:
    started = await DeliverySender.start(allow_private=True, timeout=1.0, idle_per_host=1)
    process = started._process
    assert process is not None
    await started.close()
    assert process.returncode is not None  # gone, not orphaned


async def test_senders_keep_a_host_on_one_child_and_survive_one_dying(
    aiohttp_server: ServerFactory,
) -> None:
    server, got = await _inbox(aiohttp_server)
    url = str(server.make_url("/inbox"))
    pool = await DeliverySenders.start(2, allow_private=True, timeout=2.0, idle_per_host=2)
    key = _pem(ed25519.Ed25519PrivateKey.generate())

    async def post() -> tuple[int | None, str | None, str | None]:
        return await pool.post(**_job(url, pem=key))

    try:
        await pool.ready()
        assert [await post() for _ in range(3)] == [(202, None, None)] * 3
        assert sorted(s.posted for s in pool.senders) == [0, 3]  # one child has the host
        used = [s for s in pool.senders if s.posted]
        assert used[0]._process is not None
        os.kill(used[0]._process.pid, signal.SIGKILL)
        await asyncio.wait_for(used[0]._reader_task, 5)  # type: ignore[arg-type]
        assert used[0].alive is False and pool.alive
        assert await post() == (202, None, None)  # the other child takes the host
        assert len(got) == 4
    finally:
        await pool.close()


async def test_a_child_that_stops_answering_is_retired(aiohttp_server: ServerFactory) -> None:
    server, got = await _inbox(aiohttp_server)
    started = await DeliverySender.start(
        allow_private=True, timeout=0.3, idle_per_host=1, grace=0.3
    )
    try:
        await started.ready()
        assert started._process is not None
        os.kill(started._process.pid, signal.SIGSTOP)  # stuck: alive, but silent
        with pytest.raises(SenderStopped):
            await asyncio.wait_for(started.post(**_job(str(server.make_url("/inbox")))), 5)
        assert started.alive is False
        await asyncio.wait_for(started._process.wait(), 5)  # killed, not left stopped
        assert got == []
    finally:
        await started.close()


async def test_a_signal_to_the_service_does_not_cut_the_child_short(
    sender: DeliverySender, aiohttp_server: ServerFactory
) -> None:
    """SIGINT/SIGTERM to every process (a Ctrl-C, systemd's stop): the child carries on
    until the node, done with its own work, closes the socket."""
    server, got = await _inbox(aiohttp_server)
    await sender.ready()
    assert sender._process is not None
    os.kill(sender._process.pid, signal.SIGINT)
    os.kill(sender._process.pid, signal.SIGTERM)
    await asyncio.sleep(0.2)
    assert await sender.post(**_job(str(server.make_url("/inbox")))) == (202, None, None)
    assert sender.alive and len(got) == 1
