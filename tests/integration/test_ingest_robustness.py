"""Ingest never double-counts, never loses a concurrent event, never crashes on bad input."""

from __future__ import annotations

import json

from nudge.aws import store
from nudge.flows import ingest
from tests.conftest import customer, event


def _order(cid: str, at: str, order_id: str, value: float, event_id: str | None = None) -> dict:
    return event("order_placed", cid, at, order_id=order_id, value=value, event_id=event_id)


def test_the_same_event_delivered_twice_is_counted_once_and_sends_nothing_twice(sim):
    order = _order("ann", "2027-02-10T10:00:00Z", "o-1", 120.50, event_id="dup-1")
    sim.run([customer("ann", "2027-02-10T09:00:00Z"), order, order])

    profile = sim.profiles()["ann"]
    assert profile["orders_count"] == 1
    assert profile["lifetime_value"] == 120.50
    assert [(d["outcome"], d["reason"]) for d in sim.decisions()] == [("suppressed", "duplicate")]


def test_a_second_delivery_of_a_cart_does_not_send_a_second_reminder(sim):
    items = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]
    cart = event(
        "cart_updated", "bo", "2027-02-10T10:00:00Z", value=300.0, items=items, event_id="cart-1"
    )
    sim.run([customer("bo", "2027-02-10T09:00:00Z"), cart, cart])

    assert len(sim.messages()) == 1


def test_two_concurrent_events_for_one_customer_are_both_applied(sim, monkeypatch):
    sim.run([customer("cat", "2027-02-10T09:00:00Z")])
    first = _order("cat", "2027-02-10T10:00:00Z", "o-1", 100.0)
    second = _order("cat", "2027-02-10T10:00:00Z", "o-2", 50.0)
    real_get = store.get_profile
    interleaved = []

    def get_then_let_the_other_write(customer_id, consistent=True):
        stored = real_get(customer_id, consistent)
        if not interleaved:  # while the first event is between read and write...
            interleaved.append(True)
            ingest.ingest_event(second)  # ...the second one is processed and written
        return stored

    monkeypatch.setattr(store, "get_profile", get_then_let_the_other_write)
    ingest.ingest_event(first)
    monkeypatch.undo()

    profile = sim.profiles()["cat"]
    assert profile["orders_count"] == 2
    assert profile["lifetime_value"] == 150.0


def test_malformed_events_go_to_the_dlq_with_a_reason_and_the_batch_goes_on(sim):
    sim.run([customer("dan", "2027-02-10T09:00:00Z")])
    good = _order("dan", "2027-02-10T10:00:00Z", "o-1", 80.0)
    no_customer = _order("dan", "2027-02-10T10:00:00Z", "o-2", 80.0)
    del no_customer["detail"]["customer_id"]
    wrong_types = _order("dan", "2027-02-10T10:00:00Z", "o-3", 80.0)
    wrong_types["detail"]["properties"]["value"] = "eighty"
    bodies = ["{not json", json.dumps(no_customer), json.dumps(good), json.dumps(wrong_types)]
    records = [{"messageId": f"m{i}", "body": b} for i, b in enumerate(bodies)]

    result = ingest.handle({"Records": records})

    assert result == {"batchItemFailures": []}  # nothing retried forever
    assert sim.profiles()["dan"]["orders_count"] == 1  # the good one was applied
    reasons = sorted(d["reason"] for d in sim.dead_letters())
    assert len(reasons) == 3
    assert any(r.startswith("not JSON") for r in reasons)
    assert any("customer_id is missing" in r for r in reasons)
    assert any("properties.value" in r for r in reasons)


def test_a_single_malformed_envelope_is_parked_not_raised(sim):
    bad = customer("eli", "2027-02-10T09:00:00Z")
    bad["time"] = "yesterday"
    assert "malformed" in ingest.handle(bad)
    assert [d["reason"] for d in sim.dead_letters()] == [
        "time 'yesterday' is not ISO 8601 with an offset"
    ]


def test_an_event_from_nudge_itself_is_refused(sim):
    loop = customer("fox", "2027-02-10T09:00:00Z")
    loop["source"] = "nudge"
    ingest.handle(loop)
    assert "fox" not in sim.profiles()
    assert "nudge's own" in sim.dead_letters()[0]["reason"]


def test_refund_in_full_takes_the_order_out_of_the_profile(sim):
    sim.run(
        [
            customer("gil", "2027-02-01T09:00:00Z"),
            _order("gil", "2027-02-01T10:00:00Z", "o-1", 200.0),
            _order("gil", "2027-02-05T10:00:00Z", "o-2", 400.0),
            event("order_refunded", "gil", "2027-02-06T10:00:00Z", order_id="o-2", value=400.0),
        ],
        until=None,
    )

    profile = sim.profiles()["gil"]
    assert profile["orders_count"] == 1
    assert profile["lifetime_value"] == 200.0
    assert profile["last_order_at"] == "2027-02-01T10:00:00Z"
    assert "vip" not in profile["segments"]
