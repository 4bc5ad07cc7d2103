"""Security headers on every response: a strict CSP, no sniffing, no framing, few referrers."""

from __future__ import annotations

from aiohttp import web

__all__ = ["CSP", "SECURITY_HEADERS", "add_security_headers"]

#: No inline script or style anywhere; scripts only from this node (there are none today),
#: forms only post here, and no one may frame a page.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.method in ("GET", "HEAD") and not request.path.startswith("/static/"):
        # The same URL answers HTML or JSON by Accept, and pages differ by cookie and language.
        vary = response.headers.get("Vary", "")
        wanted = [
            v for v in ("Accept", "Accept-Language", "Cookie") if v.lower() not in vary.lower()
        ]
        if wanted:
            response.headers["Vary"] = ", ".join([v for v in [vary] if v] + wanted)
