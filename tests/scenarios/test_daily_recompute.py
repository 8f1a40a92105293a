"""The daily recompute: time alone moves tiers and segments, triggers hear it, scores land on
profiles, and a run stopped half-way resumes without a single event twice."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nudge.aws import clients as aws
from nudge.core.clock import iso, parse_time
from nudge.flows import score
from nudge.sim import Simulation
from nudge.sim.runner import ENV
from tests.conftest import CONFIG, customer, event, make_config

WINBACK = """\
id: winback_lapsed
description: Entered the lapsed segment (no order for 180 days)
when: {event: segment_entered, where: {properties.segment: lapsed}}
channel: email
email:
  subject: "We miss you, {{ first_name | default('friend') }}"
  text: "Come back and see what is new. Unsubscribe: {{ unsubscribe_url }}"
"""
TIER_LOST = """\
id: tier_lost
description: Slipped into the lost value tier
when: {event: value_tier_changed, where: {properties.to: lost}}
channel: email
email:
  subject: "Still there, {{ first_name | default('friend') }}?"
  text: "A little something for you. Unsubscribe: {{ unsubscribe_url }}"
"""


# -- helpers (the integration tests use them too) ----------------------------------------------


class BusTap:
    """A queue on the nudge bus that receives nudge's own events (source ``nudge``)."""

    def __init__(self) -> None:
        sqs, events = aws.client("sqs"), aws.client("events")
        self.url = sqs.create_queue(QueueName="tap-nudge-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="tap-nudge-events",
            EventBusName=ENV["NUDGE_BUS_NAME"],
            EventPattern=json.dumps({"source": ["nudge"]}),
        )
        events.put_targets(
            Rule="tap-nudge-events",
            EventBusName=ENV["NUDGE_BUS_NAME"],
            Targets=[{"Id": "tap", "Arn": arn}],
        )
        self.received: list[dict[str, Any]] = []

    def events(self) -> list[dict[str, Any]]:
        """Everything received so far, oldest first."""
        sqs = aws.client("sqs")
        while True:
            got = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return self.received
            for message in got["Messages"]:
                self.received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def changes(self, customer_id: str | None = None) -> list[tuple[str, str, str]]:
        """``(customer, detail-type, properties as JSON)`` of the segment and tier events."""
        return [
            (
                e["detail"]["customer_id"],
                e["detail-type"],
                json.dumps(e["detail"].get("properties"), sort_keys=True),
            )
            for e in self.events()
            if e["detail-type"] != "message_sent"
            and customer_id in (None, e["detail"]["customer_id"])
        ]


def base_events(n: int, seed: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """``n`` customers ordering between ``start`` and ``end`` as BG/NBD tells it (fixed seed):
    each buys at their own rate and may stop for good after any order; order values vary around
    each customer's own mean; a few refund their last order in full."""
    rng = random.Random(seed)
    span = (end - start).total_seconds()
    out = []
    for i in range(n):
        cid = f"c{i:03d}"
        first = start + timedelta(seconds=rng.uniform(0, span * 0.9))
        out.append(customer(cid, iso(first - timedelta(hours=1))))
        rate, dropout = rng.gammavariate(1.0, 1 / 60), rng.betavariate(1.0, 3.0)
        mean_value = rng.lognormvariate(4.3, 0.4)
        at, k = first, 0
        while at < end and k < 15:
            value = round(rng.gammavariate(6.0, mean_value / 6.0), 2)
            out.append(event("order_placed", cid, iso(at), order_id=f"o-{cid}-{k}", value=value))
            k += 1
            if k > 1 and rng.random() < dropout:
                break
            at += timedelta(days=rng.expovariate(rate) + 0.5)
        if rng.random() < 0.08:
            refund_at = min(end, parse_time(out[-1]["time"]) + timedelta(days=10))
            out.append(
                event(
                    "order_refunded",
                    cid,
                    iso(refund_at),
                    order_id=f"o-{cid}-{k - 1}",
                    value=10_000.0,
                )
            )
    return sorted(out, key=lambda e: e["time"])


def seed(sim: Simulation, events: list[dict[str, Any]]) -> None:
    """Store the profiles these events make, as ingest would have left them (each event applied
    and segments and tier refreshed at its own time), one PutItem per customer: much faster on
    moto than ingesting them one by one, for the same documents."""
    from nudge.aws import store
    from nudge.core.events import parse_event
    from nudge.core.profile import apply_event, new_profile
    from nudge.core.react import refresh_view
    from nudge.flows.common import current_config

    config = current_config()
    profiles: dict[str, dict[str, Any]] = {}
    for envelope in events:
        parsed = parse_event(envelope)
        profile = profiles.setdefault(parsed.customer_id, new_profile(parsed.customer_id))
        apply_event(profile, parsed, config.history_seconds)
        refresh_view(profile, config, parsed.time)
    for customer_id, profile in profiles.items():
        store.commit(customer_id, profile, 0, [], [])
    sim.clock.set(parse_time(events[-1]["time"]))


def stored_profiles(sim: Simulation) -> dict[str, dict[str, Any]]:
    """Profile documents exactly as stored."""
    from nudge.aws import store

    return {
        store.profile_doc(i)["customer_id"]: store.profile_doc(i)
        for i in store.scan_kind("profile")
    }


def decision_rows(sim: Simulation) -> list[tuple[Any, ...]]:
    return sorted(
        (d["customer_id"], d["trigger"], d["outcome"], d["reason"], d["event_id"], d["at"])
        for d in sim.decisions()
    )


# -- time alone moves a customer ---------------------------------------------------------------

ANN = [
    customer("ann", "2027-01-01T10:00:00Z"),
    event("order_placed", "ann", "2027-01-01T12:00:00Z", order_id="o-1", value=120.0),
]


def test_a_last_order_ageing_past_180_days_leaves_fading_for_lost_at_the_daily_recompute():
    # Given Ann's one order of January 1 reaches nudge (an order-history import) on June 29,
    # and the simulator runs the daily recompute at 03:00 New York time
    with Simulation(CONFIG, start=parse_time("2027-06-29T00:00:00Z"), daily=True) as sim:
        tap = BusTap()
        sim.run(ANN, until=parse_time("2027-06-30T12:00:00Z"))
        ann = stored_profiles(sim)["ann"]
        assert ann["value_tier"] == "fading"  # 179.8 days at today's recompute
        assert "lapsed" not in ann["segments"]
        assert tap.changes() == [("ann", "value_tier_changed", '{"from": null, "to": "fading"}')]

        # When a day passes with no event of hers (180.8 days at 03:00 EDT = 07:00Z)
        sim.advance(parse_time("2027-07-01T12:00:00Z"))

        # Then the recompute moved her from fading to lost and into lapsed, and said so on the bus
        ann = stored_profiles(sim)["ann"]
        assert ann["value_tier"] == "lost"
        assert "lapsed" in ann["segments"]
        assert ann["rfm"]["segment"]
        assert ann["scored_at"] == "2027-06-29T07:00:00Z"  # her scores have not moved since
        assert tap.changes()[1:] == [
            ("ann", "segment_entered", '{"segment": "lapsed"}'),
            ("ann", "value_tier_changed", '{"from": "fading", "to": "lost"}'),
        ]
        # applied to her at the recompute's time (announced with it)
        changed = [e for e in tap.events() if e["detail"].get("customer_id") == "ann"][-2:]
        assert [e["detail-type"] for e in changed] == ["segment_entered", "value_tier_changed"]
        assert {e["time"] for e in changed} == {"2027-07-01T07:00:00Z"}


def test_time_alone_walks_a_one_order_customer_down_the_tiers_one_recompute_at_a_time():
    with Simulation(CONFIG, start=parse_time("2027-01-01T00:00:00Z"), daily=False) as sim:
        tap = BusTap()
        sim.run(ANN, until=parse_time("2027-01-01T13:00:00Z"))
        tiers = []
        # 03:00 New York on each day: 29.8, 30.8, 89.8, 90.8, 179.8 and 180.8 days after
        for at in (
            "2027-01-31T08:00:00Z",
            "2027-02-01T08:00:00Z",
            "2027-04-01T07:00:00Z",
            "2027-04-02T07:00:00Z",
            "2027-06-30T07:00:00Z",
            "2027-07-01T07:00:00Z",
        ):
            sim.clock.set(parse_time(at))
            score.handle({"kind": "daily"})
            tiers.append(stored_profiles(sim)["ann"]["value_tier"])

        assert tiers == ["rising", "steady", "steady", "fading", "fading", "lost"]
        assert tap.changes() == [
            ("ann", "value_tier_changed", '{"from": null, "to": "rising"}'),  # her order
            ("ann", "value_tier_changed", '{"from": "rising", "to": "steady"}'),
            ("ann", "value_tier_changed", '{"from": "steady", "to": "fading"}'),
            ("ann", "segment_entered", '{"segment": "lapsed"}'),
            ("ann", "value_tier_changed", '{"from": "fading", "to": "lost"}'),
        ]


def test_triggers_on_segment_entered_and_value_tier_changed_fire_at_the_recompute(tmp_path):
    # Given triggers on entering `lapsed` and on falling into the `lost` tier
    config = make_config(
        tmp_path, **{"triggers/winback_lapsed.yaml": WINBACK, "triggers/tier_lost.yaml": TIER_LOST}
    )
    with Simulation(config, start=parse_time("2027-06-29T00:00:00Z"), daily=True) as sim:
        sim.run(
            [
                customer("bea", "2027-01-01T10:00:00Z"),
                event("order_placed", "bea", "2027-01-01T12:00:00Z", order_id="o-1", value=80.0),
            ],
            until=parse_time("2027-06-30T12:00:00Z"),
        )
        assert sim.decisions() == []

        # When the daily recompute finds her 180 days past her last order
        sim.advance(parse_time("2027-07-01T12:00:00Z"))

        # Then both triggers fired on the recompute's changes, and both emails went out a minute
        # later (the arbitration window)
        decisions = [
            (d["trigger"], d["event_type"], d["outcome"], d["at"])
            for d in sim.decisions()
            if d["customer_id"] == "bea"
        ]
        assert sorted(decisions) == [
            ("tier_lost", "value_tier_changed", "sent", "2027-07-01T07:01:00Z"),
            ("winback_lapsed", "segment_entered", "sent", "2027-07-01T07:01:00Z"),
        ]
        assert sorted(m["trigger"] for m in sim.messages()) == ["tier_lost", "winback_lapsed"]
        assert {m["to"] for m in sim.messages()} == {"bea@shop.example"}


# -- scores on a base --------------------------------------------------------------------------

START, END = parse_time("2025-03-01T00:00:00Z"), parse_time("2027-02-28T00:00:00Z")
RECOMPUTE_AT = parse_time("2027-03-01T08:00:00Z")  # 03:00 in New York


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return base_events(60, seed=20270304, start=START, end=END)


def test_rfm_p_alive_and_pltv_land_on_every_buyer_of_a_simulated_base(base):
    with Simulation(CONFIG, start=END, daily=False) as sim:
        seed(sim, base)
        sim.clock.set(RECOMPUTE_AT)

        result = score.handle({"kind": "daily"})

        profiles = stored_profiles(sim)
    buyers = {c: p for c, p in profiles.items() if p.get("orders_count")}
    assert result["done"] and result["date"] == "2027-03-01"
    assert result["model"]["bgnbd"] and result["model"]["gamma_gamma"]
    assert result["model"]["n_customers"] == len(buyers) >= 50
    assert result["written"] == len(buyers)
    for cid, p in buyers.items():
        assert set(p["rfm"]) == {"r", "f", "m", "segment"}, cid
        assert all(1 <= p["rfm"][k] <= 5 for k in "rfm"), cid
        assert 0.0 <= p["p_alive"] <= 1.0
        assert p["expected_orders_90d"] >= 0 and p["pltv"] >= 0
        assert p["scored_at"] == "2027-03-01T08:00:00Z"
    for p in profiles.values():
        if not p.get("orders_count"):  # refunded everything: no scores, no tier
            assert p.get("rfm") is None and p.get("pltv") is None
    assert {p["rfm"]["r"] for p in buyers.values()} == {1, 2, 3, 4, 5}
    # the ranking makes sense: recent frequent buyers are worth more than one-off old ones
    ranked = sorted(buyers.values(), key=lambda p: p["pltv"])
    assert ranked[-1]["orders_count"] > 1
    assert ranked[0]["rfm"]["r"] <= 2
    # RFM segment names come from the standard map
    assert {p["rfm"]["segment"] for p in buyers.values()} <= {
        "Champions",
        "Loyal Customers",
        "Potential Loyalist",
        "New Customers",
        "Promising",
        "Need Attention",
        "About To Sleep",
        "At Risk",
        "Can't Lose Them",
        "Hibernating",
        "Lost",
        "Others",
    }


# -- a run stopped half-way ----------------------------------------------------------------------


def _recompute_base(config: Path, base: list[dict[str, Any]], **run: Any) -> dict[str, Any]:
    """Seed the base, run the recompute (in steps if ``run`` has a budget), return what came out."""
    steps = []
    with Simulation(config, start=END, daily=False) as sim:
        seed(sim, base)
        tap = BusTap()
        tap.events()
        sim.clock.set(RECOMPUTE_AT)
        while True:
            result = score.run_daily(**run)
            steps.append(result)
            sim.pump()
            if result["done"]:
                break
            assert result.get("resume") and len(steps) < 50
        sim.advance(RECOMPUTE_AT + timedelta(hours=1))  # the emails go a minute later
        return {
            "steps": steps,
            "profiles": stored_profiles(sim),
            "decisions": decision_rows(sim),
            "bus": tap.events(),
            "messages": sorted((m["customer_id"], m["trigger"]) for m in sim.messages()),
        }


def test_a_recompute_stopped_half_way_resumes_to_the_same_profiles_with_each_event_once(tmp_path):
    config = make_config(tmp_path, **{"triggers/winback_lapsed.yaml": WINBACK})
    base = base_events(40, seed=20270304, start=START, end=END)
    # Given the same base recomputed in one go, and again in invocations of 25 profiles each
    # (3 scan segments, pages of 5: the stops fall mid-segment and mid-page)
    whole = _recompute_base(config, base, segments=3, page_size=5)
    steps = _recompute_base(config, base, budget=25, segments=3, page_size=5)

    # Then the stopped run did stop, in both passes, and resumed to the end
    assert len(whole["steps"]) == 1
    stops = [s["phase"] for s in steps["steps"] if s.get("resume")]
    assert "gather" in stops and "score" in stops
    final = steps["steps"][-1]
    assert final["invocations"] == len(steps["steps"])
    assert final["gathered"] == whole["steps"][0]["gathered"]
    assert final["written"] == whole["steps"][0]["written"]
    # and re-read pages cost no write: those customers were found unchanged
    assert final["scored"] > whole["steps"][0]["scored"]

    # And everything came out the same: profiles, decisions, messages and events on the bus
    assert steps["profiles"] == whole["profiles"]
    assert steps["decisions"] == whole["decisions"]
    assert steps["messages"] == whole["messages"]
    changes = [e for e in steps["bus"] if e["detail-type"] != "message_sent"]
    assert sorted(json.dumps(e["detail"], sort_keys=True) for e in changes) == sorted(
        json.dumps(e["detail"], sort_keys=True)
        for e in whole["bus"]
        if e["detail-type"] != "message_sent"
    )
    # each change exactly once: no event id twice on the bus, no decision twice
    ids = [e["detail"]["event_id"] for e in changes]
    assert len(ids) == len(set(ids))
    assert len(steps["decisions"]) == len(set(steps["decisions"]))
    # and the recompute did have work to do: tiers and segments moved with time
    kinds = {e["detail-type"] for e in changes}
    assert {"segment_entered", "value_tier_changed"} <= kinds
    assert any(t == "winback_lapsed" for _, t in steps["messages"])


# -- refunds -------------------------------------------------------------------------------------


def test_a_refunded_last_order_no_longer_counts_at_the_recompute():
    # Given two customers with the same two orders; Ray's second one is refunded in full
    events = []
    for cid in ("ray", "two"):
        events += [
            customer(cid, "2027-01-01T10:00:00Z"),
            event("order_placed", cid, "2027-01-01T12:00:00Z", order_id=f"a-{cid}", value=100.0),
            event("order_placed", cid, "2027-05-01T12:00:00Z", order_id=f"b-{cid}", value=80.0),
        ]
    events.append(
        event("order_refunded", "ray", "2027-06-01T12:00:00Z", order_id="b-ray", value=80.0)
    )
    with Simulation(CONFIG, start=parse_time("2027-01-01T00:00:00Z"), daily=False) as sim:
        sim.run(events, until=parse_time("2027-06-01T13:00:00Z"))
        # the refund moved Ray at once: his last live order is January's (151 days)
        assert sim.profiles()["ray"]["value_tier"] == "fading"
        assert sim.profiles()["two"]["value_tier"] == "steady"
        tap = BusTap()

        # When the recompute runs 180 days after January's order, with no event from either
        sim.clock.set(parse_time("2027-07-01T07:00:00Z"))
        score.handle({"kind": "daily"})

        # Then Ray is lost and lapsed (May's void order would have kept him steady), Two is not
        ray, two = sim.profiles()["ray"], sim.profiles()["two"]
        assert (ray["value_tier"], "lapsed" in ray["segments"]) == ("lost", True)
        assert (two["value_tier"], "lapsed" in two["segments"]) == ("steady", False)
        assert tap.changes("ray") == [
            ("ray", "segment_entered", '{"segment": "lapsed"}'),
            ("ray", "value_tier_changed", '{"from": "fading", "to": "lost"}'),
        ]
        assert tap.changes("two") == []
        # and RFM counted one order of 100 for Ray, two of 180 for Two
        assert ray["rfm"]["f"] < two["rfm"]["f"] and ray["rfm"]["m"] < two["rfm"]["m"]
        assert ray["rfm"]["r"] < two["rfm"]["r"]
        assert score.summary(stored_profiles(sim)["ray"], sim.clock.current) == (
            0.0,
            0.0,
            180.0,
            0.0,
            180.0,
            1.0,
            100.0,
        )
