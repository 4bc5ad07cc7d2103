"""Signing outgoing requests with a local actor's keys."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from protocol import httpsig, keys

from .storage.actors import LocalActor
from .urls import Urls

__all__ = ["Signer", "sign_with_pem"]


@lru_cache(maxsize=256)
def _load(pem: str) -> keys.PrivateKey:
    # Our own keys, generated here and read from our database: the ~50 ms RSA consistency
    # check would only delay each sender's first delivery of an actor.
    return keys.load_private_pem(pem, validate=False)


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
    """Sign with a key given as PEM (what the delivery sender process receives); keys are
    loaded once."""
    return httpsig.sign_request(
        method, url, headers, body, key_id=key_id, key=_load(pem), now=now, scheme=scheme
    )


class Signer:
    """Signs requests as a local actor: cavage with its RSA key, RFC 9421 with its Ed25519 key.

    Deliveries are signed by the delivery sender process when there is one
    (:mod:`node.sender`); what is signed here is the rest (GETs, and deliveries made
    in-process).
    """

    def __init__(self, urls: Urls) -> None:
        self.urls = urls

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
