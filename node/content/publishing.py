"""Publishing content by visibility: who it is addressed to, where it is delivered.

- ``public``: to Public, cc the author's followers; delivered to the author's
  followers; when a member publishes, the network ``Announce``s the signed
  activity (embedded whole, proof included) to the network's followers; the
  instance actor ``Announce``s public objects to the relays/instances following it.
- ``cooperative``: to ``{network}/cooperative`` only; delivered to the partner
  networks' inboxes (see ``node.cooperative``), never to Public.
- ``network``: to the network actor only; stored, served to signed-in members,
  delivered nowhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from protocol import vocab

from ..clock import iso
from ..cooperative import Cooperative
from ..storage import actors as actors_db
from ..storage import follows as follows_db
from ..storage.actors import LocalActor

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["VISIBILITIES", "ContentPublisher"]

VISIBILITIES = ("public", "cooperative", "network")


class ContentPublisher:
    """Addresses, signs and queues content activities for one node."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.fed = rt.federation
        self.urls = rt.urls
        self.cooperative = Cooperative(rt.db, rt.settings.slug)

    async def network(self) -> LocalActor:
        actor = await actors_db.get_local(self.rt.db, self.rt.settings.slug)
        assert actor is not None
        return actor

    def addressing(self, author: LocalActor, visibility: str) -> tuple[list[str], list[str]]:
        """``(to, cc)`` for an object or activity of ``author`` with ``visibility``."""
        author_id = self.fed.actor_id(author)
        if visibility == "public":
            return [vocab.AS_PUBLIC], [self.urls.followers(author_id)]
        if visibility == "cooperative":
            return [self.urls.cooperative()], []
        if visibility == "network":
            return [self.urls.network()], []
        raise ValueError(f"unknown visibility {visibility!r}")

    def activity(
        self, author: LocalActor, kind: str, obj: Any, visibility: str, **extra: Any
    ) -> dict[str, Any]:
        to, cc = self.addressing(author, visibility)
        return {
            "@context": vocab.CONTEXT,
            "id": self.urls.new_activity(),
            "type": kind,
            "actor": self.fed.actor_id(author),
            "object": obj,
            "to": to,
            "cc": cc,
            "published": iso(self.rt.clock()),
            **extra,
        }

    async def publish(
        self,
        author: LocalActor,
        activity: dict[str, Any],
        *,
        visibility: str,
        object_id: str | None = None,
        extra_targets: list[tuple[str, str]] = (),  # type: ignore[assignment]
        announce: bool = True,
    ) -> dict[str, Any]:
        """Sign and queue ``activity``; return the signed document."""
        signed = self.fed.sign_document(author, activity)
        targets = list(extra_targets)
        if visibility == "network":
            await self.fed.publish(
                author,
                signed,
                to_followers=False,
                targets=targets,
                public=False,
                object_id=object_id,
            )
            return signed
        if visibility == "cooperative":
            partners = await self.cooperative.targets()
            await self.fed.publish(
                author,
                signed,
                to_followers=False,
                targets=partners + targets,
                public=False,
                object_id=object_id,
            )
            return signed
        await self.fed.publish(author, signed, targets=targets, object_id=object_id)
        if announce:
            await self._announce(author, signed, object_id)
        return signed

    async def _announce(
        self, author: LocalActor, signed: dict[str, Any], object_id: str | None
    ) -> None:
        network = await self.network()
        if author.username != network.username:
            await self._announce_as(network, signed, object_id, exclude=author)
        instance = await self.fed.instance_actor()
        if await follows_db.count(self.rt.db, instance.username, "in"):
            await self._announce_as(instance, signed, object_id, exclude=author)

    async def _announce_as(
        self,
        group: LocalActor,
        signed: dict[str, Any],
        object_id: str | None,
        *,
        exclude: LocalActor,
    ) -> None:
        """FEP-1b12: the group Announces the activity, embedded whole so its proof still verifies."""
        group_id = self.fed.actor_id(group)
        announce = {
            "@context": vocab.CONTEXT,
            "id": self.urls.new_activity(),
            "type": "Announce",
            "actor": group_id,
            "object": signed,
            "to": [vocab.AS_PUBLIC],
            "cc": [self.urls.followers(group_id)],
            "published": iso(self.rt.clock()),
        }
        del exclude
        await self.fed.publish(group, announce, object_id=object_id)
