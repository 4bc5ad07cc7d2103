"""Export a member's data, delete one's own account, rotate actors' keys.

Who may do what: ``by`` is the member acting, or ``None`` for the node's
operator at the shell. A member may export and delete their own account; an
admin may export anyone's and rotate keys.

Key rotation keeps the key ids (``#main-key``, ``#ed25519-key``): a peer that
cached the old key finds that a signature or proof fails with it and fetches
the actor again (Mastodon does the same), and the ``Update`` of the actor,
signed with the new key, tells followers and the co-operative at once.
Signatures and proofs made with the old key stop verifying, which is what a
rotation after a leaked key needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from protocol import keys, vocab

from ...api.auth import ApiError, require_role
from ...clock import iso
from ...cooperative import Cooperative
from ...documents import actor_document
from ...processor import Handlers
from ...storage import account as account_db
from ...storage import actors as actors_db
from ...storage.actors import LocalActor
from ..members.cards import member_json

if TYPE_CHECKING:
    from ...runtime import Runtime

__all__ = ["EXPORT_VERSION", "Service", "rotated_json"]

log = logging.getLogger("kantine.account")

#: The export's schema version (``"kantineExport": 1``); raised when a field changes meaning.
EXPORT_VERSION = 1
#: How often a running node looks for keys rotated by another process (the CLI).
WATCH_INTERVAL = 2.0


class Service:
    """Members' data and the actors' keys."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.db = rt.db
        self.fed = rt.federation
        self.urls = rt.urls
        self._watcher: asyncio.Task[None] | None = None

    def handlers(self) -> Handlers:
        return {}

    # -- the running node notices a rotation made by the CLI ------------------------

    async def start(self) -> None:
        self._watcher = asyncio.create_task(self._watch_instance(), name="kantine-key-watch")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    async def _watch_instance(self) -> None:
        """The instance actor signs every GET from memory: reload it when its keys change.

        (The delivery worker checks the keys of the actors it signs for each round.)
        """
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            try:
                held = await self.fed.instance_actor()
                marks = await actors_db.key_marks(self.db, [held.username])
                if marks.get(held.username, held.ed25519_pem) != held.ed25519_pem:
                    await self.fed.reload_instance()
                    log.info(
                        "the instance actor's keys were rotated; signing GETs with the new key"
                    )
            except Exception:  # the watcher must outlive a busy database
                log.exception("checking the instance actor's keys failed")

    # -- export ---------------------------------------------------------------------

    async def export(self, username: str, *, by: LocalActor | None) -> dict[str, Any]:
        """One JSON document with everything the node holds about a member (no secrets)."""
        actor = await actors_db.get_local(self.db, username)
        if actor is None or actor.deleted_at is not None or actor.kind not in ("member", "network"):
            raise ApiError(f"no member {username!r}", status_hint=404)
        if by is not None and by.username != actor.username:
            require_role(by, "admin")
        actor_id = self.fed.actor_id(actor)
        follows = await account_db.follows_of(self.db, actor.username)
        card = member_json(actor, self.urls, "network") if actor.kind == "member" else None
        return {
            "kantineExport": EXPORT_VERSION,
            "exported": iso(self.rt.clock()),
            "node": {"url": self.urls.base, "name": self.rt.settings.name},
            "account": {
                "username": actor.username,
                "id": actor_id,
                "kind": actor.kind,
                "role": actor.role,
                "created": actor.created_at,
                "updated": actor.updated_at,
            },
            "card": card,
            "profile": actor.profile,
            "actor": actor_document(actor, self.urls, self.rt.settings, viewer="network"),
            "follows": {
                "followers": [_follow(f) for f in follows if f["direction"] == "in"],
                "following": [_follow(f) for f in follows if f["direction"] == "out"],
            },
            "tokens": [
                {"label": t["label"], "created": t["created_at"], "lastUsed": t["last_used_at"]}
                for t in await account_db.tokens_of(self.db, actor.username)
            ],
            "organisedEvents": await account_db.organised_events(self.db, actor_id),
            "content": await account_db.authored_rows(self.db, actor_id, actor.username),
        }

    # -- deleting one's own account ----------------------------------------------------

    async def delete_account(self, me: LocalActor) -> LocalActor:
        """The member deletes themselves: ``Delete`` of the actor everywhere (see members).

        Receivers drop the card and everything the member authored when the actor's
        ``Delete`` (or the network's ``Announce`` of it) arrives; here the member's
        objects are marked deleted and its tokens revoked.
        """
        if me.kind != "member":
            raise ApiError(
                f"{me.username} is the {me.kind}, not a member; it cannot be deleted",
                status_hint=403,
            )
        members = self.rt.services["members"]
        return await members.remove(me.username, by=me)  # type: ignore[no-any-return]

    # -- key rotation -------------------------------------------------------------------

    async def rotate_keys(
        self, usernames: list[str] | None, *, by: LocalActor | None
    ) -> list[LocalActor]:
        """New RSA and Ed25519 keys for the named actors (``None``: every current one);
        each publishes ``Update`` of itself, signed with its new keys."""
        if by is not None:
            require_role(by, "admin")
        if usernames is None:
            chosen = [a for a in await actors_db.list_local(self.db) if a.deleted_at is None]
        else:
            chosen = []
            for username in dict.fromkeys(usernames):
                found = await actors_db.get_local(self.db, username)
                if found is None or found.deleted_at is not None:
                    raise ApiError(f"no local actor {username!r}", status_hint=404)
                chosen.append(found)
        # RSA key generation takes a while: outside the database's writer.
        fresh = await asyncio.to_thread(_new_keys, len(chosen))
        now = iso(self.rt.clock())

        def write(conn):  # type: ignore[no-untyped-def]
            for actor, (rsa_pem, ed_pem) in zip(chosen, fresh, strict=True):
                actors_db.set_keys(conn, actor.username, rsa_pem, ed_pem, now)

        await self.db.write(write)
        rotated = []
        for actor in chosen:
            current = await actors_db.get_local(self.db, actor.username)
            assert current is not None
            self.rt.delivery.forget_actor(current.username)
            if current.kind == "instance":
                await self.fed.reload_instance()
            await self._publish_keys(current)
            rotated.append(current)
            log.info("rotated the keys of %s", self.fed.actor_id(current))
        return rotated

    async def _publish_keys(self, actor: LocalActor) -> None:
        """``Update`` of the actor (its public view, with the new keys) to its followers and
        the co-operative's networks, which hold its key too."""
        actor_id = self.fed.actor_id(actor)
        document = actor_document(actor, self.urls, self.rt.settings, viewer="public")
        activity = {
            "@context": vocab.CONTEXT,
            "id": self.urls.new_activity(),
            "type": "Update",
            "actor": actor_id,
            "object": document,
            "to": [vocab.AS_PUBLIC],
            "cc": [self.urls.followers(actor_id)],
            "published": iso(self.rt.clock()),
        }
        partners = await Cooperative(self.db, self.rt.settings.slug).targets()
        await self.fed.publish(actor, activity, targets=partners, object_id=actor_id)


def rotated_json(svc: Service, actor: LocalActor) -> dict[str, Any]:
    actor_id = svc.fed.actor_id(actor)
    return {
        "username": actor.username,
        "id": actor_id,
        "keys": [svc.urls.rsa_key_id(actor_id), svc.urls.ed25519_key_id(actor_id)],
    }


def _follow(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "actor": row["remote"],
        "state": row["state"],
        "activity": row["activity_id"],
        "created": row["created_at"],
        "updated": row["updated_at"],
    }


def _new_keys(n: int) -> list[tuple[str, str]]:
    return [
        (
            keys.dump_private_pem(keys.generate_rsa()),
            keys.dump_private_pem(keys.generate_ed25519()),
        )
        for _ in range(n)
    ]
