"""The ``kantine`` command line: parse arguments, run one command, map errors to exit codes.

Exit status: 0 on success, 1 on a failure (one clear line on stderr), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from protocol.errors import ProtocolError

from . import commands
from .config import ConfigError
from .storage.actors import NameTaken

__all__ = ["build_parser", "data_arg", "json_arg", "main"]


def data_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="data directory (default: $KANTINE_DATA or ./kantine-data)")


def json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kantine", description="A federated node for a local network."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create a node: config, keys and database")
    data_arg(p)
    p.add_argument("--url", required=True, help="public base URL, e.g. https://kantine.example.nl")
    p.add_argument("--name", required=True, help="the network's name")
    p.add_argument("--slug", help="the network's handle (default: from the name)")
    p.add_argument("--timezone", default="Europe/Amsterdam", help="IANA time zone of the network")
    p.add_argument(
        "--dev", action="store_true", help="allow http:// and loopback/private addresses"
    )
    p.set_defaults(run=commands.init)

    p = sub.add_parser("serve", help="run the node until SIGTERM/SIGINT")
    data_arg(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(run=commands.serve)

    for name, helptext, fn in (
        (
            "follow",
            "follow another network or actor (a handle name@host or an actor URL)",
            commands.follow,
        ),
        ("unfollow", "stop following an actor", commands.unfollow),
    ):
        p = sub.add_parser(name, help=helptext)
        data_arg(p)
        p.add_argument("target")
        p.add_argument(
            "--as", dest="as_user", help="local actor that follows (default: the network)"
        )
        p.set_defaults(run=fn)

    for name, helptext, fn in (
        ("followers", "list who follows the network", commands.followers),
        ("following", "list whom the network follows", commands.following),
        ("requests", "list follow requests awaiting approval", commands.requests),
    ):
        p = sub.add_parser(name, help=helptext)
        data_arg(p)
        json_arg(p)
        p.add_argument("--as", dest="as_user", help="local actor (default: the network)")
        p.set_defaults(run=fn)

    for name, helptext, fn in (
        ("approve", "approve a follow request", commands.approve),
        ("reject", "reject a follow request (or remove a follower)", commands.reject),
    ):
        p = sub.add_parser(name, help=helptext)
        data_arg(p)
        p.add_argument("actor", help="the requesting actor's URL")
        p.add_argument("--as", dest="as_user", help="local actor (default: the network)")
        p.set_defaults(run=fn)

    p = sub.add_parser("inbox", help="show received activities and what processing did with them")
    data_arg(p)
    json_arg(p)
    p.add_argument(
        "--state", choices=["pending", "done", "discarded", "failed"], help="only this outcome"
    )
    p.add_argument("--limit", type=int, default=50, help="newest first (default 50)")
    p.set_defaults(run=commands.inbox)

    p = sub.add_parser("deliveries", help="show the delivery queue, or `deliveries retry`")
    data_arg(p)
    json_arg(p)
    p.add_argument("action", nargs="?", choices=["retry"], help="retry: requeue failed deliveries")
    p.add_argument("--failed", action="store_true", help="only failed deliveries")
    p.set_defaults(run=commands.deliveries)

    p = sub.add_parser("block", help="block a domain (host): nothing in, nothing out")
    data_arg(p)
    p.add_argument("host")
    p.add_argument("--reason", default="")
    p.set_defaults(run=commands.block)

    p = sub.add_parser("unblock", help="lift a domain block")
    data_arg(p)
    p.add_argument("host")
    p.set_defaults(run=commands.unblock)

    from . import demo, moderation
    from .content import modules

    demo.register_cli(sub)

    moderation.register_cli(sub)
    for module in modules():
        if hasattr(module, "register_cli"):
            module.register_cli(sub)
    return parser


class _Formatter(logging.Formatter):
    """The standard line format, with the timestamp text made once per second, not per line."""

    _second = -1
    _text = ""

    def format(self, record: logging.LogRecord) -> str:
        # A line without a traceback made directly, not through the %-style template.
        if record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)
        return f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second, self._text = (
                second,
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)),
            )
        return f"{self._text},{int(record.msecs):03d}"


class _BufferedStream(logging.StreamHandler):  # type: ignore[type-arg]
    """Log lines written in batches: at most ``FLUSH_EVERY`` seconds late, at once from
    WARNING up, and at exit (``logging.shutdown``). A write and a flush per line cost a
    busy inbox as much as a tenth of its time; a crash loses at most the last quarter
    second of lines below WARNING, never anything the database holds."""

    FLUSH_EVERY = 0.25
    MAX_BUFFER = 64 * 1024

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._lines: list[str] = []
        self._size = 0
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        # ``handle`` holds the handler's lock around ``emit``.
        self._lines.append(line)
        self._size += len(line)
        if record.levelno >= logging.WARNING or self._size >= self.MAX_BUFFER:
            self.flush()
        elif self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_soon, name="kantine-log-flush", daemon=True
            )
            self._flusher.start()

    def _flush_soon(self) -> None:
        while True:
            time.sleep(self.FLUSH_EVERY)
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._lines:
                lines, self._lines, self._size = self._lines, [], 0
                # A closed stream or a full disk loses these lines, not the process.
                with contextlib.suppress(OSError, ValueError):
                    self.stream.write("".join(lines))
            super().flush()


def _configure_logging(verbose: bool) -> None:
    # What the lines do not show is not collected (the logging docs' "Optimization"):
    # the caller's file and line (a walk up the stack per line), thread and process names.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = _BufferedStream(sys.stderr)
    handler.setFormatter(_Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if args.command != "serve":
        logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    run: Callable[[argparse.Namespace], object] = args.run
    try:
        result = run(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
    except (ConfigError, NameTaken, LookupError, commands.CommandError) as exc:
        return _fail(str(exc))
    except ProtocolError as exc:
        return _fail(exc.reason)
    except sqlite3.Error as exc:
        return _fail(f"database error: {exc}")
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


def _fail(message: str) -> int:
    print(f"kantine: error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
