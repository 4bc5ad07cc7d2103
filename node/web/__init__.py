"""The server-rendered web pages: one Jinja2 environment, one base template, one ``render``.

``setup_web(app)`` adds the pages' routes, the static files and the security headers.
Page modules are imported there (not here): ``node.app`` imports this package while it
is itself being imported, and the content services the pages use import ``node.app``.

To add pages (the meetup pages, calendars, ...): write a module with a
``routes = web.RouteTableDef()`` whose handlers are wrapped in ``render.page``, render
with ``render.render(request, "x.html", ...)`` (templates extend ``base.html``), read
POSTed forms with ``sessions.checked_form`` (CSRF and Origin checks), put strings in
``i18n.STRINGS`` (both languages), and list the module in ``PAGE_MODULES``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from aiohttp import web

__all__ = ["PAGE_MODULES", "STATIC", "setup_web"]

#: Modules (under ``node.web``) whose ``routes`` are added to the app, in this order.
PAGE_MODULES: tuple[str, ...] = ("pages", "account", "forms", "admin")
#: The meetup, calendar, feed, project and remote-interaction pages (second half of the web issue).
PAGE_MODULES += ("meetups", "meetup_forms", "calendars", "projects", "interaction")
STATIC = Path(__file__).parent / "static"


def setup_web(app: web.Application) -> None:
    """Add the web pages to ``app``: Jinja2 environment, routes, /static, security headers."""
    from .. import appkeys
    from .render import build_env
    from .security import add_security_headers

    app[appkeys.JINJA] = build_env()
    for name in PAGE_MODULES:
        app.router.add_routes(importlib.import_module(f"{__name__}.{name}").routes)
    app.router.add_static("/static", STATIC, name="static", append_version=True)
    app.on_response_prepare.append(add_security_headers)
