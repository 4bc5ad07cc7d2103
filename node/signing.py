"""Signing outgoing requests with a local actor's keys, optionally in a worker process."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import Executor
from datetime import datetime
from functools import lru_cache

from protocol import httpsig, keys

from .storage.actors import LocalActor
from .urls import Urls

__all__ = ["Signer", "exit_with_parent", "sign_with_pem"]


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


class Signer:
    """Signs requests as a local actor: cavage with its RSA key, RFC 9421 with its Ed25519 key."""

    def __init__(self, urls: Urls, executor: Executor | None = None) -> None:
        self.urls = urls
        self.executor = executor

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
        """Sign, in the executor when one is configured (RSA signing is the fan-out ceiling)."""
        if self.executor is None or scheme != "cavage":
            return self.sign_now(actor, method, url, headers, body, now=now, scheme=scheme)
        key_id, pem = self.key_for(actor, scheme)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.executor, sign_with_pem, pem, method, url, headers, body, key_id, now, scheme
        )
