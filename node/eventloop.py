"""The event loop the node's processes run on: uvloop where it is installed, else asyncio's.

uvloop (libuv, in C) runs the same asyncio code with less work per socket event and
callback: on the inbox bench the node spends about a quarter less CPU per request on it.
``event_loop = "asyncio"`` in the config (or ``KANTINE_EVENT_LOOP=asyncio`` for the
delivery senders and tools without a config) keeps the standard library's loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["CHOICES", "loop_factory", "new_event_loop", "run"]

T = TypeVar("T")

#: ``auto``: uvloop if it can be imported, else asyncio; ``uvloop`` requires it.
CHOICES = ("auto", "uvloop", "asyncio")


def loop_factory(choice: str | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    """The constructor of the loop ``choice`` names (default: ``$KANTINE_EVENT_LOOP`` or auto)."""
    choice = choice or os.environ.get("KANTINE_EVENT_LOOP") or "auto"
    if choice not in CHOICES:
        raise ValueError(f"event_loop must be one of {', '.join(CHOICES)}, not {choice!r}")
    if choice == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ValueError("event_loop = 'uvloop' but uvloop is not installed") from None
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def new_event_loop(choice: str | None = None) -> asyncio.AbstractEventLoop:
    return loop_factory(choice)()


def run(main: Coroutine[Any, Any, T], choice: str | None = None) -> T:
    """``asyncio.run`` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)
