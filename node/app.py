"""The application factory: ``create_app(settings)`` builds the node's aiohttp app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from . import appkeys as K
from . import content
from .clock import Clock, system_clock
from .config import Settings
from .guards import Guards, Limiters
from .metrics import Metrics
from .middlewares import request_middleware
from .routes import actors, admin, inbox, objects, ops, wellknown
from .runtime import Runtime, open_runtime
from .storage.inbox import InboxWriter
from .urls import Urls
from .web import setup_web

__all__ = ["RUNTIME", "create_app"]

RUNTIME = web.AppKey("runtime", Runtime)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    connector: aiohttp.BaseConnector | None = None,
    resolver: aiohttp.abc.AbstractResolver | None = None,
    workers: bool = True,
    delivery_process: bool = False,
) -> web.Application:
    """Build the node; tests build the same app with an injected clock and resolver."""
    app = web.Application(
        middlewares=[request_middleware, Guards()],
        client_max_size=settings.limits.max_body,
    )
    app[K.SETTINGS] = settings
    app[K.URLS] = Urls(settings.url)
    app[K.CLOCK] = clock or system_clock
    app[K.METRICS] = Metrics()
    app[K.LIMITERS] = Limiters(settings)

    async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
        async with open_runtime(
            settings,
            workers=workers,
            clock=app[K.CLOCK],
            connector=connector,
            resolver=resolver,
            metrics=app[K.METRICS],
            delivery_process=delivery_process,
        ) as rt:
            app[RUNTIME] = rt
            app[K.DB] = rt.db
            app[K.CLIENT] = rt.session
            app[K.FETCHER] = rt.fetcher
            app[K.FEDERATION] = rt.federation
            app[K.DELIVERY] = rt.delivery
            app[K.PROCESSOR] = rt.processor
            writer = app[K.INBOX_WRITER] = InboxWriter(rt.db, on_stored=rt.processor.offer)
            rt.processor.record = writer.mark  # outcomes share the inbox's commits
            rt.metrics.counter_from("kantine_inbox_write_batches_total", lambda: writer.batches)
            yield

    app.cleanup_ctx.append(runtime_ctx)
    for module in (wellknown, actors, inbox, ops, objects, admin):
        app.router.add_routes(module.routes)
    for module in content.modules():
        if hasattr(module, "routes"):
            app.router.add_routes(module.routes)
    setup_web(app)  # the server-rendered pages (node/web), after the API and ActivityPub routes
    return app
