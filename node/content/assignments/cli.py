"""``kantine assignment ...``: add, list, show, withdraw, fill, remove; offers, offer, accept, reject.

The CLI runs on the node's host, so it acts for any member: an assignment is
managed as its author, an offer is made ``--as`` a member.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ...cli import data_arg, json_arg
from ...commands import CommandError, acting, print_table, runtime_for
from ...storage.objects import StoredObject
from .documents import Budget, Draft, parse_deadline
from .offers import offer_json
from .service import DEFAULT_VISIBILITY, Service

__all__ = ["register_cli"]

_COLUMNS = ["id", "title", "status", "visibility", "skills", "deadline", "author"]
_OFFER_COLUMNS = ["id", "state", "actor", "assignment", "message"]


def _row(service: Service, row: StoredObject) -> dict[str, Any]:
    data = service.to_json(row)
    return {**data, "skills": ", ".join(data["skills"]), "deadline": data["deadline"] or ""}


def _print_one(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for key, value in data.items():
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        elif isinstance(value, dict):
            value = " ".join(str(v) for v in value.values() if v)
        print(f"{key:>12}: {'' if value is None else value}")


async def add(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        service: Service = rt.services["assignments"]
        author = await acting(rt, args.author)
        draft = Draft(
            title=args.title,
            description=args.description or "",
            skills=tuple(s for s in (args.skills or "").split(",") if s.strip()),
            place=args.place,
            remote=args.remote,
            deadline=parse_deadline(args.deadline, rt.settings.timezone) if args.deadline else None,
            budget=Budget.parse(args.budget) if args.budget else None,
        )
        row = await service.create(author, draft, args.visibility)
        if args.json:
            _print_one(service.to_json(row), True)
        else:
            print(f"added assignment {service.ident(row)} ({row.visibility}): {row.id}")
    return 0


async def listing(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        service: Service = rt.services["assignments"]
        network = await acting(rt, None)
        author = await acting(rt, args.author) if args.author else None
        rows = await service.listing(
            network,  # the CLI sees everything the node keeps
            local=None if args.board else True,
            author=author,
            skill=args.skill,
            status=None if args.status == "all" else args.status,
        )
        print_table((_row(service, r) for r in rows), args.json, _COLUMNS)
    return 0


async def show(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        service: Service = rt.services["assignments"]
        row = await service.get(args.id, local=False)
        _print_one(service.to_json(row), args.json)
    return 0


async def _manage(args: argparse.Namespace, what: str) -> int:
    async with runtime_for(args) as rt:
        service: Service = rt.services["assignments"]
        row = await service.get(args.id)
        author = await service.author_of(row)
        if what == "remove":
            await service.remove(author, args.id)
            print(f"removed assignment {args.id}; the running node tells whoever had it")
        else:
            status = "withdrawn" if what == "withdraw" else "filled"
            await service.set_status(author, args.id, status)
            print(f"assignment {args.id} is {status}")
    return 0


async def remove(args: argparse.Namespace) -> int:
    return await _manage(args, "remove")


async def withdraw(args: argparse.Namespace) -> int:
    return await _manage(args, "withdraw")


async def fill(args: argparse.Namespace) -> int:
    return await _manage(args, "fill")


async def offers(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        service: Service = rt.services["assignments"]
        row = await service.get(args.id)
        found = await service.offers.for_assignment(await service.author_of(row), args.id)
        print_table((offer_json(o) for o in found), args.json, _OFFER_COLUMNS)
    return 0


async def offer(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        service: Service = rt.services["assignments"]
        member = await acting(rt, args.as_user)
        if member.kind != "member":
            raise CommandError(f"{member.username} is not a member")
        made = await service.offers.make(member, args.assignment, args.message or "")
        if args.json:
            _print_one(offer_json(made), True)
        else:
            print(f"offer {made.id} sent to {made.author}: {made.activity_id}")
    return 0


async def _answer(args: argparse.Namespace, accept: bool) -> int:
    async with runtime_for(args) as rt:
        service: Service = rt.services["assignments"]
        found = await service.offers.get(args.offer_id)
        if found.direction != "in":
            raise CommandError(f"offer {args.offer_id} was made by a member here, not to one")
        row = await service.get(found.assignment)
        answered = await service.offers.answer(
            await service.author_of(row), args.offer_id, accept, args.reason
        )
        print(f"offer {answered.id} {answered.state}; the running node tells {answered.actor}")
    return 0


async def accept(args: argparse.Namespace) -> int:
    return await _answer(args, True)


async def reject(args: argparse.Namespace) -> int:
    return await _answer(args, False)


def register_cli(subparsers: Any) -> None:
    top = subparsers.add_parser("assignment", help="open assignments and offers")
    sub = top.add_subparsers(dest="assignment_command", required=True, metavar="ACTION")

    p = sub.add_parser("add", help="publish an open assignment")
    data_arg(p)
    json_arg(p)
    p.add_argument("--author", required=True, help="the member who offers the work")
    p.add_argument("--title", required=True)
    p.add_argument("--description", help="plain text; blank lines separate paragraphs")
    p.add_argument("--skills", help="comma-separated, e.g. 'design,illustration'")
    p.add_argument("--place", help="where the work is done (a town or an address)")
    p.add_argument("--remote", action="store_true", help="the work can be done remotely")
    p.add_argument("--deadline", help="a date (2025-06-01) or an RFC 3339 time")
    p.add_argument("--budget", help="e.g. '1500 EUR'")
    p.add_argument(
        "--visibility",
        choices=["public", "cooperative", "network"],
        default=DEFAULT_VISIBILITY,
        help=f"who sees it (default: {DEFAULT_VISIBILITY})",
    )
    p.set_defaults(run=add)

    p = sub.add_parser("list", help="list assignments (open ones unless --status)")
    data_arg(p)
    json_arg(p)
    p.add_argument("--author", help="only this member's")
    p.add_argument("--skill")
    p.add_argument("--status", choices=["open", "filled", "withdrawn", "all"], default="open")
    p.add_argument("--board", action="store_true", help="include assignments from other nodes")
    p.set_defaults(run=listing)

    p = sub.add_parser("show", help="show one assignment (a local id or any kept IRI)")
    data_arg(p)
    json_arg(p)
    p.add_argument("id")
    p.set_defaults(run=show)

    for name, helptext, fn in (
        ("withdraw", "withdraw an open assignment", withdraw),
        ("fill", "mark an open assignment as filled", fill),
        ("remove", "delete an assignment everywhere", remove),
    ):
        p = sub.add_parser(name, help=helptext)
        data_arg(p)
        p.add_argument("id")
        p.set_defaults(run=fn)

    p = sub.add_parser("offers", help="list the offers on one of our assignments")
    data_arg(p)
    json_arg(p)
    p.add_argument("id")
    p.set_defaults(run=offers)

    p = sub.add_parser("offer", help="a member offers to do an assignment (here or elsewhere)")
    data_arg(p)
    json_arg(p)
    p.add_argument("assignment", help="the assignment's IRI (or a local id)")
    p.add_argument("--as", dest="as_user", required=True, help="the member who offers")
    p.add_argument("--message", help="a note to the author")
    p.set_defaults(run=offer)

    for name, helptext, fn in (
        ("accept", "accept an offer (the author's answer)", accept),
        ("reject", "reject an offer", reject),
    ):
        p = sub.add_parser(name, help=helptext)
        data_arg(p)
        p.add_argument("offer_id")
        p.add_argument("--reason", help="a short reason, sent with the answer")
        p.set_defaults(run=fn)
