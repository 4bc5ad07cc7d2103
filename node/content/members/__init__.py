"""Members and their cards: the service, the API routes and the ``kantine member`` commands."""

from __future__ import annotations

from .api import routes
from .cli import register_cli
from .service import Card, Service

__all__ = ["Card", "Service", "register_cli", "routes"]
