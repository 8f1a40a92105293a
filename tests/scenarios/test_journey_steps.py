"""Each journey step kind in simulated time, through the real handlers (docs/config.md#journeys):
``wait_until`` across the New York spring-forward night and for a customer in Tokyo, ``branch`` on
the profile and a segment, ``goto`` and ``exit``, ``wait_for`` with its own next step for the event
and for the timeout, a per-step holdout, and a journey edited while customers are in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nudge.config import get_config
from nudge.core.clock import parse_time
from nudge.core.delivery import holdout_reason
from nudge.sim import Simulation
from tests.conftest import customer, event, make_config

SEND = '{{channel: email, subject: "{0}", text: "{0} Unsubscribe: {{{{ unsubscribe_url }}}}"}}'


def send(label: str) -> str:
    """An inline email send whose subject is ``label``."""
    return SEND.format(label)


def start(tmp_path: Path, **journeys: str) -> Simulation:
    files = {f"triggers/{name}.yaml": text for name, text in journeys.items()}
    return Simulation(make_config(tmp_path, **files), start=parse_time("2027-03-01T00:00:00Z"))


def wishlist(cid: str, at: str, wishlist_id: str = "w-1") -> dict[str, Any]:
    """The event the test journeys enter on (no sample trigger listens to it)."""
    return event(
        "wishlist_added",
        cid,
        at,
        base="cart_updated",
        product_id="p-1",
        name="Ring",
        category="jewelry",
        price=300.0,
        url="https://rose.example/p-1",
        wishlist_id=wishlist_id,
    )


def mails(sim: Simulation, cid: str) -> list[tuple[str, str]]:
    return [(m["subject"], m["at"]) for m in sim.messages() if m["customer_id"] == cid]


def steps(sim: Simulation, cid: str, journey: str) -> list[tuple[str, str | None, str | None]]:
    return [
        (d["outcome"], d["reason"], d["detail"].get("step"))
        for d in sim.decisions()
        if d["customer_id"] == cid and d["trigger"] == journey
    ]


def messaged(*cids: str) -> None:
    """The test's customers are outside the sample's global control group (5%, salt 2027)."""
    for cid in cids:
        assert holdout_reason(cid, "x", 5, "2027", 0) is None, cid


MORNING = f"""\
id: morning
when: {{event: wishlist_added, where: {{properties.wishlist_id: morning}}}}
steps:
  - {{id: at_ten, wait_until: {{local_time: "10:00"}}}}
  - {{id: hello, send: {send("Good morning")}}}
"""
MONDAY = MORNING.replace("id: morning", "id: monday").replace('"10:00"}', '"10:00", days: [mon]}')
GAP = MORNING.replace("id: morning", "id: gap").replace('"10:00"', '"02:30"')


def test_wait_until_sends_at_the_local_time_across_dst_and_in_tokyo(tmp_path: Path) -> None:
    messaged("ny", "tokyo", "nozone", "mon", "gap")
    people = [
        customer("ny", "2027-03-13T15:00:00Z"),
        customer("tokyo", "2027-03-13T15:00:00Z", timezone="Asia/Tokyo"),
        customer("nozone", "2027-03-13T15:00:00Z", timezone=None),
        customer("mon", "2027-03-13T15:00:00Z"),
        customer("gap", "2027-03-13T15:00:00Z"),
    ]
    # Saturday 2027-03-13 16:00Z: 11:00 in New York (EST, UTC-5), 01:00 Sunday in Tokyo
    adds = [wishlist(c, "2027-03-13T16:00:00Z", "morning") for c in ("ny", "tokyo", "nozone")]
    adds += [wishlist("gap", "2027-03-13T16:00:00Z", "gap")]
    with start(tmp_path, morning=MORNING, monday=MONDAY, gap=GAP) as sim:
        sim.run([*people, *adds, wishlist("mon", "2027-03-13T16:00:00Z", "monday")])

        # Sunday 10:00 in New York is EDT (UTC-4) after the 02:00 spring-forward: 14:00Z, not 15:00Z
        assert mails(sim, "ny") == [("Good morning", "2027-03-14T14:01:00Z")]
        # Tokyo has no DST: 10:00 JST Sunday is 01:00Z
        assert mails(sim, "tokyo") == [("Good morning", "2027-03-14T01:01:00Z")]
        # no zone of their own: the shop's (America/New_York)
        assert mails(sim, "nozone") == [("Good morning", "2027-03-14T14:01:00Z")]
        # days: [mon] waits for Monday 10:00 EDT
        assert mails(sim, "mon") == [("Good morning", "2027-03-15T14:01:00Z")]
        # 02:30 does not exist on 2027-03-14 in New York: taken as 03:30 EDT (07:30Z)
        assert mails(sim, "gap") == [("Good morning", "2027-03-14T07:31:00Z")]
        [waiting] = [
            d
            for d in sim.decisions()
            if d["customer_id"] == "tokyo"
            and d["trigger"] == "morning"
            and d["outcome"] == "waiting"
        ]
        assert waiting["detail"]["local_time"] == "10:00 Asia/Tokyo"
        assert waiting["detail"]["until"] == "2027-03-14T01:00:00Z"


ROUTE = f"""\
id: route
when: {{event: wishlist_added}}
steps:
  - id: check
    branch:
      - {{if: {{segment: vip}}, goto: vip}}
      - {{if: {{where: {{orders_count: {{gte: 1}}}}}}, steps: [{{id: again, send: {send("Welcome back")}}}]}}
      - {{else: true, steps: [{{id: first, send: {send("Hello")}}}]}}
  - {{id: skip, goto: done}}
  - {{id: vip, send: {send("For our VIPs")}}}
  - {{id: done, exit: true}}
"""


def test_branch_on_segment_and_profile_then_goto_and_exit(tmp_path: Path) -> None:
    messaged("big", "small", "new")
    setup = [customer(c, "2027-03-02T09:00:00Z") for c in ("big", "small", "new")]
    orders = [
        event("order_placed", "big", "2027-03-02T10:00:00Z", order_id="o-1", value=600.0),
        event("order_placed", "small", "2027-03-02T10:00:00Z", order_id="o-2", value=60.0),
    ]
    adds = [wishlist(c, "2027-03-03T15:00:00Z") for c in ("big", "small", "new")]
    with start(tmp_path, route=ROUTE) as sim:
        sim.run([*setup, *orders, *adds], until=parse_time("2027-03-04T00:00:00Z"))

        assert mails(sim, "big") == [("For our VIPs", "2027-03-03T15:01:00Z")]
        assert mails(sim, "small") == [("Welcome back", "2027-03-03T15:01:00Z")]
        assert mails(sim, "new") == [("Hello", "2027-03-03T15:01:00Z")]
        assert steps(sim, "big", "route") == [
            ("entered", None, None),
            ("branched", None, "check"),
            ("exited", "exit_step", "done"),
            ("sent", None, "vip"),
        ]
        # the arm's nested steps run, then the journey goes on after the branch: skip -> done
        assert steps(sim, "small", "route")[1:3] == [
            ("branched", None, "check"),
            ("exited", "exit_step", "done"),
        ]
        arms = {
            d["customer_id"]: d["detail"]["branch"]
            for d in sim.decisions()
            if d["outcome"] == "branched"
        }
        assert arms == {"big": "if_1", "small": "if_2", "new": "else"}


ASK = f"""\
id: ask
when: {{event: wishlist_added}}
steps:
  - {{id: hi, send: {send("Still thinking?")}}}
  - {{id: wait, wait_for: {{event: order_placed, where: {{properties.value: {{gte: 100}}}}, timeout: 2d, on_timeout: late}}}}
  - {{id: thanks, send: {send("Thank you")}}}
  - {{id: stop, exit: true}}
  - {{id: late, send: {{channel: email, subject: "Last call", text: "x {{{{ unsubscribe_url }}}}", holdout: 100}}}}
"""


def test_wait_for_leads_to_its_own_steps_and_a_step_holdout_holds_out(tmp_path: Path) -> None:
    messaged("buyer", "small", "idle")
    setup = [customer(c, "2027-03-02T09:00:00Z") for c in ("buyer", "small", "idle")]
    adds = [wishlist(c, "2027-03-02T12:00:00Z") for c in ("buyer", "small", "idle")]
    orders = [
        event("order_placed", "buyer", "2027-03-03T12:00:00Z", order_id="o-1", value=300.0),
        event("order_placed", "small", "2027-03-03T12:00:00Z", order_id="o-2", value=20.0),
    ]
    with start(tmp_path, ask=ASK) as sim:
        sim.run([*setup, *adds, *orders], until=parse_time("2027-03-06T00:00:00Z"))

        # the awaited event (its where holds) leads to the next step
        assert mails(sim, "buyer") == [
            ("Still thinking?", "2027-03-02T12:01:00Z"),
            ("Thank you", "2027-03-03T12:01:00Z"),
        ]
        assert steps(sim, "buyer", "ask")[-3:-1] == [
            ("branched", None, "wait"),
            ("exited", "exit_step", "stop"),
        ]
        # an order too small is not the awaited event: the wait times out to `late`, whose
        # holdout: 100 holds everyone out of that step only
        for cid in ("small", "idle"):
            assert mails(sim, cid) == [("Still thinking?", "2027-03-02T12:01:00Z")]
            assert steps(sim, cid, "ask")[-3:] == [
                ("branched", None, "wait"),
                ("held_out", "step", "late"),
                ("completed", None, None),
            ]


EDITED_SAME = ASK.replace('"Thank you"', '"Thanks a lot"')
EDITED_GONE = ASK.replace("id: wait, wait_for", "id: wait_order, wait_for")


def test_a_journey_edited_mid_flight_continues_at_the_same_step_or_exits(tmp_path: Path) -> None:
    messaged("kept", "gone")
    config = make_config(tmp_path, **{"triggers/ask.yaml": ASK})
    setup = [customer(c, "2027-03-02T09:00:00Z") for c in ("kept", "gone")]
    with Simulation(config, start=parse_time("2027-03-01T00:00:00Z")) as sim:
        sim.run(
            [*setup, wishlist("kept", "2027-03-02T12:00:00Z")],
            until=parse_time("2027-03-02T13:00:00Z"),
        )
        # a deploy changes the thank-you text only: `wait` is still there
        (config / "triggers" / "ask.yaml").write_text(EDITED_SAME)
        get_config.cache_clear()
        order = event("order_placed", "kept", "2027-03-03T12:00:00Z", order_id="o-1", value=300.0)
        sim.run([order], until=parse_time("2027-03-03T13:00:00Z"))
        assert mails(sim, "kept")[-1] == ("Thanks a lot", "2027-03-03T12:01:00Z")

        # another customer is waiting at `wait` when a deploy renames that step
        sim.run(
            [wishlist("gone", "2027-03-04T12:00:00Z")], until=parse_time("2027-03-04T13:00:00Z")
        )
        (config / "triggers" / "ask.yaml").write_text(EDITED_GONE)
        get_config.cache_clear()
        order = event("order_placed", "gone", "2027-03-05T12:00:00Z", order_id="o-2", value=300.0)
        sim.run([order], until=parse_time("2027-03-08T00:00:00Z"))
        assert mails(sim, "gone") == [("Still thinking?", "2027-03-04T12:01:00Z")]
        [exited] = [
            d for d in sim.decisions() if d["customer_id"] == "gone" and d["outcome"] == "exited"
        ]
        assert (exited["reason"], exited["detail"]["step"]) == ("journey_changed", "wait")
        assert exited["at"] == "2027-03-05T12:00:00Z"
        assert sim.profiles()["gone"]["journeys"]["ask"]["how"] == "journey_changed"
    get_config.cache_clear()


def test_validate_with_a_table_counts_the_customers_an_edit_affects(
    tmp_path: Path, capsys: Any
) -> None:
    import os

    from nudge.cli import main

    messaged("w1", "w2")
    config = make_config(tmp_path, **{"triggers/ask.yaml": ASK})
    people = [customer(c, "2027-03-02T09:00:00Z") for c in ("w1", "w2", "w4")]
    with Simulation(config, start=parse_time("2027-03-01T00:00:00Z")) as sim:
        adds = [wishlist(c, "2027-03-02T12:00:00Z") for c in ("w1", "w2")]
        sim.run([*people, *adds], until=parse_time("2027-03-02T13:00:00Z"))
        table = os.environ["NUDGE_TABLE"]
        # unchanged: nothing to say
        assert main(["validate", str(config), "--table", table]) == 0
        assert "changed" not in capsys.readouterr().out
        # the step w1 and w2 wait at is renamed
        (config / "triggers" / "ask.yaml").write_text(EDITED_GONE)
        assert main(["validate", str(config), "--table", table]) == 0
        out = capsys.readouterr().out
        assert (
            "triggers/ask.yaml:3:1: warning: steps: journey 'ask' changed while 2 customer(s) "
            "were in it: 0 continue at the same step id; 2 wait at a step that is gone (wait (2)) "
            "and will exit with journey_changed when it is due"
        ) in out
        # an edit that keeps the step: they continue, and --strict makes the warning fail CI
        (config / "triggers" / "ask.yaml").write_text(EDITED_SAME)
        assert main(["validate", str(config), "--table", table, "--strict"]) == 1
        assert "2 continue at the same step id; 0 wait at a step that is gone and" in (
            capsys.readouterr().out
        )
    get_config.cache_clear()


OFFER = """\
id: offer
when: {event: wishlist_added}
steps:
  - id: ab
    split:
      name: t
      variants: {ten: 50, free_ship: 50}
      winner: {metric: conversion, after: 5, min_lift_ci: 0}
  - {id: offer, send: {channel: email, template: "offer_{{ split.t }}"}}
"""


def test_a_split_winner_found_by_the_daily_run_gets_every_new_entrant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nudge.config import load_config
    from nudge.core.journey import pick_variant

    # the daily run caches the table's size for an hour; keep that cache to this test
    monkeypatch.setattr("nudge.flows.score._auto", {})

    config = make_config(tmp_path, **{"triggers/offer.yaml": OFFER})
    node = load_config(config).triggers["offer"].journey.nodes["ab"]
    by_hash: dict[str, list[str]] = {"ten": [], "free_ship": []}
    for i in range(200):
        cid = f"s{i}"
        if holdout_reason(cid, "x", 5, "2027", 0) is None:
            by_hash[pick_variant(cid, "offer", node)].append(cid)
    tens, ships = by_hash["ten"][:5], by_hash["free_ship"][:6]
    late = ships[5]  # the hash says free_ship; it enters after the winner is known
    first = [*tens, *ships[:5]]
    setup = [customer(c, "2027-03-01T08:00:00Z") for c in [*first, late]]
    adds = [wishlist(c, "2027-03-01T09:00:00Z") for c in first]
    # every customer offered 10% off ordered the next day; nobody offered free shipping did
    orders = [
        event("order_placed", c, "2027-03-02T12:00:00Z", order_id=f"o-{c}", value=120.0)
        for c in tens
    ]
    with Simulation(config, start=parse_time("2027-03-01T00:00:00Z"), daily=True) as sim:
        sim.run([*setup, *adds, *orders], until=parse_time("2027-03-04T00:00:00Z"))
        assert any(kind == "daily" for _, kind in sim.fired)  # the daily recompute ran
        sim.run([wishlist(late, "2027-03-04T12:00:00Z")], until=parse_time("2027-03-05T00:00:00Z"))

        splits = {
            d["customer_id"]: d["detail"]
            for d in sim.decisions()
            if d["outcome"] == "split" and d["trigger"] == "offer"
        }
        assert {c: splits[c]["variant"] for c in first} == {
            **{c: "t=ten" for c in tens},
            **{c: "t=free_ship" for c in ships[:5]},
        }
        assert splits[late]["variant"] == "t=ten"  # the winner, not its hash
        since = splits[late]["winner_since"]
        assert "2027-03-02T00:00:00Z" < since < "2027-03-04T12:00:00Z"
        [offer] = [m for m in sim.messages() if m["customer_id"] == late]
        assert "10% off" in offer["subject"]

        from nudge.aws import store

        recorded = store.split_winners()["offer/t"]
        assert recorded["variant"] == "ten" and recorded["at"] == since
        why = recorded["why"]
        assert why["metric"] == "conversion"
        assert why["variants"]["ten"] == {"entered": 5, "converted": 5, "rate": 1.0}
        assert why["variants"]["free_ship"] == {"entered": 5, "converted": 0, "rate": 0.0}
        assert why["lift_over"]["free_ship"][1] > 0  # the interval's lower end
