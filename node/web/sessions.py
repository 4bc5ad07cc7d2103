"""Who is looking: the session cookie, the member it names, and the form token (CSRF).

A session id is 32 random bytes in an HttpOnly, SameSite=Lax cookie (``Secure`` and
named ``__Host-...`` when the node's URL is https); the database keeps only its SHA-256.
Every POST of a form is checked by ``checked_form``: the ``Origin`` (or, without one,
the ``Referer``) must be this node, and the form's ``csrf`` field must be the session's
token. A visitor who is not signed in (the sign-in form) gets a random token in a cookie
of its own, which the form must repeat.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiDictProxy

from ..appkeys import CLOCK, DB, SETTINGS
from ..clock import iso
from ..storage import actors as actors_db
from ..storage import sessions as sessions_db
from ..storage.actors import LocalActor
from .i18n import PageError

__all__ = [
    "LIFETIME",
    "Visitor",
    "checked_form",
    "cookie_name",
    "end_session",
    "start_session",
    "visitor",
]

#: How long a sign-in lasts.
LIFETIME = timedelta(days=14)
_VISITOR = web.RequestKey("kantine_visitor", object)


def _secure(request: web.Request) -> bool:
    return request.app[SETTINGS].base.startswith("https://")


def cookie_name(request: web.Request, kind: str = "session") -> str:
    """``__Host-kantine_session`` on https (Secure, whole site, this host only), else plain."""
    return ("__Host-" if _secure(request) else "") + f"kantine_{kind}"


@dataclass
class Visitor:
    """The member signed in (or None), the session's cookie id, and the token forms carry."""

    member: LocalActor | None
    session_id: str | None
    csrf: str
    new_form_cookie: bool = False

    def attach(self, response: web.StreamResponse) -> None:
        """Set the anonymous form-token cookie when this response introduced it."""
        if self.new_form_cookie and self.member is None:
            response.set_cookie(
                self._form_cookie,
                self.csrf,
                httponly=True,
                samesite="Lax",
                path="/",
                secure=self._secure,
                max_age=86400,
            )

    _form_cookie: str = "kantine_form"
    _secure: bool = False


async def visitor(request: web.Request) -> Visitor:
    """The visitor of this request (looked up once per request)."""
    if _VISITOR in request:
        return request[_VISITOR]  # type: ignore[no-any-return]
    found = await _lookup(request)
    request[_VISITOR] = found
    return found


async def _lookup(request: web.Request) -> Visitor:
    db = request.app[DB]
    session_id = request.cookies.get(cookie_name(request))
    if session_id and len(session_id) < 100:
        now = iso(request.app[CLOCK]())
        session = await sessions_db.get(db, session_id, now)
        if session is not None:
            member = await actors_db.get_local(db, session.username)
            if member is not None and member.deleted_at is None and member.kind == "member":
                return Visitor(member, session_id, session.csrf)
    form_cookie = cookie_name(request, "form")
    token = request.cookies.get(form_cookie, "")
    fresh = not (20 <= len(token) <= 100)
    if fresh:
        token = secrets.token_urlsafe(24)
    return Visitor(None, None, token, fresh, form_cookie, _secure(request))


def _same_origin(request: web.Request) -> bool:
    """The POST comes from one of our pages: ``Origin`` (or ``Referer``) is this node."""
    base = urlsplit(request.app[SETTINGS].base)
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.rstrip("/").lower() == f"{base.scheme}://{base.netloc}".lower()
    referer = request.headers.get("Referer")
    if referer is not None:
        parts = urlsplit(referer)
        return (parts.scheme, parts.netloc.lower()) == (base.scheme, base.netloc.lower())
    return True  # neither header (some privacy tools strip both): the token decides


async def checked_form(request: web.Request) -> MultiDictProxy[str | web.FileField]:
    """The POSTed form, once its origin and its token are checked (403 otherwise)."""
    if not _same_origin(request):
        raise PageError("error.cross_site", 403)
    form = await request.post()
    who = await visitor(request)
    sent = form.get("csrf")
    if (
        not isinstance(sent, str)
        or who.new_form_cookie
        or not hmac.compare_digest(sent.encode(), who.csrf.encode())
    ):
        raise PageError("error.csrf", 403)
    return form


async def start_session(request: web.Request, response: web.StreamResponse, username: str) -> None:
    """Sign ``username`` in: a new session row and its cookie (a fresh id at every sign-in)."""
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = request.app[CLOCK]()
    created, expires = iso(now), iso(now + LIFETIME)

    def write(conn):  # type: ignore[no-untyped-def]
        sessions_db.purge_expired(conn, created)
        sessions_db.create(conn, session_id, username, csrf, created, expires)

    await request.app[DB].write(write)
    response.set_cookie(
        cookie_name(request),
        session_id,
        httponly=True,
        samesite="Lax",
        path="/",
        secure=_secure(request),
        max_age=int(LIFETIME.total_seconds()),
    )
    response.del_cookie(cookie_name(request, "form"), path="/", secure=_secure(request))


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    """Sign out: the session row goes, and the cookie with it."""
    who = await visitor(request)
    if who.session_id is not None:
        session_id = who.session_id
        await request.app[DB].write(lambda c: sessions_db.delete(c, session_id))
    response.del_cookie(cookie_name(request), path="/", secure=_secure(request))
