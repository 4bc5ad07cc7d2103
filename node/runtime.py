"""The node's runtime parts, opened together: database, HTTP client, federation, workers.

The app opens one in its ``cleanup_ctx``; CLI commands that talk to the network
open one without the workers (the running node delivers what they queue).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .clock import Clock, system_clock
from .config import Settings
from .delivery import DEFAULT_TIMEOUT, DeliveryWorker
from .delivery_http import DeliveryClient
from .federation import Federation
from .fetcher import Fetcher
from .follows import FollowService
from .http import make_connector
from .metrics import Metrics
from .moderation import moderation_handlers
from .policy import FetchGuard, host_allowed, refusal
from .processor import Gate, Handlers, Processor
from .sender import DeliverySenders
from .signing import Signer
from .storage import deliveries as q
from .storage import inbox as inbox_db
from .storage.db import Database
from .urls import Urls

__all__ = ["Runtime", "open_runtime"]

USER_AGENT = "Kantine/0.1 (+https://kantine.coop)"


@dataclass
class Runtime:
    settings: Settings
    urls: Urls
    clock: Clock
    db: Database
    metrics: Metrics
    session: aiohttp.ClientSession
    fetcher: Fetcher
    federation: Federation
    follows: FollowService
    delivery: DeliveryWorker
    processor: Processor
    services: dict[str, Any] = field(default_factory=dict)


def follow_handlers(rt: Runtime) -> Handlers:
    """The processor's dispatch table for follows and actor life cycle."""
    f = rt.follows
    return {
        "Follow": [f.on_follow],
        "Accept": [f.on_accept],
        "Reject": [f.on_reject],
        "Undo": [f.on_undo],
        "Delete": [f.on_actor_deleted],
        "Update": [f.on_actor_updated],
    }


def build_gates(rt: Runtime) -> dict[str, list[Gate]]:
    """The content services' gates (``Processor.gates``), merged per type."""
    table: dict[str, list[Gate]] = {}
    for service in rt.services.values():
        if hasattr(service, "gates"):
            for kind, gates in service.gates().items():
                table.setdefault(kind, []).extend(gates)
    return table


def build_handlers(rt: Runtime) -> Handlers:
    """Follows and moderation first, then every content service's handlers, merged per type."""
    table: Handlers = {}
    parts = [follow_handlers(rt), moderation_handlers(rt)]
    for part in [*parts, *(s.handlers() for s in rt.services.values())]:
        for kind, chain in part.items():
            table.setdefault(kind, []).extend(chain)
    return table


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    workers: bool = True,
    clock: Clock | None = None,
    connector: aiohttp.BaseConnector | None = None,
    resolver: aiohttp.abc.AbstractResolver | None = None,
    metrics: Metrics | None = None,
    delivery_process: bool = False,
) -> AsyncIterator[Runtime]:
    """The node's parts, started (``workers``) and stopped around the ``async with``.

    ``delivery_process``: deliveries are signed and POSTed by a child process
    (:mod:`node.sender`), with the node's own address rules; only when the node builds
    its own connector (no test ``connector`` or ``resolver``).
    """
    clock = clock or system_clock
    metrics = metrics or Metrics()
    urls = Urls(settings.url)
    db = Database(settings.db_path)
    await db.open()
    try:
        limits = settings.limits
        own_rules = connector is None and resolver is None
        if connector is None:
            connector = make_connector(
                allow_private=settings.dev,
                resolver=resolver,
                limit=limits.delivery_concurrency + 16,
                limit_per_host=limits.delivery_per_host + 4,
            )
        session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT})
        client: DeliveryClient | None = None
        sender: DeliverySenders | None = None
        try:
            signer = Signer(urls)
            fed = Federation(
                settings=settings, urls=urls, db=db, clock=clock, metrics=metrics, signer=signer
            )
            await fed.instance_actor()
            fed.fetcher = Fetcher(
                session,
                sign=fed.sign_get,
                timeout=limits.fetch_timeout,
                max_bytes=limits.fetch_max_bytes,
                max_redirects=limits.fetch_max_redirects,
                user_agent=USER_AGENT,
                guard=FetchGuard(db, settings),
            )
            follows = FollowService(fed)
            # Deliveries go out through the lean client when the connector's rules are
            # known (make_connector); through the session otherwise.
            client = DeliveryClient.like(connector, idle_per_host=limits.delivery_per_host)
            if delivery_process and workers and own_rules and limits.delivery_senders:
                sender = await DeliverySenders.start(
                    limits.delivery_senders,
                    allow_private=settings.dev,
                    timeout=DEFAULT_TIMEOUT,
                    idle_per_host=limits.delivery_per_host,
                    event_loop=settings.event_loop,
                )
            delivery = DeliveryWorker(
                db=db,
                session=session,
                client=client,
                sender=sender,
                signer=signer,
                clock=clock,
                metrics=metrics,
                concurrency=limits.delivery_concurrency,
                per_host=limits.delivery_per_host,
                user_agent=USER_AGENT,
            )
            processor = Processor(db=db, clock=clock, metrics=metrics, handlers={})
            processor.max_fetches = limits.max_fetches_per_activity
            delivery.may_deliver = lambda host: host_allowed(db, settings, host)
            processor.admit = lambda item: refusal(db, settings, item.actor)
            fed.on_publish.append(delivery.wake)
            metrics.gauge("kantine_delivery_queue", lambda: _labelled(q.counts(db)))
            metrics.gauge("kantine_inbox_queue", lambda: _labelled(inbox_db.count_by_state(db)))
            metrics.counter_from("kantine_db_commits_total", lambda: db.commits)
            metrics.counter_from("kantine_db_writes_total", lambda: db.writes)
            rt = Runtime(
                settings=settings,
                urls=urls,
                clock=clock,
                db=db,
                metrics=metrics,
                session=session,
                fetcher=fed.fetcher,
                federation=fed,
                follows=follows,
                delivery=delivery,
                processor=processor,
            )
            from .content import build_services

            rt.services = build_services(rt)
            processor.handlers = build_handlers(rt)
            processor.gates = build_gates(rt)
            if workers:
                await delivery.start()
                await processor.start()
                for service in rt.services.values():  # content services' own workers
                    if hasattr(service, "start"):
                        await service.start()
            try:
                yield rt
            finally:
                if workers:
                    for service in rt.services.values():
                        if hasattr(service, "stop"):
                            await service.stop()
                    await processor.stop()
                    await delivery.stop()
        finally:
            if sender is not None:
                await sender.close()
            if client is not None:
                await client.close()
            await session.close()
    finally:
        await db.close()


async def _labelled(counts):  # type: ignore[no-untyped-def]
    return {(("state", k),): float(v) for k, v in (await counts).items()}
