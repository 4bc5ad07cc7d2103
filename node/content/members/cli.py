"""``kantine member ...``: add, update, role, list, show, token, remove.

Without ``--as`` a command acts as the node's operator (who may do anything);
with ``--as USERNAME`` it acts as that member and the member's role is checked,
as the API does.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ...api.auth import ROLE_RANK
from .cards import VISIBILITIES, CardChange, Link, NewMember, member_json

__all__ = ["register_cli"]


def register_cli(subparsers: Any) -> None:
    from ... import cli as node_cli  # node.cli builds the parser that calls this

    member = subparsers.add_parser("member", help="manage the network's members and their cards")
    sub = member.add_subparsers(dest="member_command", required=True, metavar="ACTION")

    p = sub.add_parser("add", help="add a member (admins)")
    p.add_argument("username", help="a-z, 0-9 and _, at most 30 characters")
    p.add_argument("--name", required=True, help="the member's display name")
    _card_args(p)
    p.add_argument("--role", choices=list(ROLE_RANK), default="member")
    _common(p, node_cli)
    p.set_defaults(run=_add)

    p = sub.add_parser("update", help="change a member's card")
    p.add_argument("username")
    p.add_argument("--name")
    _card_args(p)
    _common(p, node_cli)
    p.set_defaults(run=_update)

    p = sub.add_parser("role", help="change a member's role (admins)")
    p.add_argument("username")
    p.add_argument("role", choices=list(ROLE_RANK))
    _common(p, node_cli)
    p.set_defaults(run=_role)

    p = sub.add_parser("list", help="list the members")
    node_cli.data_arg(p)
    node_cli.json_arg(p)
    p.set_defaults(run=_list)

    p = sub.add_parser("show", help="show a member's card")
    p.add_argument("username")
    node_cli.data_arg(p)
    node_cli.json_arg(p)
    p.set_defaults(run=_show)

    p = sub.add_parser("token", help="print a new API token for a member (or the network)")
    p.add_argument("username")
    p.add_argument("--label", default="", help="what the token is for")
    _common(p, node_cli)
    p.set_defaults(run=_token)

    p = sub.add_parser("remove", help="remove a member: every node that holds the card drops it")
    p.add_argument("username")
    _common(p, node_cli)
    p.set_defaults(run=_remove)

    from ...web.passwords import passwd  # the web sign-in's password (node/web)

    p = sub.add_parser("passwd", help="set a member's password for signing in on the web pages")
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true", help="read it from standard input")
    node_cli.data_arg(p)
    p.set_defaults(run=passwd)


def _common(p: argparse.ArgumentParser, node_cli: Any) -> None:
    node_cli.data_arg(p)
    p.add_argument("--as", dest="as_user", help="act as this member (its role is checked)")


def _card_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--summary", help="a few sentences about the member")
    p.add_argument("--discipline", help="e.g. 'graphic design'")
    p.add_argument("--skills", help="comma-separated, e.g. python,illustration")
    p.add_argument("--city")
    p.add_argument("--website", help="https://...")
    p.add_argument(
        "--link",
        action="append",
        metavar="LABEL=URL",
        help="a contact link (repeatable); replaces the card's links",
    )
    available = p.add_mutually_exclusive_group()
    available.add_argument("--available", dest="available", action="store_true", default=None)
    available.add_argument("--unavailable", dest="available", action="store_false")
    p.add_argument("--visibility", choices=list(VISIBILITIES), help="who sees the card's fields")


def _change(args: argparse.Namespace) -> dict[str, Any]:
    from ... import commands

    fields: dict[str, Any] = {}
    for name in ("name", "summary", "discipline", "city", "website", "available", "visibility"):
        value = getattr(args, name, None)
        if value is not None:
            fields[name] = value
    if args.skills is not None:
        fields["skills"] = [s.strip() for s in args.skills.split(",") if s.strip()]
    if args.link is not None:
        links = []
        for item in args.link:
            label, sep, url = item.partition("=")
            if not sep or not label.strip():
                raise commands.CommandError(f"--link must be LABEL=URL, got {item!r}")
            links.append(Link(name=label.strip(), value=url.strip()))
        fields["links"] = links
    return fields


async def _acting(rt: Any, args: argparse.Namespace) -> Any:
    from ... import commands

    return None if args.as_user is None else await commands.acting(rt, args.as_user)


def _print_member(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for key, value in data.items():
        if isinstance(value, list):
            value = ", ".join(
                f"{v['name']}={v['value']}" if isinstance(v, dict) else str(v) for v in value
            )
        print(f"{key + ':':<12} {value}")


async def _add(args: argparse.Namespace) -> int:
    from ... import commands

    async with commands.runtime_for(args) as rt:
        by = await _acting(rt, args)
        new = NewMember(username=args.username, role=args.role, **_change(args))
        actor = await rt.services["members"].add(new, by=by)
        print(f"added {actor.username} ({actor.role}): {rt.urls.actor(actor.path)}")
    return 0


async def _update(args: argparse.Namespace) -> int:
    from ... import commands

    async with commands.runtime_for(args) as rt:
        by = await _acting(rt, args)
        change = CardChange(**_change(args))
        actor = await rt.services["members"].update(args.username, change, by=by)
        print(f"updated {actor.username}; followers are told")
    return 0


async def _role(args: argparse.Namespace) -> int:
    from ... import commands

    async with commands.runtime_for(args) as rt:
        by = await _acting(rt, args)
        actor = await rt.services["members"].set_role(args.username, args.role, by=by)
        print(f"{actor.username} is now {actor.role}")
    return 0


async def _list(args: argparse.Namespace) -> int:
    from ... import commands

    async with commands.runtime_for(args) as rt:
        rows = [member_json(m, rt.urls, "network") for m in await rt.services["members"].members()]
    commands.print_table(
        rows, args.json, ["username", "name", "role", "visibility", "discipline", "city"]
    )
    return 0


async def _show(args: argparse.Namespace) -> int:
    from ... import commands

    async with commands.runtime_for(args) as rt:
        actor = await rt.services["members"].get(args.username)
        data = member_json(actor, rt.urls, "network")
    _print_member(data, args.json)
    return 0


async def _token(args: argparse.Namespace) -> int:
    from ... import commands

    async with commands.runtime_for(args) as rt:
        by = await _acting(rt, args)
        token = await rt.services["members"].new_token(args.username, by=by, label=args.label)
    print(token)
    return 0


async def _remove(args: argparse.Namespace) -> int:
    from ... import commands

    async with commands.runtime_for(args) as rt:
        by = await _acting(rt, args)
        actor = await rt.services["members"].remove(args.username, by=by)
        print(f"removed {actor.username}; the running node tells every node that holds the card")
    return 0
