"""The ``kantine`` command line: parse arguments, run one command, map errors to exit codes.

Exit status: 0 on success, 1 on a failure (one clear line on stderr), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import sys
from collections.abc import Callable, Sequence

from protocol.errors import ProtocolError

from . import commands, logs
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(args.verbose)
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
