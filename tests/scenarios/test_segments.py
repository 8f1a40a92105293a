"""Segments keep themselves current: crossing a threshold enters the segment in that very
event's processing, and triggers can react to it; a full refund moves the customer back."""

from __future__ import annotations

import textwrap

from nudge.core.clock import parse_time
from nudge.sim import Simulation
from tests.conftest import customer, event, make_config

VIP_WELCOME = textwrap.dedent("""\
    id: vip_welcome
    when: {event: segment_entered, where: {properties.segment: vip}}
    channel: email
    email: {subject: "Welcome to the inner circle", text: "You are a VIP now. {{ unsubscribe_url }}"}
    """)


def _order(cid: str, at: str, order_id: str, value: float) -> dict:
    return event("order_placed", cid, at, order_id=order_id, value=value)


def test_crossing_the_vip_threshold_enters_the_segment_and_fires_its_trigger(tmp_path):
    config = make_config(tmp_path, **{"triggers/vip_welcome.yaml": VIP_WELCOME})
    with Simulation(config, start=parse_time("2027-02-01T00:00:00Z")) as sim:
        sim.run(
            [
                customer("vera", "2027-02-10T09:00:00Z"),
                _order("vera", "2027-02-10T10:00:00Z", "o-1", 300.0),
                _order("vera", "2027-02-10T11:00:00Z", "o-2", 250.0),  # lifetime value 550 >= 500
            ],
            until=parse_time("2027-02-10T12:00:00Z"),
        )
        profile = sim.profiles()["vera"]
        [mail] = sim.messages()
        decisions = [(d["trigger"], d["outcome"], d["at"]) for d in sim.decisions()]

    assert "vip" in profile["segments"]
    assert mail["subject"] == "Welcome to the inner circle"
    # decided at the second order itself, sent after the arbitration window
    assert ("vip_welcome", "sent", "2027-02-10T11:01:00Z") in decisions


def test_a_full_refund_of_the_last_order_moves_tier_and_segments_back(sim):
    sim.run(
        [
            customer("walt", "2027-02-01T09:00:00Z"),
            _order("walt", "2026-06-01T10:00:00Z", "o-1", 200.0),
            _order("walt", "2027-02-05T10:00:00Z", "o-2", 400.0),
        ],
        until=parse_time("2027-02-06T00:00:00Z"),
    )
    before = sim.profiles()["walt"]
    assert "vip" in before["segments"] and "lapsed" not in before["segments"]
    assert before["value_tier"] == "loyal"  # 250 days a customer, ordered yesterday

    sim.run(
        [event("order_refunded", "walt", "2027-02-06T10:00:00Z", order_id="o-2", value=400.0)],
        until=parse_time("2027-02-07T00:00:00Z"),
    )

    profile = sim.profiles()["walt"]
    assert "vip" not in profile["segments"]
    assert profile["orders_count"] == 1 and profile["lifetime_value"] == 200.0
    assert profile["last_order_at"] == "2026-06-01T10:00:00Z"
    assert profile["value_tier"] == "lost" and "lapsed" in profile["segments"]
    changes = [(d["event_type"], d["outcome"]) for d in sim.decisions()]
    assert changes == []  # no trigger listens to these changes in the sample config
