"""A member's own data and the node's life cycle: export, account deletion, key rotation, backup."""

from __future__ import annotations

from .api import routes
from .cli import register_cli
from .service import EXPORT_VERSION, Service

__all__ = ["EXPORT_VERSION", "Service", "register_cli", "routes"]
