"""``kantine member export``, ``kantine keys rotate``, ``kantine backup`` and ``kantine restore``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["register_cli"]


def register_cli(subparsers: Any) -> None:
    from ... import cli as node_cli  # node.cli builds the parser that calls this

    member = subparsers.choices.get("member")
    if member is not None:  # the members module made `kantine member`; add `export` to it
        p = _subcommands(member).add_parser(
            "export", help="write everything the node holds about a member as JSON"
        )
        p.add_argument("username")
        p.add_argument("--output", help="write to this file (default: standard output)")
        node_cli.data_arg(p)
        p.add_argument("--as", dest="as_user", help="act as this member (its role is checked)")
        p.set_defaults(run=_export)

    keys = subparsers.add_parser("keys", help="the node's signing keys")
    sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    p = sub.add_parser(
        "rotate",
        help="new keys for an actor (or all); peers learn them from an Update signed with them",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--actor", help="the actor's name: a member, the network's slug, relay")
    which.add_argument("--all", action="store_true", help="every actor of the node")
    node_cli.data_arg(p)
    p.add_argument("--as", dest="as_user", help="act as this member (must be an admin)")
    p.set_defaults(run=_rotate)

    p = subparsers.add_parser(
        "backup", help="write the whole node (config and a consistent database copy) to a tar.gz"
    )
    node_cli.data_arg(p)
    p.add_argument("--output", required=True, help="the archive to write (must not exist)")
    p.set_defaults(run=_backup)

    p = subparsers.add_parser(
        "restore", help="make a node in a new data directory from a `kantine backup` archive"
    )
    node_cli.data_arg(p)
    p.add_argument("--input", required=True, help="the archive `kantine backup` wrote")
    p.set_defaults(run=_restore)


def _subcommands(parser: argparse.ArgumentParser) -> Any:
    """The sub-command table of a parser that has one (argparse keeps it among its actions)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise LookupError(f"{parser.prog} has no sub-commands")


async def _acting(rt: Any, as_user: str | None) -> Any:
    from ... import commands

    return None if as_user is None else await commands.acting(rt, as_user)


async def _export(args: argparse.Namespace) -> int:
    from ... import commands

    async with commands.runtime_for(args) as rt:
        by = await _acting(rt, args.as_user)
        data = await rt.services["account"].export(args.username, by=by)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    target = Path(args.output)
    tmp = target.with_name(target.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # personal data
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    tmp.replace(target)
    print(f"wrote the export of {args.username} to {target}", file=sys.stderr)
    return 0


async def _rotate(args: argparse.Namespace) -> int:
    from ... import commands

    async with commands.runtime_for(args) as rt:
        by = await _acting(rt, args.as_user)
        svc = rt.services["account"]
        rotated = await svc.rotate_keys(None if args.all else [args.actor], by=by)
        for actor in rotated:
            print(f"rotated the keys of {rt.urls.actor(actor.path)}")
    print("the running node signs with the new keys and delivers the Updates", file=sys.stderr)
    return 0


def _backup(args: argparse.Namespace) -> int:
    from ... import backup, commands, config

    try:
        manifest = backup.create_backup(config.data_dir(args.data), Path(args.output))
    except backup.BackupError as exc:
        raise commands.CommandError(str(exc)) from exc
    print(f"backed up {manifest.url} (schema {manifest.schema_version}) to {args.output}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from ... import backup, commands, config

    data = config.data_dir(args.data)
    try:
        manifest = backup.restore_backup(data, Path(args.input))
    except backup.BackupError as exc:
        raise commands.CommandError(str(exc)) from exc
    print(f"restored {manifest.url} (backed up {manifest.created}) into {data}")
    print(f"  start it: kantine serve --data {data}")
    return 0
