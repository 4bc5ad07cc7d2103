"""``kantine project …``: add, list, show and remove projects; join, leave and post as a member."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ...cli import data_arg, json_arg
from ...commands import CommandError, acting, print_table, runtime_for
from ...storage import projects as projects_db

__all__ = ["register_cli"]


def register_cli(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "project", help="shared projects: add, list, show, remove, join, post"
    )
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    q = sub.add_parser("add", help="create a project hosted by this node")
    data_arg(q)
    q.add_argument("slug", help="the project's handle (its actor is /projects/SLUG)")
    q.add_argument("--name", required=True, help="the project's display name")
    q.add_argument("--summary", default="", help="what the project is about")
    q.set_defaults(run=add)

    q = sub.add_parser("list", help="list the projects hosted by this node")
    data_arg(q)
    json_arg(q)
    q.set_defaults(run=list_projects)

    q = sub.add_parser("show", help="show a project and its participants")
    data_arg(q)
    json_arg(q)
    q.add_argument("slug")
    q.set_defaults(run=show)

    q = sub.add_parser("remove", help="delete a project (its followers are told)")
    data_arg(q)
    q.add_argument("slug")
    q.set_defaults(run=remove)

    for name, helptext, fn in (
        ("join", "take part in a project (a slug here, or name@host / URL elsewhere)", join),
        ("leave", "stop taking part in a project", leave),
    ):
        q = sub.add_parser(name, help=helptext)
        data_arg(q)
        q.add_argument("project", help="SLUG, name@host or the project's URL")
        q.add_argument("--as", dest="as_user", required=True, help="the member")
        q.set_defaults(run=fn)

    q = sub.add_parser("post", help="post an update to a project, as a participant")
    data_arg(q)
    q.add_argument("project", help="SLUG, name@host or the project's URL")
    q.add_argument("--as", dest="as_user", required=True, help="the member who posts")
    q.add_argument("--text", required=True, help="the update's text")
    q.add_argument("--name", help="an optional title")
    q.set_defaults(run=post)


async def add(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        project = await rt.services["projects"].create(args.slug, args.name, args.summary)
        print(f"Created project {project.username!r}: {rt.urls.project(project.username)}")
    return 0


async def list_projects(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        rows = [
            {
                "slug": p.username,
                "name": p.name,
                "participants": await projects_db.count(rt.db, p.username),
                "created": p.created_at,
            }
            for p in await rt.services["projects"].hosted()
        ]
    print_table(rows, args.json, ["slug", "name", "participants", "created"])
    return 0


async def show(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        service = rt.services["projects"]
        project = await service.get(args.slug)
        people = await service.participants(args.slug)
        url = rt.urls.project(project.username)
    if args.json:
        doc = {
            "slug": project.username,
            "id": url,
            "name": project.name,
            "summary": project.summary,
            "participants": [{"actor": p.actor, "since": p.created_at} for p in people],
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    print(f"{project.name} ({project.username})  {url}")
    if project.summary:
        print(project.summary)
    print_table(
        ({"participant": p.actor, "since": p.created_at} for p in people),
        False,
        ["participant", "since"],
    )
    return 0


async def remove(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        await rt.services["projects"].remove(args.slug)
    print(f"removed project {args.slug!r}; the running node tells its followers")
    return 0


async def _member(rt: Any, username: str) -> Any:
    member = await acting(rt, username)
    if member.kind != "member":
        raise CommandError(f"{username!r} is not a member")
    return member


async def join(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        member = await _member(rt, args.as_user)
        project = await rt.services["projects"].join(member, args.project)
    if project.local is not None:
        print(f"{args.as_user} takes part in {project.id}")
    else:
        print(f"{args.as_user} asked to join {project.id}; the running node delivers the request")
    return 0


async def leave(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        member = await _member(rt, args.as_user)
        project = await rt.services["projects"].leave(member, args.project)
    print(f"{args.as_user} left {project.id}")
    return 0


async def post(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        member = await _member(rt, args.as_user)
        signed = await rt.services["projects"].post(member, args.project, args.text, name=args.name)
    print(f"posted {signed['object']['id']}; the running node delivers it")
    return 0
