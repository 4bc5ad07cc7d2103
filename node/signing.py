"""Signing outgoing requests with a local actor's keys, optionally in a worker process."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import Executor
from datetime import datetime
from functools import lru_cache
from typing import Any

from protocol import httpsig, keys

from .storage.actors import LocalActor
from .urls import Urls

__all__ = ["Signer", "exit_with_parent", "sign_many", "sign_with_pem"]


def exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Process-pool initializer: the worker exits once its node is gone (even after kill -9).

    A pool worker holds both ends of its call queue, so it sees no EOF when the node
    dies and would otherwise linger as an orphan after every crash.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="kantine-parent-watch", daemon=True).start()


@lru_cache(maxsize=256)
def _load(pem: str) -> keys.PrivateKey:
    return keys.load_private_pem(pem)


def sign_with_pem(
    pem: str,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    key_id: str,
    now: datetime,
    scheme: str,
) -> dict[str, str]:
    """Picklable signing entry point (for a process pool): the key travels as PEM."""
    return httpsig.sign_request(
        method, url, headers, body, key_id=key_id, key=_load(pem), now=now, scheme=scheme
    )


_BATCH = 32  # signatures per submission to the worker
_MAX_BATCHES_IN_FLIGHT = 2  # one being signed, one queued behind it: the worker never idles


def sign_many(jobs: list[tuple[Any, ...]]) -> list[dict[str, str] | Exception]:
    """Sign several requests in one call (one round trip to the worker process)."""
    out: list[dict[str, str] | Exception] = []
    for job in jobs:
        try:
            out.append(sign_with_pem(*job))
        except Exception as exc:  # one bad request must not fail the others
            out.append(exc)
    return out


class Signer:
    """Signs requests as a local actor: cavage with its RSA key, RFC 9421 with its Ed25519 key."""

    def __init__(self, urls: Urls, executor: Executor | None = None) -> None:
        self.urls = urls
        self.executor = executor
        self._waiting: list[tuple[tuple[Any, ...], asyncio.Future[dict[str, str]]]] = []
        self._in_flight = 0

    def key_for(self, actor: LocalActor, scheme: str) -> tuple[str, str]:
        actor_id = self.urls.actor(actor.path)
        if scheme == "rfc9421":
            return self.urls.ed25519_key_id(actor_id), actor.ed25519_pem
        return self.urls.rsa_key_id(actor_id), actor.rsa_pem

    def sign_now(
        self,
        actor: LocalActor,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        now: datetime,
        scheme: str = "cavage",
    ) -> dict[str, str]:
        key_id, pem = self.key_for(actor, scheme)
        return sign_with_pem(pem, method, url, headers, body, key_id, now, scheme)

    async def sign(
        self,
        actor: LocalActor,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        now: datetime,
        scheme: str = "cavage",
    ) -> dict[str, str]:
        """Sign, in the executor when one is configured (RSA signing is the fan-out ceiling;
        RFC 9421 signing costs the event loop ~0.3 ms of Python, so it goes there too).

        Requests made while the worker is busy are sent to it together, in one
        submission, so the cost of a round trip is shared by the whole batch.
        """
        if self.executor is None:
            return self.sign_now(actor, method, url, headers, body, now=now, scheme=scheme)
        key_id, pem = self.key_for(actor, scheme)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, str]] = loop.create_future()
        self._waiting.append(((pem, method, url, headers, body, key_id, now, scheme), future))
        if self._in_flight < _MAX_BATCHES_IN_FLIGHT:
            self._submit(loop)
        return await future

    def warm(self) -> None:
        """Start the worker process now (spawn takes a second) rather than at the first POST."""
        if self.executor is not None:
            self.executor.submit(sign_many, [])

    def _submit(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._waiting = self._waiting[:_BATCH], self._waiting[_BATCH:]
        if not batch:
            return
        assert self.executor is not None
        self._in_flight += 1
        done = loop.run_in_executor(self.executor, sign_many, [args for args, _ in batch])

        def settle(result: asyncio.Future[list[dict[str, str] | Exception]]) -> None:
            self._in_flight -= 1
            if result.cancelled() or result.exception() is not None:
                error = result.exception() if not result.cancelled() else asyncio.CancelledError()
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(error)  # type: ignore[arg-type]
            else:
                for (_, fut), value in zip(batch, result.result(), strict=True):
                    if fut.done():
                        continue
                    if isinstance(value, Exception):
                        fut.set_exception(value)
                    else:
                        fut.set_result(value)
            if self._waiting and self._in_flight < _MAX_BATCHES_IN_FLIGHT:
                self._submit(loop)

        done.add_done_callback(settle)
