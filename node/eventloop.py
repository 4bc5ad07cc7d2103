"""How the node's serving processes run: the event loop (uvloop where it is installed, else
asyncio's) and the garbage collector's settings.

uvloop (libuv, in C) runs the same asyncio code with less work per socket event and
callback: on the inbox bench the node spends about a quarter less CPU per request on it.
``event_loop = "asyncio"`` in the config (or ``KANTINE_EVENT_LOOP=asyncio`` for the
delivery senders and tools without a config) keeps the standard library's loop.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["CHOICES", "GC_THRESHOLD", "loop_factory", "new_event_loop", "run", "tune_gc"]

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


#: Allocations between two young-generation collections (CPython's default: 700). A
#: request allocates a few hundred objects, nearly all freed by reference counting; at the
#: default the collector ran every request or two. Cycles are still collected, in bigger
#: batches.
GC_THRESHOLD = 50_000


def tune_gc() -> None:
    """For a serving process, just before it serves: what is loaded by now (modules, the
    app) lives as long as the process, so the collector stops scanning it (``gc.freeze``), and
    young collections run less often (``GC_THRESHOLD``). About 5 % less CPU per inbox
    request on the bench."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, older, oldest)


def new_event_loop(choice: str | None = None) -> asyncio.AbstractEventLoop:
    return loop_factory(choice)()


def run(main: Coroutine[Any, Any, T], choice: str | None = None) -> T:
    """``asyncio.run`` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)
