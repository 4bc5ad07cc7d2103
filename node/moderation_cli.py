"""``kantine`` moderation commands: allow/disallow, blocks, block-actor, reports, report."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

from . import moderation
from .cli import data_arg, json_arg
from .clock import iso, system_clock
from .commands import CommandError, open_db, print_table, runtime_for
from .storage import moderation as moderation_db

__all__ = ["register"]

BY = "cli"


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except moderation.ModerationError as exc:
        raise CommandError(str(exc)) from exc


async def allow(args: argparse.Namespace) -> int:
    settings, db = await open_db(args)
    try:
        with _user_errors():
            await moderation.allow_host(db, args.host, by=BY, now=iso(system_clock()))
    finally:
        await db.close()
    note = "" if settings.allowlist_mode else " (allowlist_mode is off: the list is not enforced)"
    print(f"allowed {moderation.normalize_host(args.host)}{note}")
    return 0


async def disallow(args: argparse.Namespace) -> int:
    settings, db = await open_db(args)
    try:
        with _user_errors():
            found, cancelled = await moderation.disallow_host(
                db,
                args.host,
                by=BY,
                now=iso(system_clock()),
                allowlist_mode=settings.allowlist_mode,
            )
    finally:
        await db.close()
    if not found:
        raise CommandError(f"{args.host} was not on the allowlist")
    print(f"disallowed {moderation.normalize_host(args.host)}; cancelled {cancelled} deliveries")
    return 0


async def blocks(args: argparse.Namespace) -> int:
    _, db = await open_db(args)
    try:
        found = await moderation.listing(db)
    finally:
        await db.close()
    rows: list[dict[str, Any]] = [
        {"kind": "host", "subject": r["host"], "reason": r["reason"], "since": r["created_at"]}
        for r in found["hosts"]
    ]
    rows += [
        {"kind": "actor", "subject": r["remote"], "reason": "", "since": r["created_at"]}
        for r in found["actors"]
    ]
    print_table(rows, args.json, ["kind", "subject", "reason", "since"])
    return 0


async def allows(args: argparse.Namespace) -> int:
    settings, db = await open_db(args)
    try:
        rows = (await moderation.listing(db))["allows"]
    finally:
        await db.close()
    if not args.json:
        print(f"allowlist mode is {'on' if settings.allowlist_mode else 'off'}")
    print_table(
        ({"host": r["host"], "since": r["created_at"]} for r in rows), args.json, ["host", "since"]
    )
    return 0


async def block_actor(args: argparse.Namespace) -> int:
    settings, db = await open_db(args)
    try:
        with _user_errors():
            removed = await moderation.block_actor(
                db,
                args.actor,
                args.reason,
                by=BY,
                now=iso(system_clock()),
                local_host=settings.host,
            )
    finally:
        await db.close()
    print(f"blocked {args.actor}; removed {removed} follows")
    return 0


async def unblock_actor(args: argparse.Namespace) -> int:
    _, db = await open_db(args)
    try:
        with _user_errors():
            found = await moderation.unblock_actor(db, args.actor, by=BY, now=iso(system_clock()))
    finally:
        await db.close()
    if not found:
        raise CommandError(f"{args.actor} was not blocked")
    print(f"unblocked {args.actor}")
    return 0


async def reports(args: argparse.Namespace) -> int:
    _, db = await open_db(args)
    try:
        if args.resolve is not None:
            now = iso(system_clock())

            def write(conn):  # type: ignore[no-untyped-def]
                done = moderation_db.resolve_report(conn, args.resolve, now)
                if done:
                    moderation_db.audit(conn, now, BY, "resolve-report", f"#{args.resolve}")
                return done

            if not await db.write(write):
                raise CommandError(f"no open report #{args.resolve}")
            print(f"resolved report #{args.resolve}")
            return 0
        direction = "out" if args.sent else "in"
        state = None if args.all or args.sent else "open"
        found = await moderation_db.list_reports(db, direction=direction, state=state)
    finally:
        await db.close()
    print_table(
        (r.as_json() for r in found),
        args.json,
        ["id", "state", "reporter", "target", "reason", "created_at"],
    )
    return 0


async def report(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        with _user_errors():
            sent = await moderation.send_report(
                rt.federation, args.target, args.reason, objects=args.object or [], by=BY
            )
    found = sent["report"]
    if sent["queued"]:
        print(f"report #{found['id']} about {found['target']} queued for {found['host']}")
    else:
        print(f"report #{found['id']} stored, but {found['host']} is refused: nothing was sent")
    return 0


async def moderation_log(args: argparse.Namespace) -> int:
    _, db = await open_db(args)
    try:
        rows = await moderation_db.audit_log(db, limit=args.limit)
    finally:
        await db.close()
    print_table(rows, args.json, ["at", "by", "action", "subject", "detail"])
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("allow", help="put a host on the allowlist (closed co-operative)")
    data_arg(p)
    p.add_argument("host")
    p.set_defaults(run=allow)

    p = sub.add_parser("disallow", help="take a host off the allowlist")
    data_arg(p)
    p.add_argument("host")
    p.set_defaults(run=disallow)

    p = sub.add_parser("allows", help="list the allowlist")
    data_arg(p)
    json_arg(p)
    p.set_defaults(run=allows)

    p = sub.add_parser("blocks", help="list blocked hosts and actors")
    data_arg(p)
    json_arg(p)
    p.set_defaults(run=blocks)

    p = sub.add_parser("block-actor", help="block a remote actor node-wide (and drop its follows)")
    data_arg(p)
    p.add_argument("actor", help="the actor's URL")
    p.add_argument("--reason", default="")
    p.set_defaults(run=block_actor)

    p = sub.add_parser("unblock-actor", help="lift an actor block")
    data_arg(p)
    p.add_argument("actor", help="the actor's URL")
    p.set_defaults(run=unblock_actor)

    p = sub.add_parser("reports", help="list reports (Flag) received, or resolve one")
    data_arg(p)
    json_arg(p)
    p.add_argument("--all", action="store_true", help="resolved reports too")
    p.add_argument("--sent", action="store_true", help="the reports this node sent")
    p.add_argument("--resolve", type=int, metavar="ID", help="mark report ID resolved")
    p.set_defaults(run=reports)

    p = sub.add_parser("report", help="report a remote actor or object to its node (Flag)")
    data_arg(p)
    p.add_argument("target", help="the actor's or object's URL")
    p.add_argument("--reason", required=True, help="what is wrong, in a few words")
    p.add_argument("--object", action="append", help="another URL to name (repeatable)")
    p.set_defaults(run=report)

    p = sub.add_parser("moderation-log", help="the moderation decisions made, newest first")
    data_arg(p)
    json_arg(p)
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(run=moderation_log)
