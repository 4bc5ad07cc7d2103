"""The node's logs: one line format, written in batches, and a short way for the line
every request writes.

- ``configure`` installs ``BufferedStream`` on stderr with ``LineFormatter``:
  ``2026-11-23 05:00:00,123 INFO kantine.http POST /inbox 202 5.1ms rid=…``.
- Lines are written at most ``BufferedStream.FLUSH_EVERY`` seconds late, at once from
  WARNING up, and at exit; a crash loses at most the last quarter second of INFO lines,
  never anything the database holds.
- ``info(logger, message)`` is ``logger.info(message)``. While the node's own handler is
  the only one the line would reach (no filters, no other handler: a test's log capture
  adds one), it writes the formatted line to it directly. The standard path takes a
  dozen calls a line, which under load cost the inbox about a twentieth of its time.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from typing import Any

__all__ = ["BufferedStream", "LineFormatter", "configure", "info"]

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class LineFormatter(logging.Formatter):
    """``FORMAT``, with the timestamp text made once per second, not per line."""

    _second = -1
    _text = ""

    def format(self, record: logging.LogRecord) -> str:
        # A line without a traceback made directly, not through the %-style template.
        if record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)
        return f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self.stamp(record.created)

    def stamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second, self._text = (
                second,
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)),
            )
        return f"{self._text},{int((created - second) * 1000):03d}"


class BufferedStream(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes its lines in batches (see the module's docstring)."""

    FLUSH_EVERY = 0.25
    MAX_BUFFER = 64 * 1024

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._lines: list[str] = []
        self._size = 0
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.add(line, urgent=record.levelno >= logging.WARNING)

    def add(self, line: str, *, urgent: bool = False) -> None:
        """Queue one formatted line (without its newline) for the stream."""
        with self.lock:  # type: ignore[union-attr]
            self._lines.append(line + self.terminator)
            self._size += len(line) + 1
        if urgent or self._size >= self.MAX_BUFFER:
            self.flush()
        elif self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_soon, name="kantine-log-flush", daemon=True
            )
            self._flusher.start()

    def _flush_soon(self) -> None:
        while True:
            time.sleep(self.FLUSH_EVERY)
            with contextlib.suppress(Exception):  # the thread lives on whatever a flush meets
                self.flush()

    def flush(self) -> None:
        # A closed stream, a broken pipe or a full disk loses these lines; it never raises
        # into the code that logged (as ``StreamHandler.emit`` never does).
        with self.lock, contextlib.suppress(OSError, ValueError):  # type: ignore[union-attr]
            if self._lines:
                lines, self._lines, self._size = self._lines, [], 0
                self.stream.write("".join(lines))
            super().flush()


#: The handler ``configure`` installed (the one ``info`` may write to directly).
_installed: BufferedStream | None = None


def configure(verbose: bool) -> None:
    """Log INFO (DEBUG if ``verbose``) and up to stderr, in ``FORMAT``."""
    global _installed
    # What the lines do not show is not collected (the logging docs' "Optimization"):
    # the caller's file and line (a walk up the stack per line), thread and process names.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = BufferedStream(sys.stderr)
    handler.setFormatter(LineFormatter(FORMAT))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    _installed = handler if logging.root.handlers == [handler] else None


def info(logger: logging.Logger, message: str) -> None:
    """``logger.info(message)``; straight to the installed handler when only it would see it."""
    handler = _installed
    if handler is None or not logger.isEnabledFor(logging.INFO) or not _alone(logger, handler):
        logger.info("%s", message)
        return
    formatter = handler.formatter
    assert isinstance(formatter, LineFormatter)
    handler.add(f"{formatter.stamp(time.time())} INFO {logger.name} {message}")


def _alone(logger: logging.Logger, handler: BufferedStream) -> bool:
    """Whether ``handler`` is the one handler, unfiltered, that an INFO line of ``logger``
    reaches, and its formatter the one ``configure`` set."""
    if handler.filters or handler.level > logging.INFO:
        return False
    if type(handler.formatter) is not LineFormatter:
        return False
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or (current.handlers and current is not logging.root):
            return False
        if current is logging.root:
            return current.handlers == [handler]
        if not current.propagate:
            return False
        current = current.parent
    return False
