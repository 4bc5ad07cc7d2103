"""``kantine demo``: three networks on loopback that follow each other, with example content.

The networks are real nodes (each its own data directory, keys, SQLite file and
HTTP server); they find each other through WebFinger and federate over HTTP
with real signatures, exactly as nodes on three machines would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from . import config
from .app import RUNTIME, create_app
from .commands import init
from .runtime import Runtime
from .storage import actors as actors_db
from .storage import follows as follows_db

__all__ = ["NETWORKS", "register_cli", "run_demo"]


@dataclass(frozen=True)
class DemoNetwork:
    key: str
    name: str
    slug: str
    port: int
    city: str


NETWORKS = (
    DemoNetwork("leeuwarden", "ZZP Leeuwarden", "leeuwarden", 8081, "Leeuwarden"),
    DemoNetwork("loosduinen", "Ondernemers Den Haag-Loosduinen", "loosduinen", 8082, "Den Haag"),
    DemoNetwork("haarlem", "Haarlem Zelfstandigen", "haarlem", 8083, "Haarlem"),
)

MEMBERS: dict[str, list[dict[str, Any]]] = {
    "leeuwarden": [
        {
            "username": "anna",
            "name": "Anna de Vries",
            "discipline": "Graphic design",
            "skills": ["design", "branding"],
            "role": "admin",
        },
        {
            "username": "sjoerd",
            "name": "Sjoerd Hoekstra",
            "discipline": "Bookkeeping",
            "skills": ["bookkeeping", "tax"],
            "role": "organiser",
        },
    ],
    "loosduinen": [
        {
            "username": "fatima",
            "name": "Fatima El Amrani",
            "discipline": "Translation",
            "skills": ["translation", "arabic"],
            "role": "admin",
        },
        {
            "username": "joost",
            "name": "Joost Bakker",
            "discipline": "Carpentry",
            "skills": ["carpentry", "renovation"],
            "role": "organiser",
        },
    ],
    "haarlem": [
        {
            "username": "lisa",
            "name": "Lisa Jansen",
            "discipline": "Web development",
            "skills": ["python", "web"],
            "role": "admin",
        },
        {
            "username": "mehmet",
            "name": "Mehmet Yilmaz",
            "discipline": "Photography",
            "skills": ["photography", "video"],
            "role": "organiser",
        },
    ],
}


def register_cli(sub: Any) -> None:
    from .cli import data_arg

    p = sub.add_parser("demo", help="run three example networks on loopback that follow each other")
    data_arg(p)
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    p.add_argument("--base-port", type=int, default=8081, help="first of three ports")
    p.add_argument(
        "--seconds", type=float, default=0, help="stop after this long (0: until Ctrl-C)"
    )
    p.set_defaults(run=run_demo)


async def run_demo(args: argparse.Namespace) -> int:
    root = Path(args.data or "kantine-demo")
    host = args.host
    stop = _stop_on_signals()
    nodes: list[tuple[DemoNetwork, web.AppRunner, Runtime]] = []
    try:
        for i, net in enumerate(NETWORKS):
            port = args.base_port + i
            data = root / net.key
            if not (data / config.CONFIG_NAME).exists():
                init(
                    argparse.Namespace(
                        data=str(data),
                        url=f"http://{host}:{port}",
                        name=net.name,
                        slug=net.slug,
                        timezone="Europe/Amsterdam",
                        dev=True,
                    )
                )
            settings = config.load(data)
            app = create_app(settings)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, host, port).start()
            nodes.append((net, runner, app[RUNTIME]))
        for net, _, rt in nodes:
            for other, _, ort in nodes:
                if other is not net:
                    await _follow(rt, f"{other.slug}@{ort.settings.host}")
        await _until_followed(nodes)
        for net, _, rt in nodes:
            await _seed(net, rt)
        await _project(nodes)
        _print_where(nodes)
        if args.seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.seconds)
        else:
            await stop.wait()
    finally:
        for _, runner, _ in reversed(nodes):
            await runner.cleanup()
    return 0


async def _seed(net: DemoNetwork, rt: Runtime) -> None:
    """Members, a monthly Open Coffee and an assignment — once, on a fresh node."""
    if await actors_db.list_local(rt.db, "member"):
        return
    from .content.assignments.documents import Draft
    from .content.event_docs import EventSpec, PlaceSpec
    from .content.members.cards import NewMember

    members = rt.services["members"]
    added = []
    for spec in MEMBERS[net.key]:
        fields = dict(spec)
        role = fields.pop("role")
        member = await members.add(NewMember(city=net.city, visibility="public", **fields), by=None)
        await members.set_role(member.username, role, by=None)
        added.append(member)
    organiser = added[1]
    tz = ZoneInfo("Europe/Amsterdam")
    now = datetime.now(tz)
    first = (now + timedelta(days=7)).replace(hour=9, minute=30, second=0, microsecond=0)
    spec = EventSpec(
        title=f"Open Coffee {net.city}",
        timezone="Europe/Amsterdam",
        description=f"The monthly Open Coffee of {net.name}: meet, pass work on, drink coffee.",
        place=PlaceSpec(name="De Bibliotheek", address_locality=net.city, address_country="NL"),
        capacity=12,
        waitlist=True,
        organizers=[rt.federation.actor_id(organiser)],
    )
    await rt.services["events"].series.create(
        spec, first, first + timedelta(hours=2), "FREQ=MONTHLY;BYDAY=1TU", author=None
    )
    workshop = EventSpec(
        title=f"Workshop: pricing your work ({net.city})",
        timezone="Europe/Amsterdam",
        online="https://meet.example.org/pricing",
        capacity=2,
        organizers=[rt.federation.actor_id(organiser)],
    )
    start = (now + timedelta(days=10)).replace(hour=19, minute=0, second=0, microsecond=0)
    await rt.services["events"].create(workshop, start, start + timedelta(hours=1, minutes=30))
    draft = Draft(
        title=f"{MEMBERS[net.key][0]['discipline']} help wanted in {net.city}",
        description="A client asked for more than I can do this month. Who can take part of it?",
        skills=tuple(MEMBERS[net.key][0]["skills"]),
        place=net.city,
    )
    await rt.services["assignments"].create(added[0], draft, "public")


async def _follow(rt: Runtime, handle: str) -> None:
    network = await actors_db.get_local(rt.db, rt.settings.slug)
    assert network is not None
    remote = await rt.follows.resolve(handle)
    existing = await follows_db.get(rt.db, network.username, remote.id, "out")
    if existing is None or existing.state == "rejected":
        await rt.follows.follow(network, remote)


async def _until_followed(nodes: list[tuple[DemoNetwork, web.AppRunner, Runtime]]) -> None:
    """Wait (at most 20 s) until every network's follows are accepted, so content reaches them."""
    async with asyncio.timeout(20):
        while True:
            pending = 0
            for _, _, rt in nodes:
                rows = await follows_db.list_for(rt.db, rt.settings.slug, "out", None)
                pending += sum(1 for r in rows if r.state != "accepted")
            if pending == 0:
                return
            await asyncio.sleep(0.1)


async def _project(nodes: list[tuple[DemoNetwork, web.AppRunner, Runtime]]) -> None:
    """A shared project hosted in Loosduinen, with a participant from Leeuwarden."""
    projects = nodes[1][2].services["projects"]
    if not await projects.hosted():
        await projects.create(
            "buurtwerkplaats",
            "Buurtwerkplaats",
            "A shared workshop space for makers in three cities.",
        )
    project_id = nodes[1][2].urls.project("buurtwerkplaats")
    rt = nodes[0][2]
    anna = await actors_db.get_local(rt.db, "anna")
    if anna is None:
        return
    service = rt.services["projects"]
    with contextlib.suppress(Exception):  # already a participant on a re-run
        await service.join(anna, project_id)


def _print_where(nodes: list[tuple[DemoNetwork, web.AppRunner, Runtime]]) -> None:
    print("Kantine demo: three networks follow each other on loopback.\n", flush=True)
    for net, _, rt in nodes:
        base = rt.settings.base
        print(f"  {net.name}")
        print(f"    home page        {base}/")
        print(f"    network actor    {base}/network   (acct:{net.slug}@{rt.settings.host})")
        print(f"    calendar (JSON)  {base}/api/v1/calendar")
        print(f"    metrics          {base}/metrics")
    print(
        "\nThe networks see each other's meetups within seconds. Ctrl-C stops the demo.", flush=True
    )


def _stop_on_signals() -> asyncio.Event:
    """SIGINT/SIGTERM at any moment end the demo cleanly (servers closed, databases flushed)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop
