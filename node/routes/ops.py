"""Operations: /healthz and /metrics (Prometheus text format)."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import DB, METRICS

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/healthz")
async def handle_health(request: web.Request) -> web.Response:
    await request.app[DB].fetchone("SELECT 1")
    return web.json_response({"status": "ok"})


@routes.get("/metrics")
async def handle_metrics(request: web.Request) -> web.Response:
    text = await request.app[METRICS].render()
    return web.Response(text=text, content_type="text/plain", charset="utf-8")
