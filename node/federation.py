"""The node's federation core: remote actors and keys, publishing, and the inbox's checks.

One ``Federation`` is built by the app (and by CLI commands that talk to the
network); it owns nothing it did not get from its caller.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from functools import lru_cache
from typing import Any

import msgspec

from protocol import httpsig, keys, proofs, validation, vocab, wire
from protocol.errors import OwnershipError, ProofError, RemoteProtocolError, SignatureError

from .clock import Clock, from_iso, iso
from .config import Settings
from .fetcher import Fetcher, FetchError
from .metrics import Metrics
from .policy import host_allowed
from .signing import Signer
from .storage import actors as actors_db
from .storage import deliveries as q
from .storage import follows as follows_db
from .storage import hosts as hosts_db
from .storage import outbox as outbox_db
from .storage import remote as remote_db
from .storage.actors import LocalActor
from .storage.db import Database
from .urls import Urls

__all__ = ["Federation", "Target"]

log = logging.getLogger("kantine.federation")

Target = tuple[str, str]  # (inbox url, host)


class Federation:
    """Remote actors and keys (cached), publishing to followers, verifying senders."""

    def __init__(
        self,
        *,
        settings: Settings,
        urls: Urls,
        db: Database,
        clock: Clock,
        metrics: Metrics,
        signer: Signer,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.settings, self.urls, self.db, self.clock = settings, urls, db, clock
        self.metrics, self.signer = metrics, signer
        self.fetcher = fetcher
        self.on_publish: list[Any] = []  # callables woken after a publish (the delivery worker)
        self._instance: LocalActor | None = None
        self._key_fetches: dict[str, asyncio.Future[None]] = {}
        # key id -> (key, owner, remote_db.deletions when read, monotonic expiry)
        self._keys: dict[str, tuple[keys.PublicKey, str, int, float]] = {}
        self.policy = httpsig.VerifyPolicy(
            min_rsa_bits=settings.limits.min_rsa_bits,
            clock_skew=timedelta(seconds=settings.limits.date_skew_seconds),
        )

    # -- local actors -----------------------------------------------------------

    async def instance_actor(self) -> LocalActor:
        if self._instance is None:
            found = await actors_db.get_local(self.db, "relay")
            if found is None:
                raise RuntimeError("the node has no instance actor; was `kantine init` run?")
            self._instance = found
        return self._instance

    async def reload_instance(self) -> LocalActor:
        """Read the instance actor again (its keys were rotated, perhaps by another process)."""
        self._instance = None
        return await self.instance_actor()

    def sign_get(self, method: str, url: str, headers: Any) -> dict[str, str]:
        """The fetcher's signer: GETs are signed by the instance actor (cavage rsa-sha256)."""
        if self._instance is None:
            return {}
        return self.signer.sign_now(
            self._instance, method, url, dict(headers), None, now=self.clock()
        )

    def actor_id(self, actor: LocalActor) -> str:
        return self.urls.actor(actor.path)

    async def local_by_iri(self, iri: str) -> LocalActor | None:
        path = self.urls.local_path(iri)
        if path is None:
            return None
        found = await actors_db.get_by_path(self.db, path)
        return found if found is not None and found.deleted_at is None else None

    # -- remote actors and keys ------------------------------------------------

    def _fresh(self, fetched_at: str) -> bool:
        age = self.clock() - from_iso(fetched_at)
        return age < timedelta(seconds=self.settings.limits.key_cache_seconds)

    def _need_fetcher(self) -> Fetcher:
        if self.fetcher is None:
            raise RuntimeError("this Federation has no fetcher")
        return self.fetcher

    async def remote_actor(self, actor_id: str, *, refresh: bool = False) -> remote_db.RemoteActor:
        """The remote actor, from the cache or fetched (and cached with its keys)."""
        if not refresh:
            cached = await remote_db.get_actor(self.db, actor_id)
            if cached is not None and self._fresh(cached.fetched_at):
                return cached
        result = await self._need_fetcher().fetch_json(actor_id)
        actor = wire.parse_actor(result.body)
        if actor.id != actor_id:
            raise OwnershipError(f"fetched {actor_id} but the document's id is {actor.id}")
        if not validation.same_origin(actor.id, result.url):
            raise OwnershipError(f"actor {actor.id} was served from another origin ({result.url})")
        return await self._store_actor(actor, result.body)

    async def _store_actor(self, actor: wire.Actor, raw: bytes) -> remote_db.RemoteActor:
        now = iso(self.clock())
        if not actor.inbox:
            raise RemoteProtocolError(f"actor {actor.id} has no inbox")
        row = remote_db.RemoteActor(
            id=actor.id,
            host=validation.host_of(actor.id),
            type=actor.types[0],
            inbox=actor.inbox,
            shared_inbox=actor.shared_inbox(),
            rfc9421=actor.supports_rfc9421(),
            raw=raw,
            fetched_at=now,
        )
        found_keys = _actor_keys(actor, self.settings.limits.min_rsa_bits)

        def write(conn):  # type: ignore[no-untyped-def]
            remote_db.save_actor(conn, row)
            for key_id, kind, pem in found_keys:
                remote_db.save_key(conn, remote_db.RemoteKey(key_id, actor.id, kind, pem, now))

        await self.db.write(write)
        self._forget_keys(actor.id)
        for key_id, _, _ in found_keys:
            self._keys.pop(key_id, None)
        return row

    async def public_key(self, key_id: str, *, refresh: bool = False) -> tuple[keys.PublicKey, str]:
        """The key and its owner (actor id), cached; fetched from the key's actor otherwise."""
        if not refresh:
            # The inbox asks for every request: answer from memory when we can.
            hit = self._keys.get(key_id)
            if hit is not None and hit[2] == remote_db.deletions and time.monotonic() < hit[3]:
                return hit[0], hit[1]
            generation = remote_db.deletions
            cached = await remote_db.get_key(self.db, key_id)
            if cached is not None and self._fresh(cached.fetched_at):
                key = _load_public(cached.pem)
                self._remember(key_id, key, cached.owner, cached.fetched_at, generation)
                return key, cached.owner
        document_url = key_id.split("#", 1)[0]
        # One fetch per document at a time: a burst of first requests from a new
        # actor waits for the same fetch instead of fetching it once per request.
        pending = self._key_fetches.get(document_url)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch_key_document(key_id, document_url))
            self._key_fetches[document_url] = pending
            pending.add_done_callback(lambda _: self._key_fetches.pop(document_url, None))
        await asyncio.shield(pending)
        cached = await remote_db.get_key(self.db, key_id)
        if cached is None:
            raise SignatureError(f"key {key_id} is not published by its actor")
        return _load_public(cached.pem), cached.owner

    def _remember(
        self, key_id: str, key: keys.PublicKey, owner: str, fetched_at: str, generation: int
    ) -> None:
        """Hold a key in memory until its cache age runs out (at most ``_KEY_MEMORY`` s).

        Dropped when its actor is stored again (update, rotation) and, all at once,
        when any remote actor is deleted in this process (``remote_db.deletions``).
        """
        age = (self.clock() - from_iso(fetched_at)).total_seconds()
        left = min(_KEY_MEMORY, self.settings.limits.key_cache_seconds - age)
        if left <= 0:
            return
        if len(self._keys) >= _KEY_MEMORY_ENTRIES:
            self._keys.clear()
        self._keys[key_id] = (key, owner, generation, time.monotonic() + left)

    def _forget_keys(self, actor_id: str) -> None:
        for key_id in [k for k, v in self._keys.items() if v[1] == actor_id]:
            del self._keys[key_id]

    async def _fetch_key_document(self, key_id: str, document_url: str) -> None:
        result = await self._need_fetcher().fetch_json(document_url)
        data = _json_object(result.body)
        if not vocab.ACTOR_TYPES.isdisjoint(wire.type_names(data.get("type"))):
            actor = wire.parse_actor(result.body)
            if not validation.same_origin(actor.id, result.url):
                raise OwnershipError(f"key document {document_url} served from another origin")
            await self._store_actor(actor, result.body)
        else:
            # A standalone key document: {id, owner, publicKeyPem}; its owner must list it.
            owner = data.get("owner")
            if not isinstance(owner, str):
                raise SignatureError(f"{key_id} is neither an actor nor a key with an owner")
            stored = await self.remote_actor(owner, refresh=True)
            del stored

    # -- incoming requests -------------------------------------------------------

    async def verify_request(
        self,
        method: str,
        url: str,
        headers: Any,
        body: bytes | None,
        *,
        signed: httpsig.SignedRequest | None = None,
    ) -> tuple[str, str]:
        """Verify a signed request; return ``(key_id, owner)``.

        What needs no key is checked first; a failing cached key is fetched again
        once (key rotation). ``signed`` is the request's signature if the caller
        already parsed it (from the same method, url, headers and body).
        """
        now = self.clock()
        if signed is None:
            signed = httpsig.parse_signature(method, url, headers, body)
        httpsig.check_signature(signed, now=now, policy=self.policy)
        try:
            key, owner = await self.public_key(signed.key_id)
        except FetchError as exc:
            raise SignatureError(
                f"could not fetch the signer's key {signed.key_id}: {exc.reason}"
            ) from exc
        try:
            httpsig.verify_signature(signed, key, now=now, policy=self.policy)
        except SignatureError:
            try:
                key, owner = await self.public_key(signed.key_id, refresh=True)
            except FetchError as exc:
                raise SignatureError(
                    f"signature does not verify and the key could not be refetched: {exc.reason}"
                ) from exc
            httpsig.verify_signature(signed, key, now=now, policy=self.policy)
        return signed.key_id, owner

    async def verify_proof(self, document: dict[str, Any]) -> str:
        """Verify an FEP-8b32 proof against its author's published key; return the owner."""
        method = proofs.proof_verification_method(document)
        controller = proofs.verification_method_controller(method)
        proofs.check_proof_owner(document, controller)
        try:
            key, owner = await self.public_key(method)
        except FetchError as exc:
            raise SignatureError(f"could not fetch proof key {method}: {exc.reason}") from exc
        try:
            proofs.verify_proof(document, _proof_key(method, key, owner, controller))
        except (ProofError, SignatureError, OwnershipError):
            # The key may have been rotated since we cached it: fetch it once more.
            try:
                key, owner = await self.public_key(method, refresh=True)
            except FetchError as exc:
                raise SignatureError(
                    f"proof does not verify and its key could not be refetched: {exc.reason}"
                ) from exc
            proofs.verify_proof(document, _proof_key(method, key, owner, controller))
        return owner

    # -- publishing ---------------------------------------------------------------

    def sign_document(self, actor: LocalActor, document: dict[str, Any]) -> dict[str, Any]:
        """Add the actor's FEP-8b32 proof (eddsa-jcs-2022) to a document."""
        return proofs.create_proof(
            document,
            key=actor.ed25519_key,  # type: ignore[arg-type]
            verification_method=self.urls.ed25519_key_id(self.actor_id(actor)),
            created=self.clock(),
        )

    async def publish(
        self,
        actor: LocalActor,
        activity: dict[str, Any],
        *,
        to_followers: bool = True,
        targets: list[Target] = (),  # type: ignore[assignment]
        public: bool = True,
        object_id: str | None = None,
        exclude_hosts: set[str] | None = None,
        body: bytes | None = None,
    ) -> tuple[str, int]:
        """Sign (unless already signed), store in the outbox and queue delivery.

        ``body``, when given, is the exact serialisation of ``activity`` to store and send
        (a relay that embeds another server's bytes unchanged). Returns ``(activity id,
        deliveries queued)``.
        """
        if body is None:
            signed = activity if "proof" in activity else self.sign_document(actor, activity)
            body = msgspec.json.encode(signed)
        everyone: dict[str, str] = {}
        if to_followers:
            for url, host in await follows_db.delivery_targets(self.db, actor.username):
                everyone[url] = host
        for url, host in targets:
            everyone[url] = host
        # A blocked host gets nothing: not as a follower, nor as an explicit target;
        # in allowlist mode, neither does a host that is not listed.
        skip = {self.urls.host} | (exclude_hosts or set()) | await hosts_db.blocked_hosts(self.db)
        refused = {
            h
            for h in set(everyone.values()) - skip
            if not await host_allowed(self.db, self.settings, h)
        }
        if refused:
            log.info("not delivering %s to %s: refused by policy", activity["id"], sorted(refused))
        chosen = [(url, host) for url, host in everyone.items() if host not in skip | refused]
        now = iso(self.clock())
        kind = str(activity["type"])
        deleted = object_id if kind == "Delete" else None

        raw = body

        def write(conn):  # type: ignore[no-untyped-def]
            seq = outbox_db.insert(
                conn,
                activity_id=activity["id"],
                actor=actor.username,
                type=kind,
                object_id=object_id,
                public=public,
                raw=raw,
                now=now,
            )
            if deleted:
                q.cancel_for_object(conn, deleted, seq, now)
            return q.enqueue(conn, seq, chosen, object_id, now)

        queued = await self.db.write(write)
        for wake in self.on_publish:
            wake()
        return activity["id"], queued


_KEY_MEMORY = 600.0  # seconds a verified-fresh key is held in memory at most
_KEY_MEMORY_ENTRIES = 4096


@lru_cache(maxsize=1024)
def _load_public(pem: str) -> keys.PublicKey:
    """Parse a cached key's PEM once (keys are immutable; the cache is keyed by the PEM itself)."""
    return keys.load_public_pem(pem, min_rsa_bits=1024)


def _proof_key(
    method: str, key: keys.PublicKey, owner: str, controller: str
) -> keys.ed25519.Ed25519PublicKey:
    """The proof's key, if it is the controller's and an Ed25519 key."""
    if owner != controller:
        raise OwnershipError(f"proof key {method} belongs to {owner}, not {controller}")
    if not isinstance(key, keys.ed25519.Ed25519PublicKey):
        raise SignatureError(f"proof key {method} is not an Ed25519 key")
    return key


def _actor_keys(actor: wire.Actor, min_rsa_bits: int) -> list[tuple[str, str, str]]:
    """``(key_id, kind, spki_pem)`` for each usable key an actor publishes."""
    found = []
    for key_id, pem in ((k.id, k.pem) for k in actor.public_keys()):
        try:
            public = keys.load_public_pem(pem, min_rsa_bits=1024)
        except RemoteProtocolError as exc:
            log.info("actor %s publishes an unusable key %s: %s", actor.id, key_id, exc.reason)
            continue
        found.append((key_id, keys.key_kind(public), keys.dump_public_pem(public)))
    for key_id, multibase in ((k.id, k.multibase) for k in actor.multikeys()):
        try:
            public = keys.decode_multikey(multibase)
        except RemoteProtocolError as exc:
            log.info("actor %s publishes an unusable Multikey %s: %s", actor.id, key_id, exc.reason)
            continue
        found.append((key_id, keys.key_kind(public), keys.dump_public_pem(public)))
    del min_rsa_bits
    return [k for k in found if k[1] in ("rsa", "ed25519")]


def _json_object(body: bytes) -> dict[str, Any]:
    data = wire.parse_json(body)  # not UTF-8, too deep, a number out of range: 400, never 500
    if not isinstance(data, dict):
        raise RemoteProtocolError("document is not a JSON object")
    return data
