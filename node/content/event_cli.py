"""``kantine event …``: add, list, show, update, cancel, remove meetups; RSVP; series.

Times without an offset are wall time in the meetup's time zone (the node's by
default). Commands work while ``kantine serve`` runs on the same data directory:
what they publish is queued, and the running node delivers it within seconds.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

import msgspec

from .event_api import EventInput, apply_changes, create_from, view
from .event_docs import PlaceSpec, SpecError, parse_place

if TYPE_CHECKING:
    from .events import Service

__all__ = ["register_cli"]


def register_cli(subparsers: Any) -> None:
    from .. import cli as node_cli

    event = subparsers.add_parser("event", help="manage meetups, RSVPs and recurring series")
    sub = event.add_subparsers(dest="event_command", required=True, metavar="ACTION")

    p = sub.add_parser("add", help="add a meetup (or a series, with --repeat)")
    p.add_argument("--title", required=True)
    p.add_argument("--start", required=True, help="ISO 8601; without an offset: local time")
    _fields(p)
    p.add_argument("--repeat", help="RFC 5545 RRULE, e.g. FREQ=MONTHLY;BYDAY=1WE")
    p.add_argument("--horizon-days", type=int, help="how far ahead a series publishes")
    p.add_argument("--project", help="attribute the meetup to this project (its slug)")
    _common(p, node_cli)
    p.set_defaults(run=_add)

    p = sub.add_parser("update", help="change a meetup (its followers get an Update)")
    p.add_argument("id", help="the meetup's id or IRI")
    p.add_argument("--title")
    p.add_argument("--start")
    _fields(p)
    p.add_argument("--no-capacity", action="store_true", help="remove the capacity limit")
    p.add_argument("--status", choices=["EventScheduled", "EventPostponed", "EventMovedOnline"])
    _common(p, node_cli)
    p.set_defaults(run=_update)

    for name, helptext, fn in (
        ("show", "show a meetup", _show),
        ("cancel", "cancel a meetup (eventStatus EventCancelled)", _cancel),
        ("remove", "delete a meetup (a Delete goes to every follower)", _remove),
        ("participants", "list who RSVPed (organisers' eyes only)", _participants),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("id", help="the meetup's id or IRI")
        _common(p, node_cli)
        p.set_defaults(run=fn)

    p = sub.add_parser("list", help="list the upcoming meetups")
    p.add_argument("--past", action="store_true", help="include past meetups")
    _common(p, node_cli)
    p.set_defaults(run=_list)

    p = sub.add_parser("rsvp", help="RSVP as a member, to a meetup here or on another node")
    p.add_argument("event", help="the meetup's IRI (or id, for one of ours)")
    p.add_argument("--as", dest="as_user", required=True, help="the member who RSVPs")
    p.add_argument("--leave", action="store_true", help="withdraw the RSVP")
    _common(p, node_cli)
    p.set_defaults(run=_rsvp)

    p = sub.add_parser("series", help="recurring series: list, cancel, remove")
    p.add_argument("action", choices=["list", "cancel", "remove"])
    p.add_argument("id", nargs="?", help="the series' id or IRI")
    _common(p, node_cli)
    p.set_defaults(run=_series)

    p = sub.add_parser("publish-due", help="publish the series occurrences that are due now")
    _common(p, node_cli)
    p.set_defaults(run=_publish_due)


def _common(p: argparse.ArgumentParser, node_cli: Any) -> None:
    node_cli.data_arg(p)
    node_cli.json_arg(p)


def _fields(p: argparse.ArgumentParser) -> None:
    p.add_argument("--end", help="ISO 8601; without an offset: local time")
    p.add_argument("--timezone", help="IANA time zone (default: the node's)")
    p.add_argument("--description")
    p.add_argument("--organiser", action="append", help="organising member (repeatable)")
    p.add_argument("--place", help='"Name, Street 1, 1234 AB City"')
    p.add_argument("--street")
    p.add_argument("--postal-code")
    p.add_argument("--city")
    p.add_argument("--country")
    p.add_argument("--online", help="the meeting link")
    p.add_argument("--capacity", type=int)
    p.add_argument("--waitlist", action="store_true", help="keep a waitlist when full")
    p.add_argument("--join-mode", choices=["free", "restricted", "invite", "external"])
    p.add_argument("--external-url", help="where to RSVP when the join mode is external")
    p.add_argument("--visibility", choices=["public", "cooperative", "network"])


def _input(args: argparse.Namespace) -> EventInput:
    """The command line as the API's input (absent options change nothing)."""
    given: dict[str, Any] = {}
    for name in ("title", "start", "end", "timezone", "description", "online", "capacity"):
        if getattr(args, name, None) is not None:
            given[name] = getattr(args, name)
    for name in ("join_mode", "external_url", "visibility", "repeat", "horizon_days", "project"):
        if getattr(args, name, None) is not None:
            given[name] = getattr(args, name)
    if args.waitlist:
        given["waitlist"] = True
    if getattr(args, "no_capacity", False):
        given["capacity"] = None
    if getattr(args, "status", None):
        given["status"] = args.status
    if args.organiser is not None:
        given["organizers"] = args.organiser
    place = parse_place(args.place) if args.place else None
    extra = {"street_address": args.street, "postal_code": args.postal_code}
    extra |= {"address_locality": args.city, "address_country": args.country}
    if any(extra.values()):
        place = place or PlaceSpec()
        for key, value in extra.items():
            if value:
                setattr(place, key, value)
    if place is not None:
        given["place"] = msgspec.to_builtins(place)
    return msgspec.convert(given, EventInput)


def _print(value: Any, as_json: bool, line: str) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False) if as_json else line)


async def _run(args: argparse.Namespace, body: Any) -> int:
    from ..commands import CommandError, runtime_for

    async with runtime_for(args) as rt:
        svc: Service = rt.services["events"]
        try:
            return await body(rt, svc)  # type: ignore[no-any-return]
        except SpecError as exc:
            raise CommandError(str(exc)) from exc


async def _add(args: argparse.Namespace) -> int:
    async def body(rt: Any, svc: Service) -> int:
        network = await svc.publisher.network()
        inp = _input(args)
        if inp.organizers is msgspec.UNSET:
            inp.organizers = []
        result = await create_from(svc, network, inp)
        if "occurrences" in result:
            dates = ", ".join(o["start"] for o in result["occurrences"]) or "none yet"
            line = (
                f"series {result['series']['id']} ({result['series']['iri']}); published: {dates}"
            )
        else:
            line = f"meetup {result['id']} ({result['iri']})"
        _print(result, args.json, line)
        return 0

    return await _run(args, body)


async def _update(args: argparse.Namespace) -> int:
    async def body(rt: Any, svc: Service) -> int:
        ev = await apply_changes(svc, await svc.get(args.id), _input(args))
        _print(await view(svc, ev), args.json, f"updated {ev.ident}")
        return 0

    return await _run(args, body)


async def _show(args: argparse.Namespace) -> int:
    async def body(rt: Any, svc: Service) -> int:
        result = await view(svc, await svc.get(args.id))
        lines = [f"{k}: {v}" for k, v in result.items() if v not in (None, "", [])]
        _print(result, args.json, "\n".join(lines))
        return 0

    return await _run(args, body)


async def _cancel(args: argparse.Namespace) -> int:
    async def body(rt: Any, svc: Service) -> int:
        ev = await svc.cancel(await svc.get(args.id))
        _print(await view(svc, ev), args.json, f"cancelled {ev.ident}")
        return 0

    return await _run(args, body)


async def _remove(args: argparse.Namespace) -> int:
    async def body(rt: Any, svc: Service) -> int:
        ev = await svc.get(args.id)
        await svc.delete(ev)
        _print({"deleted": ev.ident}, args.json, f"deleted {ev.ident}")
        return 0

    return await _run(args, body)


async def _participants(args: argparse.Namespace) -> int:
    from ..commands import print_table
    from ..storage import events as events_db

    async def body(rt: Any, svc: Service) -> int:
        ev = await svc.get(args.id)
        rows = await events_db.list_participants(svc.db, ev.id)
        print_table(
            ({"actor": p.actor, "state": p.state, "since": p.joined_at} for p in rows),
            args.json,
            ["actor", "state", "since"],
        )
        return 0

    return await _run(args, body)


async def _list(args: argparse.Namespace) -> int:
    from ..clock import iso
    from ..commands import print_table
    from ..storage import events as events_db

    async def body(rt: Any, svc: Service) -> int:
        after = None if args.past else iso(rt.clock())
        rows = [
            await view(svc, ev) for ev in await events_db.list_events(svc.db, starts_after=after)
        ]
        print_table(
            rows, args.json, ["id", "start", "title", "status", "participant_count", "capacity"]
        )
        return 0

    return await _run(args, body)


async def _rsvp(args: argparse.Namespace) -> int:
    from ..commands import CommandError, acting

    async def body(rt: Any, svc: Service) -> int:
        member = await acting(rt, args.as_user)
        if member.kind != "member":
            raise CommandError(f"{args.as_user} is not a member")
        event = args.event
        if not event.startswith(("http://", "https://")):
            event = (await svc.get(event)).id
        if args.leave:
            former = await svc.withdraw(member, event)
            _print({"event": event, "was": former}, args.json, f"left {event} (was {former})")
        else:
            state = await svc.rsvp(member, event)
            note = " (the Join is on its way)" if state == "pending" else ""
            _print({"event": event, "state": state}, args.json, f"{state}{note}: {event}")
        return 0

    return await _run(args, body)


async def _series(args: argparse.Namespace) -> int:
    from ..commands import CommandError, print_table
    from ..storage import events as events_db

    async def body(rt: Any, svc: Service) -> int:
        if args.action == "list":
            rows = [svc.series.view(s) for s in await events_db.list_series(svc.db)]
            print_table(rows, args.json, ["id", "title", "rrule", "dtstart", "cancelled"])
            return 0
        found = await events_db.get_series(svc.db, args.id or "")
        if found is None:
            raise CommandError(f"no series {args.id!r}")
        if args.action == "cancel":
            done = await svc.series.cancel(found)
            _print({"cancelled": found.ident}, args.json, f"cancelled {found.ident} ({len(done)})")
        else:
            n = await svc.series.delete(found)
            _print({"deleted": found.ident}, args.json, f"deleted {found.ident} ({n} occurrences)")
        return 0

    return await _run(args, body)


async def _publish_due(args: argparse.Namespace) -> int:
    async def body(rt: Any, svc: Service) -> int:
        created = await svc.publish_due_occurrences()
        _print([ev.ident for ev in created], args.json, f"published {len(created)} occurrences")
        return 0

    return await _run(args, body)
