"""What each ``kantine`` command does (the parser lives in ``node.cli``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import unicodedata
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from . import config
from .app import create_app
from .clock import iso, system_clock
from .config import ConfigError, Settings
from .eventloop import new_event_loop, tune_gc
from .runtime import Runtime, open_runtime
from .storage import actors as actors_db
from .storage import deliveries as q
from .storage import follows as follows_db
from .storage import inbox as inbox_db
from .storage.actors import LocalActor
from .storage.db import Database, connect_sync, migrate

__all__ = ["CommandError", "acting", "open_db", "print_table", "runtime_for"]

log = logging.getLogger("kantine.cli")
RESERVED = {"relay", "actor", "network", "inbox", "admin", "api", "static"}


class CommandError(Exception):
    """A command cannot do what was asked (exit 1, one line)."""


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:63] or "network"


def _settings(args: argparse.Namespace) -> Settings:
    return config.load(config.data_dir(args.data))


def print_table(rows: Iterable[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    rows = list(rows)
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        print("(none)")
        return

    def cell(row: dict[str, Any], column: str) -> str:
        value = row.get(column)
        return "" if value is None else str(value)  # JSON keeps null; a table shows blank

    widths = {c: max(len(c), *(len(cell(r, c)) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(cell(r, c).ljust(widths[c]) for c in columns))


# -- init and serve -------------------------------------------------------------


def init(args: argparse.Namespace) -> int:
    directory = config.data_dir(args.data)
    url = config.validate_url(args.url, dev=args.dev)
    slug = args.slug or slugify(args.name)
    if not config.SLUG_RE.match(slug) or slug in RESERVED:
        raise ConfigError(
            f"--slug {slug!r} is not allowed (a-z, 0-9, - and _; not a reserved name)"
        )
    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {args.timezone!r}") from exc
    if (directory / config.CONFIG_NAME).exists():
        raise ConfigError(f"{directory} already holds a Kantine node")
    directory.mkdir(parents=True, exist_ok=True)
    settings = Settings(url=url, name=args.name, slug=slug, timezone=args.timezone, dev=args.dev)
    now = iso(system_clock())
    conn = connect_sync(directory / config.DB_NAME)
    try:
        migrate(conn)
        conn.execute("BEGIN IMMEDIATE")
        actors_db.insert_local(conn, LocalActor.new(slug, "network", "/network", args.name, now))
        actors_db.insert_local(
            conn, LocalActor.new("relay", "instance", "/actor", f"{args.name} (instance)", now)
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    config.save(settings, directory)
    print(f"Created the Kantine node {args.name!r} in {directory}")
    print(f"  network: {url}/network  (acct:{slug}@{settings.host})")
    print(f"  start it: kantine serve --data {directory}")
    return 0


def serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        loop = new_event_loop(settings.event_loop)
    except ValueError as exc:  # e.g. event_loop = "uvloop" where it is not installed
        raise ConfigError(f"{settings.data_path / config.CONFIG_NAME}: {exc}") from exc
    # With a second core, deliveries are signed and sent by a child process (node.sender).
    app = create_app(settings, delivery_process=(os.cpu_count() or 1) > 1)
    print(
        f"Kantine node {settings.name!r} at {settings.url}, listening on {args.host}:{args.port}"
        f" (event loop: {type(loop).__module__.split('.')[0]})",
        flush=True,
    )
    tune_gc()
    web.run_app(
        app,
        loop=loop,
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
        keepalive_timeout=settings.limits.keepalive_timeout,
    )
    return 0


# -- follows ---------------------------------------------------------------------


@asynccontextmanager
async def runtime_for(args: argparse.Namespace) -> AsyncIterator[Runtime]:
    async with open_runtime(_settings(args), workers=False) as rt:
        yield rt


async def acting(rt: Runtime, as_user: str | None) -> LocalActor:
    username = as_user or rt.settings.slug
    actor = await actors_db.get_local(rt.db, username)
    if actor is None or actor.deleted_at is not None:
        raise CommandError(f"no local actor {username!r}")
    return actor


async def follow(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        local = await acting(rt, args.as_user)
        remote = await rt.follows.resolve(args.target)
        await rt.follows.follow(local, remote)
        print(
            f"{local.username} asked to follow {remote.id}; the running node delivers the request"
        )
    return 0


async def unfollow(args: argparse.Namespace) -> int:
    async with runtime_for(args) as rt:
        local = await acting(rt, args.as_user)
        remote = await rt.follows.resolve(args.target)
        if await rt.follows.unfollow(local, remote) is None:
            raise CommandError(f"{local.username} does not follow {remote.id}")
        print(f"{local.username} no longer follows {remote.id}")
    return 0


async def open_db(args: argparse.Namespace) -> tuple[Settings, Database]:
    settings = _settings(args)
    db = Database(settings.db_path, readers=1)
    await db.open()
    return settings, db


async def _list_follows(args: argparse.Namespace, direction: str, state: str) -> int:
    settings, db = await open_db(args)
    try:
        rows = await follows_db.list_for(
            db, args.as_user or settings.slug, direction, state, limit=10_000
        )
    finally:
        await db.close()
    print_table(
        ({"actor": r.remote, "state": r.state, "since": r.created_at} for r in rows),
        args.json,
        ["actor", "state", "since"],
    )
    return 0


async def followers(args: argparse.Namespace) -> int:
    return await _list_follows(args, "in", "accepted")


async def following(args: argparse.Namespace) -> int:
    settings, db = await open_db(args)
    try:
        rows = await follows_db.list_for(
            db, args.as_user or settings.slug, "out", None, limit=10_000
        )
    finally:
        await db.close()
    print_table(
        ({"actor": r.remote, "state": r.state, "since": r.created_at} for r in rows),
        args.json,
        ["actor", "state", "since"],
    )
    return 0


async def requests(args: argparse.Namespace) -> int:
    return await _list_follows(args, "in", "pending")


async def _answer(args: argparse.Namespace, approve: bool) -> int:
    async with runtime_for(args) as rt:
        local = await acting(rt, args.as_user)
        await rt.follows.answer(local, args.actor, approve)
        print(f"{'approved' if approve else 'rejected'} {args.actor}")
    return 0


async def approve(args: argparse.Namespace) -> int:
    return await _answer(args, True)


async def reject(args: argparse.Namespace) -> int:
    return await _answer(args, False)


# -- deliveries and blocks -------------------------------------------------------


async def inbox(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CommandError("--limit must be at least 1")
    _, db = await open_db(args)
    try:
        rows = await inbox_db.listing(db, state=args.state, limit=args.limit)
    finally:
        await db.close()
    print_table(
        (
            {
                "seq": r.seq,
                "received": r.received_at,
                "type": r.type,
                "activity": r.activity_id,
                "actor": r.actor,
                "state": r.state,
                "note": r.note or "",
            }
            for r in rows
        ),
        args.json,
        ["seq", "received", "type", "activity", "actor", "state", "note"],
    )
    return 0


async def deliveries(args: argparse.Namespace) -> int:
    _, db = await open_db(args)
    try:
        if args.action == "retry":
            n = await db.write(lambda c: q.retry_failed(c, iso(system_clock())))
            print(f"requeued {n} failed deliveries")
            return 0
        rows = await q.listing(db, failed_only=args.failed)
    finally:
        await db.close()
    print_table(
        (
            {
                "id": d.id,
                "inbox": d.inbox_url,
                "state": d.state,
                "attempts": d.attempts,
                "next": d.next_at,
                "status": d.last_status or "",
                "error": d.last_error or "",
            }
            for d in rows
        ),
        args.json,
        ["id", "inbox", "state", "attempts", "next", "status", "error"],
    )
    return 0


async def block(args: argparse.Namespace) -> int:
    from . import moderation

    _, db = await open_db(args)
    now = iso(system_clock())
    try:
        host = moderation.normalize_host(args.host)
        cancelled = await moderation.block_host(db, host, args.reason, by="cli", now=now)
    except moderation.ModerationError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await db.close()
    print(f"blocked {host}; cancelled {cancelled} queued deliveries")
    return 0


async def unblock(args: argparse.Namespace) -> int:
    from . import moderation

    _, db = await open_db(args)
    try:
        found = await moderation.unblock_host(db, args.host, by="cli", now=iso(system_clock()))
    except moderation.ModerationError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await db.close()
    if not found:
        raise CommandError(f"{args.host} was not blocked")
    print(f"unblocked {args.host}")
    return 0
