"""The co-operative's content: members, meetups, assignments, projects.

Each content area is a module with a ``Service`` (built with the runtime), which
offers ``handlers()`` (activity type -> inbox handlers), and may offer
``routes`` (API/ActivityPub routes) and ``register_cli(subparsers)``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["MODULES", "build_services", "modules"]

#: Content modules, in the order their inbox handlers are tried.
MODULES: tuple[str, ...] = ("members", "events", "assignments", "projects", "ingest", "account")


def modules() -> list[Any]:
    """The content modules that exist (areas are added one module at a time)."""
    found = []
    for name in MODULES:
        if importlib.util.find_spec(f"{__name__}.{name}") is not None:
            found.append(importlib.import_module(f"{__name__}.{name}"))
    return found


def build_services(rt: Runtime) -> dict[str, Any]:
    return {module.__name__.rsplit(".", 1)[1]: module.Service(rt) for module in modules()}
