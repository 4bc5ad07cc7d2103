"""Middlewares: request ids and logs, metrics, and ProtocolError -> JSON error."""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from protocol.errors import ProtocolError

from . import logs
from .appkeys import METRICS, REQUEST_ID

__all__ = ["json_error", "request_middleware"]

log = logging.getLogger("kantine.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, reason: str) -> web.Response:
    """The one shape of an error body: ``{"error": reason}``."""
    return web.json_response({"error": reason}, status=status)


_RID_PREFIX = uuid.uuid4().hex[:8]  # per process; a counter makes the rest (no syscall per request)
_rid_counter = itertools.count(1)


def _next_request_id() -> str:
    return f"{_RID_PREFIX}{next(_rid_counter):08x}"


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, ``ProtocolError`` -> JSON error, then the request's metric and log line."""
    rid = request.headers.get("X-Request-Id", "")[:64] or _next_request_id()
    request[REQUEST_ID] = rid
    started = time.perf_counter()
    status = 500
    try:
        try:
            response = await handler(request)
        except ProtocolError as exc:
            log.warning(
                "%s %s refused (%s): %s rid=%s",
                request.method,
                request.path,
                exc.status_hint,
                exc.reason,
                rid,
            )
            response = json_error(exc.status_hint, exc.reason)
        except web.HTTPException as exc:
            if exc.status >= 400 and exc.content_type != "application/json":
                response = json_error(exc.status, exc.reason or "error")
            else:
                raise
        status = response.status
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[METRICS].inc(
            "kantine_http_requests_total", method=request.method, status=str(status)
        )
        logs.info(
            log,
            f"{request.method} {request.path} {status}"
            f" {(time.perf_counter() - started) * 1000:.1f}ms rid={rid}",
        )
    response.headers["X-Request-Id"] = rid
    return response
