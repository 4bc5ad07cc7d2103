"""Every local URI the node writes is built here, from the configured base URL."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

__all__ = ["Urls"]


class Urls:
    """Builds the node's IRIs; the only place that knows the URL layout."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.host = urlsplit(self.base).netloc.lower()
        #: is_local's answers for other spellings (the IRIs activities name repeat: Public,
        #: followers collections); bounded, cleared when full.
        self._foreign: dict[str, bool] = {}

    # actors
    def actor(self, path: str) -> str:
        return self.base + path

    def network(self) -> str:
        return self.base + "/network"

    def instance(self) -> str:
        return self.base + "/actor"

    def member(self, username: str) -> str:
        return f"{self.base}/members/{username}"

    def project(self, slug: str) -> str:
        return f"{self.base}/projects/{slug}"

    @staticmethod
    def rsa_key_id(actor_id: str) -> str:
        return actor_id + "#main-key"

    @staticmethod
    def ed25519_key_id(actor_id: str) -> str:
        return actor_id + "#ed25519-key"

    # endpoints
    def shared_inbox(self) -> str:
        return self.base + "/inbox"

    @staticmethod
    def inbox(actor_id: str) -> str:
        return actor_id + "/inbox"

    @staticmethod
    def outbox(actor_id: str) -> str:
        return actor_id + "/outbox"

    @staticmethod
    def followers(actor_id: str) -> str:
        return actor_id + "/followers"

    @staticmethod
    def following(actor_id: str) -> str:
        return actor_id + "/following"

    def cooperative(self) -> str:
        return self.network() + "/cooperative"

    # content
    def new_activity(self) -> str:
        return f"{self.base}/activities/{uuid.uuid4()}"

    def activity(self, ident: str) -> str:
        return f"{self.base}/activities/{ident}"

    def object(self, kind: str, ident: str) -> str:
        return f"{self.base}/{kind}/{ident}"

    def is_local(self, iri: str) -> bool:
        # base + "/...": the authority ends at that "/", so it is ours as spelt (the common
        # case, without a parse); other spellings (case, "?", "#") take the parse.
        if iri.startswith(self.base) and iri[len(self.base) : len(self.base) + 1] == "/":
            return True
        known = self._foreign.get(iri)
        if known is None:
            parts = urlsplit(iri)
            known = f"{parts.scheme}://{parts.netloc.lower()}" == self.base
            if len(iri) <= 512:  # bounded: 4096 short IRIs at most
                if len(self._foreign) >= 4096:
                    self._foreign.clear()
                self._foreign[iri] = known
        return known

    def local_path(self, iri: str) -> str | None:
        """The path of a local IRI (without fragment), or None if not ours."""
        if not self.is_local(iri):
            return None
        return urlsplit(iri).path or "/"
