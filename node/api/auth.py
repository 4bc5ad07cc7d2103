"""Bearer-token authentication and role checks for the JSON API."""

from __future__ import annotations

from aiohttp import web

from protocol.errors import ProtocolError

from ..appkeys import DB
from ..storage import actors as actors_db
from ..storage import tokens as tokens_db
from ..storage.actors import LocalActor

__all__ = ["ROLE_RANK", "ApiError", "authenticate", "optional_member", "require_role"]

#: Roles in order of power: an admin may do what an organiser may, and so on.
ROLE_RANK = {"member": 0, "organiser": 1, "admin": 2}


class ApiError(ProtocolError):
    """An API request that cannot be served; rendered as ``{"error": reason}`` with its status."""


async def optional_member(request: web.Request) -> LocalActor | None:
    """The member a valid bearer token names, or None when there is no Authorization header."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("Authorization must be 'Bearer <token>'", status_hint=401)
    username = await tokens_db.lookup(request.app[DB], token.strip())
    if username is None:
        raise ApiError("invalid or revoked token", status_hint=401)
    actor = await actors_db.get_local(request.app[DB], username)
    if actor is None or actor.deleted_at is not None:
        raise ApiError("the token's member no longer exists", status_hint=401)
    return actor


async def authenticate(request: web.Request) -> LocalActor:
    """The member behind the request's bearer token; 401 without a valid one."""
    actor = await optional_member(request)
    if actor is None:
        raise ApiError("a bearer token is required", status_hint=401)
    return actor


def require_role(actor: LocalActor, role: str) -> None:
    """403 unless ``actor``'s role is at least ``role``."""
    if ROLE_RANK.get(actor.role, -1) < ROLE_RANK[role]:
        raise ApiError(
            f"this needs the {role} role; {actor.username} is {actor.role}", status_hint=403
        )
