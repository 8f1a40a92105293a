"""Simulated time follows the data: the sample day played in another month, year, on a leap day,
on the day US clocks spring forward, or today, does what it does in February 2027, at the same
local times, and the simulator runs one daily recompute per day it covers, however far the date.

Each full sample-day simulation costs seconds, so the day is simulated once per case (and the
original once per test worker)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from nudge.cli import main
from nudge.config import load_config
from nudge.core.clock import iso, parse_time
from nudge.sim import Simulation, SimulationError
from nudge.sim.runner import read_events
from tests.conftest import CONFIG, EVENTS, customer, event, make_config

SAMPLE_DAY = EVENTS / "sample_day.jsonl"
SHOP_ZONE = ZoneInfo(load_config(CONFIG).settings.timezone)
CAMPAIGNS = set(load_config(CONFIG).campaigns)


# -- moving a day ------------------------------------------------------------------------------


def shifted_config(tmp_path: Path, delta: timedelta) -> Path:
    """A copy of config/ with every trigger's and campaign's ``active`` window moved by ``delta``
    (whichever have one), so a season keeps covering the shifted day."""
    target = make_config(tmp_path)
    for path in sorted(target.glob("triggers/*.y*ml")) + sorted(target.glob("campaigns/*.y*ml")):
        doc = yaml.safe_load(path.read_text())
        active = doc.get("active") if isinstance(doc, dict) else None
        if not isinstance(active, dict):
            continue
        for key in ("from", "until"):
            if active.get(key) is not None:
                active[key] = iso(parse_time(active[key]) + delta)
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return target


def zones(events: list[dict[str, Any]]) -> dict[str, ZoneInfo]:
    """Each customer's time zone as the events give it (the shop's for those without one)."""
    out: dict[str, ZoneInfo] = {}
    for envelope in events:
        traits = envelope["detail"].get("traits") or {}
        if traits.get("timezone"):
            out[envelope["detail"]["customer_id"]] = ZoneInfo(traits["timezone"])
    return out


def shifted(events: list[dict[str, Any]], delta: timedelta) -> list[dict[str, Any]]:
    """The events ``delta`` later (UTC)."""
    out = copy.deepcopy(events)
    for envelope in out:
        envelope["time"] = iso(parse_time(envelope["time"]) + delta)
    return out


def shifted_local(events: list[dict[str, Any]], days: int) -> list[dict[str, Any]]:
    """The events ``days`` later on each customer's own wall clock (what a storefront's day in
    another season looks like: 20:30 stays 20:30 local, whatever the UTC offset is then)."""
    tz = zones(events)
    out = copy.deepcopy(events)
    for envelope in out:
        zone = tz.get(envelope["detail"]["customer_id"], SHOP_ZONE)
        wall = parse_time(envelope["time"]).astimezone(zone).replace(tzinfo=None)
        moved = (wall + timedelta(days=days)).replace(tzinfo=zone)
        assert moved.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == moved.replace(
            tzinfo=None
        ), f"{moved} does not exist in {zone}"  # not in the hour the clocks skip
        envelope["time"] = iso(moved)
    return out


# -- what a user would compare ------------------------------------------------------------------


def simulate(config: Path, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the day as `nudge simulate` does (daily recompute on); the output and what fired."""
    with Simulation(config, daily=True) as sim:
        sim.run(events)
        return {"out": sim.output(), "fired": list(sim.fired)}


def local(at: str, zone: ZoneInfo, days: int = 0) -> str:
    """``at`` on the wall clock of ``zone``, ``days`` earlier: 2027-02-10T22:15."""
    wall = parse_time(at).astimezone(zone).replace(tzinfo=None) - timedelta(days=days)
    return wall.isoformat(timespec="minutes")


def outcomes(
    out: dict[str, Any], tz: dict[str, ZoneInfo], days: int = 0, skip: frozenset[str] = frozenset()
) -> dict[str, list[tuple[str, ...]]]:
    """Who got which message on which channel at what local time, and every decision with its
    outcome, reason and local time; ``days`` back, leaving out the triggers in ``skip``."""

    def zone(cid: str | None) -> ZoneInfo:
        return tz.get(cid or "", SHOP_ZONE)

    return {
        "messages": sorted(
            (
                m["customer_id"],
                m["trigger"],
                m["channel"],
                local(m["at"], zone(m["customer_id"]), days),
            )
            for m in out["messages"]
            if m["trigger"] not in skip
        ),
        "decisions": sorted(
            (
                d["customer_id"],
                d["trigger"] or "-",
                d["outcome"],
                d["reason"] or "",
                local(d["at"], zone(d["customer_id"]), days),
            )
            for d in out["decisions"]
            if d["trigger"] not in skip
        ),
    }


def recomputes(run: dict[str, Any]) -> list[datetime]:
    return [at for at, kind in run["fired"] if kind == "daily"]


@pytest.fixture(scope="module")
def day() -> list[dict[str, Any]]:
    return read_events(SAMPLE_DAY)


@pytest.fixture(scope="module")
def february(day) -> dict[str, Any]:
    """The sample day as written: Wednesday 2027-02-10, Valentine's week."""
    return simulate(CONFIG, day)


def test_the_sample_day_starts_the_clock_at_its_first_event(day, february):
    # the day runs from 00:00 New York (05:00Z) to the last event + 7 days, with one recompute
    # at 03:00 New York per day covered and none for the weeks before the file starts
    assert february["out"]["simulated_from"] == day[0]["time"] == "2027-02-10T05:00:00Z"
    assert february["out"]["simulated_until"] == "2027-02-18T04:30:00Z"
    assert [local(iso(at), SHOP_ZONE) for at in recomputes(february)] == [
        f"2027-02-{d}T03:00" for d in range(10, 18)
    ]
    # and there is something to compare: the day sends mail and texts, and decides on most paths
    got = outcomes(february["out"], zones(day))
    assert len(got["messages"]) >= 10 and len(got["decisions"]) > 30
    assert {m[2] for m in got["messages"]} == {"email", "sms"}


def assert_same_day(
    moved: dict[str, Any],
    february: dict[str, Any],
    days: int,
    tz: dict[str, ZoneInfo],
    leave_out: frozenset[str] = frozenset(),
) -> None:
    """Every customer got the same messages on the same channels at the same local time (``days``
    later), every decision has the same outcome, reason and local time; the clock started at the
    first event, nothing fired before it, and one recompute ran per day at 03:00 shop time, as
    many as in February. ``leave_out``: triggers, campaigns or customers February did not have."""
    got = outcomes(moved["out"], tz, days)
    got = {k: [row for row in rows if not leave_out & set(row[:2])] for k, rows in got.items()}
    assert got == outcomes(february["out"], tz)
    first = min(parse_time(d["at"]) for d in moved["out"]["decisions"])
    assert parse_time(moved["out"]["simulated_from"]) <= first
    assert min(at for at, _ in moved["fired"]) > parse_time(moved["out"]["simulated_from"])
    assert len(recomputes(moved)) == len(recomputes(february)) == 8
    assert {local(iso(at), SHOP_ZONE)[11:] for at in recomputes(moved)} == {"03:00"}


@pytest.mark.parametrize(
    "weeks",
    [
        pytest.param(-12, id="2026-11-18"),  # this month
        pytest.param(40, id="2027-11-17"),  # late in the year after February
        pytest.param(209, id="2031-02-12"),  # far ahead
    ],
)
def test_the_sample_day_moved_by_whole_weeks_does_the_same_at_the_same_local_times(
    weeks, day, february, tmp_path
):
    # Given the day and the config's seasons (`active` windows) moved by whole weeks: the same
    # weekday, on standard time in New York, Chicago, Los Angeles and London like February
    delta = timedelta(weeks=weeks)
    config = shifted_config(tmp_path, delta)
    events = shifted(day, delta)

    # When it is simulated
    moved = simulate(config, events)

    # Then the clock started at its first event, and everything happened as in February
    assert moved["out"]["simulated_from"] == events[0]["time"]
    assert moved["out"]["simulated_until"] == iso(
        parse_time(events[-1]["time"]) + timedelta(days=7)
    )
    assert_same_day(moved, february, delta.days, zones(day))


def test_the_sample_day_on_the_eve_of_a_leap_day_then_the_march_1_campaign(day, february, tmp_path):
    # Given the day moved to Monday 2028-02-28: its late texts (held by quiet hours), the email
    # held by the frequency cap and a recompute fall on Tuesday the 29th, and the week after it
    # reaches Wednesday March 1, when the monthly value-tier campaign runs at 09:00 New York
    delta = timedelta(days=383)
    moved = simulate(shifted_config(tmp_path, delta), shifted(day, delta))

    # Then the day went as in February (the campaign aside)
    assert_same_day(moved, february, delta.days, zones(day), leave_out=frozenset(CAMPAIGNS))
    held = [m for m in moved["out"]["messages"] if m["at"].startswith("2028-02-29")]
    assert {m["customer_id"] for m in held} >= {"c-017", "c-018", "c-025"}
    # and the campaign ran once, on March 1 at 09:00 shop time (not on the 29th), to the
    # customers who ordered that day
    campaigns = [at for at, kind in moved["fired"] if kind == "campaign"]
    assert [local(iso(at), SHOP_ZONE) for at in campaigns] == ["2028-03-01T09:00"]
    mailed = [m for m in moved["out"]["messages"] if m["trigger"] in CAMPAIGNS]
    assert mailed
    assert {local(m["at"], SHOP_ZONE)[:13] for m in mailed} == {"2028-03-01T09"}
    buyers = {e["detail"]["customer_id"] for e in day if e["detail-type"] == "order_placed"}
    assert {m["customer_id"] for m in mailed} <= buyers


def _delivery_view(cid: str, at: str) -> dict[str, Any]:
    return event("page_viewed", cid, at, path="/pages/delivery", title="Delivery")


def test_the_sample_day_on_the_sunday_us_clocks_spring_forward(day, february, tmp_path):
    # Given the day moved to Sunday 2027-03-14, each event at its customer's same wall time (the
    # storefront's day: New York moves to EDT, UTC-4, at 02:00; London is still on GMT), and
    # two New Yorkers who read the delivery page that evening, at 20:55 and at 21:05 EDT
    events = [
        *shifted_local(day, 32),
        customer("ivy", "2027-03-14T16:00:00Z"),
        _delivery_view("ivy", "2027-03-15T00:55:00Z"),  # 20:55 EDT (19:55 on winter time)
        customer("jay", "2027-03-14T16:00:00Z"),
        _delivery_view("jay", "2027-03-15T01:05:00Z"),  # 21:05 EDT (20:05 on winter time)
    ]
    moved = simulate(shifted_config(tmp_path, timedelta(days=32)), events)

    # Then the day went as in February at the same local times: waits, quiet hours (21:00-08:00
    # local), caps and recomputes follow the customers' clocks across the change
    assert_same_day(moved, february, 32, zones(day), leave_out=frozenset({"ivy", "jay"}))
    # and quiet hours start at 21:00 EDT: Ivy's text goes at once, Jay's waits until 08:00 EDT
    texts = {
        m["customer_id"]: local(m["at"], SHOP_ZONE)
        for m in moved["out"]["messages"]
        if m["customer_id"] in ("ivy", "jay")
    }
    assert texts == {"ivy": "2027-03-14T20:56", "jay": "2027-03-15T08:00"}
    jay = [
        (d["outcome"], d["reason"]) for d in moved["out"]["decisions"] if d["customer_id"] == "jay"
    ]
    assert jay == [("deferred", "quiet_hours"), ("sent", None)]


def test_a_simulation_given_events_one_by_one_starts_at_the_first_and_counts_crons_from_it():
    # Given a simulation with no start, fed today's events one at a time
    with Simulation(CONFIG, daily=True) as sim:
        sim.put(customer("kim", "2026-11-30T14:00:00Z"))

        # When the clock runs to tomorrow noon
        sim.advance(parse_time("2026-12-01T12:00:00Z"))

        # Then the clock started at that event: today's 03:00 recompute (08:00Z) was before it and
        # did not run, tomorrow's did; and it cannot be started again somewhere else
        assert iso(sim.started) == "2026-11-30T14:00:00Z"
        assert [(iso(at), kind) for at, kind in sim.fired] == [("2026-12-01T08:00:00Z", "daily")]
        with pytest.raises(SimulationError, match="already started at 2026-11-30T14:00:00Z"):
            sim.run([], start=parse_time("2026-11-01T00:00:00Z"))


# -- nudge simulate ------------------------------------------------------------------------------

TODAY = parse_time("2026-11-30T05:00:00Z")  # Monday 2026-11-30, 00:00 in New York


def _cart(cid: str, at: str) -> dict[str, Any]:
    item = {"product_id": "p-101", "name": "Heart Pendant", "category": "jewelry", "price": 300.0}
    return event("cart_updated", cid, at, value=300.0, items=[{**item, "quantity": 1}])


def write_events(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def simulate_cli(tmp_path: Path, config: Path, events: Path, *options: str) -> int:
    out = tmp_path / "out.json"
    return main(
        ["simulate", "--config", str(config), "--events", str(events), "--out", str(out), *options]
    )


def test_nudge_simulate_plays_todays_events_from_the_first_until_2d_after_the_last(
    day, february, tmp_path
):
    # Given the sample day moved to today, Monday 2026-11-30 (its seasons moved with it)
    delta = TODAY - parse_time(day[0]["time"])
    config = shifted_config(tmp_path, delta)
    events = write_events(tmp_path / "today.jsonl", shifted(day, delta))

    # When it is simulated until two days after its last event
    assert simulate_cli(tmp_path, config, events, "--until", "2d") == 0

    # Then the clock ran from the first event (00:00 New York today) to the last one + 2 days
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["simulated_from"] == "2026-11-30T05:00:00Z"
    assert doc["simulated_until"] == "2026-12-03T04:30:00Z"  # last event 2026-12-01T04:30Z
    assert all(
        "2026-11-30T05:00:00Z" <= d["at"] <= doc["simulated_until"] for d in doc["decisions"]
    )
    # the day went as in February until the monthly campaign ran, on December 1 at 09:00 New
    # York (and not for November 1, before the start)
    campaign_at = parse_time("2026-12-01T14:00:00Z")
    before = {
        **doc,
        "messages": [m for m in doc["messages"] if parse_time(m["at"]) < campaign_at],
        "decisions": [d for d in doc["decisions"] if parse_time(d["at"]) < campaign_at],
    }
    feb_at = campaign_at - delta
    feb = february["out"]
    feb_before = {
        "messages": [m for m in feb["messages"] if parse_time(m["at"]) < feb_at],
        "decisions": [d for d in feb["decisions"] if parse_time(d["at"]) < feb_at],
    }
    tz = zones(day)
    assert outcomes(before, tz, delta.days) == outcomes(feb_before, tz)
    assert len(before["messages"]) >= 10
    sent = [d for d in doc["decisions"] if d["trigger"] in CAMPAIGNS and d["outcome"] == "sent"]
    assert sent
    assert {local(d["at"], SHOP_ZONE)[:13] for d in sent} == {"2026-12-01T09"}


def test_nudge_simulate_starts_the_clock_at_start_before_the_first_event(tmp_path):
    # Given a cart left at 09:03 New York today, and a start at midnight UTC
    config = shifted_config(tmp_path, TODAY - parse_time("2027-02-10T05:00:00Z"))
    events = write_events(
        tmp_path / "cart.jsonl",
        [
            customer("ana", "2026-11-30T14:00:00Z"),
            _cart("ana", "2026-11-30T14:03:00Z"),
        ],
    )

    # When it is simulated from midnight until the next day
    code = simulate_cli(
        tmp_path,
        config,
        events,
        "--start",
        "2026-11-30T00:00:00Z",
        "--until",
        "2026-12-01T00:00:00Z",
    )

    # Then the run covers exactly that, and the reminder went an hour after the cart
    assert code == 0
    doc = json.loads((tmp_path / "out.json").read_text())
    assert (doc["simulated_from"], doc["simulated_until"]) == (
        "2026-11-30T00:00:00Z",
        "2026-12-01T00:00:00Z",
    )
    assert [(d["outcome"], d["at"][:16]) for d in doc["decisions"]] == [
        ("scheduled", "2026-11-30T14:03"),
        ("sent", "2026-11-30T15:04"),
    ]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (
            ["--start", "2026-11-30T15:00:00Z"],
            "1 event(s) are before --start 2026-11-30T15:00:00Z (the first at 2026-11-30T14:00:00Z)",
        ),
        (["--start", "2026-11-30T09:00"], "has no UTC offset"),
        (["--start", "monday"], "--start 'monday' is not a time"),
        (
            ["--until", "2026-11-30T14:30:00Z"],
            "--until 2026-11-30T14:30:00Z is before the last event (2026-11-30T15:00:00Z)",
        ),
        (["--until", "2 weeks"], "--until '2 weeks' is neither a time"),
    ],
)
def test_nudge_simulate_refuses_a_start_after_an_event_or_an_until_before_one(
    options, says, tmp_path, capsys
):
    # Given two events today, at 14:00 and 15:00 UTC
    events = write_events(
        tmp_path / "day.jsonl",
        [
            customer("ana", "2026-11-30T14:00:00Z"),
            _cart("ana", "2026-11-30T15:00:00Z"),
        ],
    )

    # When the start is after the first, or the end before the last, or either is unreadable
    code = simulate_cli(tmp_path, CONFIG, events, *options)

    # Then nothing runs: exit 1, the reason on stderr, no output file
    assert code == 1
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()
