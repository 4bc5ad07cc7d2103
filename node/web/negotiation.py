"""Content negotiation: does this GET want the HTML page or the ActivityStreams document?"""

from __future__ import annotations

from aiohttp import web

__all__ = ["prefers_html", "prefers_html_accept"]

_HTML = ("text/html", "application/xhtml+xml")
_ACTIVITY = ("application/activity+json", "application/ld+json", "application/json")


def _weights(accept: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(1.0, max(0.0, float(value)))
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media:
            weights[media] = max(weights.get(media, 0.0), quality)
    return weights


def prefers_html_accept(accept: str | None) -> bool:
    """True when ``accept`` ranks an HTML type above every JSON (ActivityStreams) type.

    No header, ``*/*``, or a tie all mean JSON: servers get what they have always got.
    """
    if not accept:
        return False
    weights = _weights(accept)
    html = max((weights.get(t, 0.0) for t in _HTML), default=0.0)
    activity = max((weights.get(t, 0.0) for t in _ACTIVITY), default=0.0)
    return html > 0 and html > activity


def prefers_html(request: web.Request) -> bool:
    return request.method in ("GET", "HEAD") and prefers_html_accept(request.headers.get("Accept"))
