"""Who may GET a local content object: public, co-operative (signed GETs from partners), network.

Rules (DESIGN.md, "Visibility"), whatever the authorized-fetch setting:

- ``public``: anyone;
- a local member with a valid bearer token sees everything of this node;
- ``cooperative``: a GET signed (HTTP signature, verified) by an actor on a host of the
  co-operative; an unsigned GET is answered 401, a signed one from elsewhere is told
  nothing (the caller answers 404, so existence does not leak);
- ``network``: no remote reader at all.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from protocol import validation
from protocol.errors import SignatureError

from ..api.auth import optional_member
from ..appkeys import DB, FEDERATION, SETTINGS
from ..cooperative import Cooperative

__all__ = ["UNSIGNED", "can_view", "signed_host", "viewer_host"]

#: The reason given to an unsigned GET of co-operative content.
UNSIGNED = "this object is visible to the co-operative only: sign the GET"

_SIGNER_HOST = web.RequestKey("kantine_signer_host", str)


def _visibility(obj: Any) -> str:
    value = obj.get("visibility") if isinstance(obj, dict) else getattr(obj, "visibility", None)
    return value if isinstance(value, str) else "network"


async def signed_host(request: web.Request) -> str | None:
    """The host of the actor that signed this GET (verified), or None when it is unsigned.

    A signature that does not verify raises ``SignatureError`` (401). The answer is
    kept on the request, so several checks verify once.
    """
    if _SIGNER_HOST in request:
        return request[_SIGNER_HOST] or None
    if "Signature" not in request.headers and "Signature-Input" not in request.headers:
        request[_SIGNER_HOST] = ""
        return None
    fed = request.app[FEDERATION]
    url = request.app[SETTINGS].base + request.path_qs
    _, owner = await fed.verify_request(request.method, url, request.headers, None)
    host = validation.host_of(owner)
    request[_SIGNER_HOST] = host
    return host


async def viewer_host(request: web.Request) -> str:
    """Like ``signed_host``, but an unsigned GET is refused with 401."""
    host = await signed_host(request)
    if host is None:
        raise SignatureError(UNSIGNED)
    return host


async def can_view(request: web.Request, obj: Any) -> bool:
    """Whether this request may see ``obj`` (a ``StoredObject`` or a dict with ``visibility``).

    Returns True or False; raises ``SignatureError`` (401) for an unsigned or badly signed
    GET of co-operative content, and ``ApiError`` (401) for a bad bearer token.
    Callers answer False with 404 so that non-public objects do not leak.
    """
    visibility = _visibility(obj)
    if visibility == "public":
        return True
    if await optional_member(request) is not None:
        local = obj.get("local", True) if isinstance(obj, dict) else getattr(obj, "local", True)
        return bool(local) or visibility == "cooperative"
    if visibility != "cooperative":
        return False
    host = await viewer_host(request)
    cooperative = Cooperative(request.app[DB], request.app[SETTINGS].slug)
    return await cooperative.includes(host)
