"""Recurring meetups: RRULE expansion, occurrences published ahead as the clock advances,
one occurrence or the whole series changed or cancelled, on a following node."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from eventkit import add_member, api, follow_network, run_cli
from node.content.event_docs import SpecError
from node.content.series import expand, parse_rule
from node.storage import events as events_db
from nodes import FakeClock, Node, start_node, wait_for


def test_expand_keeps_wall_time_across_dst() -> None:
    start = datetime(2030, 1, 2, 9, 0)
    after = datetime(2030, 1, 1, tzinfo=UTC)
    got = expand(
        "FREQ=MONTHLY;BYDAY=1WE", start, "Europe/Amsterdam", after, after + timedelta(days=200)
    )
    assert [d.date().isoformat() for d in got][:5] == [
        "2030-01-02", "2030-02-06", "2030-03-06", "2030-04-03", "2030-05-01",
    ]  # fmt: skip
    assert {d.strftime("%H:%M") for d in got} == {"09:00"}
    assert {d.utcoffset() for d in got} == {timedelta(hours=1), timedelta(hours=2)}
    # Only what starts at or after ``after``; RRULE: prefix accepted.
    later = expand(
        "RRULE:FREQ=WEEKLY", start, "Europe/Amsterdam", got[1], got[1] + timedelta(days=8)
    )
    assert later[0] == got[1] and len(later) == 2


@pytest.mark.parametrize(
    "rule",
    ["FREQ=HOURLY", "FREQ=SECONDLY;COUNT=3", "BYDAY=MO", "FREQ=MONTHLY;BYDAY=XX", "nonsense",
     "DTSTART:20300101T090000\nRRULE:FREQ=DAILY"],
)  # fmt: skip
def test_bad_rules_are_refused(rule: str) -> None:
    with pytest.raises(SpecError):
        parse_rule(rule, datetime(2030, 1, 1, 9))


async def _occurrences(node: Node, series: str) -> dict[str, dict[str, Any]]:
    """What a node keeps of a series: occurrence start date -> the Event document."""
    rows = await node.rt.db.fetchall(
        "SELECT raw FROM objects WHERE series = ? AND deleted_at IS NULL", (series,)
    )
    import msgspec

    docs = [msgspec.json.decode(r["raw"]) for r in rows]
    return {d["startTime"][:10]: d for d in docs}


async def test_monthly_series_publishes_ahead_and_cancels_one(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2030, 1, 1, 8, 0, tzinfo=UTC))
    settings = {"clock": clock, "event_update_interval": 0, "series_horizon_days": 42}
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2", **settings)
    b = await start_node(tmp_path, "Loosduinen", host="127.0.0.3", clock=clock)
    try:
        await a.rt.services["events"].stop()  # the test drives the horizon with the clock
        _, organiser = await add_member(a, "sjoukje", "organiser")
        await follow_network(b, a)
        body = {
            "title": "Open Coffee",
            "start": "2030-01-02T09:00",
            "end": "2030-01-02T10:30",
            "place": "De Kantine, Leeuwarden",
            "repeat": "FREQ=MONTHLY;BYDAY=1WE",
            "capacity": 30,
        }
        status, created = await api(a, "POST", "/api/v1/series", organiser, body)
        assert status == 201, created
        series = created["series"]["iri"]
        assert [o["start"] for o in created["occurrences"]] == [
            "2030-01-02T09:00:00+01:00",
            "2030-02-06T09:00:00+01:00",
        ]
        await wait_for(lambda: _kept_dates(b, series, {"2030-01-02", "2030-02-06"}))
        feb = (await _occurrences(b, series))["2030-02-06"]
        assert feb["series"] == series and feb["recurrence"] == "FREQ=MONTHLY;BYDAY=1WE"
        assert feb["endTime"] == "2030-02-06T10:30:00+01:00"

        # A month on, the next occurrence comes within the horizon; publishing is idempotent.
        clock.advance(days=31)
        svc = a.rt.services["events"]
        assert [e.ident[-13:] for e in await svc.publish_due_occurrences()] == ["20300306-0900"]
        assert await svc.publish_due_occurrences() == []
        await wait_for(lambda: _kept_dates(b, series, {"2030-01-02", "2030-02-06", "2030-03-06"}))

        # Each occurrence takes its own RSVPs.
        march = (await _occurrences(a, series))["2030-03-06"]["id"]
        _, token = await add_member(a, "anne")
        status, _ = await api(a, "POST", f"/api/v1/events/{march.rsplit('/', 1)[1]}/rsvp", token)
        assert status == 200
        assert await events_db.count(a.rt.db, march) == 1

        # Cancelling one occurrence reaches the follower as that occurrence cancelled.
        feb_ident = feb["id"].rsplit("/", 1)[1]
        assert (await api(a, "POST", f"/api/v1/events/{feb_ident}/cancel", organiser))[0] == 200
        await wait_for(lambda: _kept_status(b, series, "2030-02-06", "EventCancelled"))
        kept_now = await _occurrences(b, series)
        assert kept_now["2030-03-06"]["eventStatus"] == "EventScheduled"
        assert kept_now["2030-01-02"]["eventStatus"] == "EventScheduled"
        # ... and the horizon publisher never brings it back.
        assert await svc.publish_due_occurrences() == []
        assert (await _occurrences(a, series))["2030-02-06"]["eventStatus"] == "EventCancelled"
    finally:
        await a.stop()
        await b.stop()


async def _kept_dates(node: Node, series: str, dates: set[str]) -> bool:
    return set(await _occurrences(node, series)) == dates


async def _kept_status(node: Node, series: str, date: str, status: str) -> bool:
    doc = (await _occurrences(node, series)).get(date)
    return doc is not None and doc["eventStatus"] == status


async def test_whole_series_changes_and_cancels(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2030, 1, 1, 8, 0, tzinfo=UTC))
    settings = {"clock": clock, "event_update_interval": 0, "series_horizon_days": 21}
    a = await start_node(tmp_path, "Leeuwarden", host="127.0.0.2", **settings)
    b = await start_node(tmp_path, "Loosduinen", host="127.0.0.3", clock=clock)
    try:
        await a.rt.services["events"].stop()
        _, organiser = await add_member(a, "sjoukje", "organiser")
        await follow_network(b, a)
        rc = await run_cli(
            "event", "add", "--data", str(a.data), "--title", "Weekly standup",
            "--start", "2030-01-03T08:30", "--end", "2030-01-03T09:00",
            "--online", "https://meet.example/standup", "--repeat", "FREQ=WEEKLY;BYDAY=TH",
            "--organiser", "sjoukje",
        )  # fmt: skip
        assert rc == 0
        s = (await events_db.list_series(a.rt.db))[0]
        # The CLI runs on the real clock; the running node publishes by its own (2030).
        assert len(await a.rt.services["events"].publish_due_occurrences()) == 3
        dates = {"2030-01-03", "2030-01-10", "2030-01-17"}
        await wait_for(lambda: _kept_dates(b, s.id, dates))

        # A change to the series reaches every future occurrence.
        status, _ = await api(
            a, "PATCH", f"/api/v1/series/{s.ident}", organiser, {"title": "Weekly stand-up"}
        )
        assert status == 200
        await wait_for(lambda: _all(b, s.id, "name", "Weekly stand-up"))

        # Cancelling the series cancels what is published and publishes nothing more.
        status, result = await api(a, "POST", f"/api/v1/series/{s.ident}/cancel", organiser)
        assert status == 200 and result["cancelled_occurrences"] == 3
        await wait_for(lambda: _all(b, s.id, "eventStatus", "EventCancelled"))
        clock.advance(days=14)
        assert await a.rt.services["events"].publish_due_occurrences() == []
        assert set(await _occurrences(a, s.id)) == dates
    finally:
        await a.stop()
        await b.stop()


async def _all(node: Node, series: str, field: str, value: Any) -> bool:
    docs = (await _occurrences(node, series)).values()
    return bool(docs) and all(d.get(field) == value for d in docs)
