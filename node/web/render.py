"""Rendering a page: the Jinja2 environment, the context every page gets, and error pages.

``render(request, "board.html", items=...)`` is the one way a page is made: it adds the
visitor (signed-in member or not), their form token, the language and its strings, and
sets the language cookie when ``?lang=`` chose one. Handlers wrapped in ``page`` show
errors (a 404, a refused form) as pages in the visitor's language, not as JSON.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from protocol.errors import ProtocolError

from ..appkeys import JINJA, SETTINGS
from ..clock import from_iso
from . import i18n, sanitize
from .sessions import visitor

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["build_env", "message", "page", "redirect", "render", "runtime", "services"]

log = logging.getLogger("kantine.web")
Handler = Callable[..., Awaitable[web.StreamResponse]]


def build_env() -> jinja2.Environment:
    """The app's one template environment (built once, kept under ``appkeys.JINJA``)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("node.web", "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["text"] = sanitize.text
    env.filters["clean"] = sanitize.clean_html
    env.filters["paragraphs"] = sanitize.paragraphs
    env.filters["safe_url"] = sanitize.safe_url
    return env


def runtime(request: web.Request) -> Runtime:
    from ..app import RUNTIME  # node.app imports this package: import it late

    return request.app[RUNTIME]


def services(request: web.Request) -> dict[str, Any]:
    return runtime(request).services


async def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    settings = request.app[SETTINGS]
    lang, chosen = i18n.choose(request)
    who = await visitor(request)
    zone = ZoneInfo(settings.timezone)

    def when(value: str | datetime | None, *, date_only: bool = False) -> str:
        if not value:
            return ""
        try:
            moment = from_iso(value) if isinstance(value, str) else value
        except ValueError:
            return sanitize.text(value, 40)
        return i18n.format_time(moment.astimezone(zone), lang, date_only=date_only)

    body = (
        request.app[JINJA]
        .get_template(template)
        .render(
            t=i18n.translator(lang),
            lang=lang,
            languages=i18n.LANGUAGES,
            when=when,
            viewer=who.member,
            csrf=who.csrf,
            network_name=settings.name,
            path=request.path,
            query=request.query,
            **context,
        )
    )
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    if who.member is not None:
        response.headers["Cache-Control"] = "private, no-store"
    who.attach(response)
    if chosen:
        response.set_cookie(
            i18n.COOKIE,
            lang,
            max_age=365 * 86400,
            httponly=True,
            samesite="Lax",
            path="/",
            secure=settings.base.startswith("https://"),
        )
    return response


def redirect(location: str, notice: str | None = None) -> web.Response:
    """303 to a local path after a form, with a notice key (``i18n``: ``notice.*``) to show."""
    if notice:
        location += ("&" if "?" in location else "?") + "notice=" + notice
    return web.Response(status=303, headers={"Location": location})


def message(request: web.Request, key: str, **values: object) -> str:
    """A string in the visitor's language (for messages built outside templates)."""
    return i18n.translator(i18n.choose(request)[0])(key, **values)


def page(handler: Handler) -> Handler:
    """Wrap a page handler: refusals and missing things become pages in the visitor's language."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request, *args: Any) -> web.StreamResponse:
        try:
            return await handler(request, *args)
        except ProtocolError as exc:
            reason = message(request, exc.key) if isinstance(exc, i18n.PageError) else exc.reason
            return await render(
                request,
                "error.html",
                status=exc.status_hint,
                status_code=exc.status_hint,
                message=reason,
            )
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return await render(
                request,
                "error.html",
                status=exc.status,
                status_code=exc.status,
                message=exc.text if exc.text and not exc.text.startswith(str(exc.status)) else "",
            )

    return wrapped
