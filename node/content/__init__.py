"""The co-operative's content: members, meetups, assignments, projects.

Each content area is a module with a ``Service`` (built with the runtime), which
offers ``handlers()`` (activity type -> inbox handlers), and may offer
``routes`` (API/ActivityPub routes) and ``register_cli(subparsers)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["MODULES", "build_services", "modules"]

#: Content modules, in the order their inbox handlers are tried.
MODULES: tuple[str, ...] = ("ingest",)


def modules() -> list[Any]:
    return [importlib.import_module(f"{__name__}.{name}") for name in MODULES]


def build_services(rt: Runtime) -> dict[str, Any]:
    return {module.__name__.rsplit(".", 1)[1]: module.Service(rt) for module in modules()}
