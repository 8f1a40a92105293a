"""What ingest stores and what it parks: event age, future dates, retries without an event id,
late refunds, and events that keep failing. Through the real ingest handler on moto."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

from nudge.aws import store
from nudge.core.clock import parse_time
from nudge.flows import ingest
from tests.conftest import customer, event, sample

RING = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]


def _batch(*envelopes: dict, receives: int | None = None) -> dict:
    """An SQS batch as the event source mapping delivers it."""
    records = []
    for n, envelope in enumerate(envelopes):
        record: dict = {"messageId": f"m-{n}", "body": json.dumps(envelope)}
        if receives is not None:
            record["attributes"] = {"ApproximateReceiveCount": str(receives)}
        records.append(record)
    return {"Records": records}


def _at(sim, when: str) -> None:
    sim.advance(parse_time(when))


# -- 21.3: old and future events --------------------------------------------------------------


def test_a_cart_event_60_days_old_is_applied_but_does_not_fire_the_reminder(sim):
    sim.run([customer("ann", "2027-02-10T09:00:00Z")], until=timedelta(0))
    old_cart = event("cart_updated", "ann", "2026-12-12T09:00:00Z", value=300.0, items=RING)

    sim.run([old_cart], until=parse_time("2027-02-12T00:00:00Z"))  # played now, 60 days late

    assert sim.messages() == []
    [stale] = [d for d in sim.decisions() if d["trigger"] == "cart_jewelry_high_value"]
    assert (stale["outcome"], stale["reason"]) == ("suppressed", "stale")
    assert stale["detail"]["max_age"] == "25h"  # its wait (1h) + 24h
    assert sim.profiles()["ann"]["cart"]["value"] == 300.0  # still applied to the profile


def test_a_cart_event_within_the_window_still_fires(sim):
    sim.run([customer("bo", "2027-02-10T09:00:00Z")], until=timedelta(0))
    late_cart = event("cart_updated", "bo", "2027-02-10T08:00:00Z", value=300.0, items=RING)

    sim.run([late_cart], until=parse_time("2027-02-11T00:00:00Z"))  # 1 hour late

    assert [m["trigger"] for m in sim.messages()] == ["cart_jewelry_high_value"]


def test_when_max_age_narrows_a_triggers_window(tmp_path):
    from nudge.sim import Simulation
    from tests.conftest import CONFIG

    text = (CONFIG / "triggers" / "cart_jewelry_high_value.yaml").read_text()
    assert "  event: cart_updated\n" in text
    patched = text.replace("  event: cart_updated\n", "  event: cart_updated\n  max_age: 30m\n")
    config = _copy_config(tmp_path, {"triggers/cart_jewelry_high_value.yaml": patched})
    with Simulation(config, start=parse_time("2027-02-10T00:00:00Z")) as sim:
        sim.run([customer("cy", "2027-02-10T09:00:00Z")], until=timedelta(0))
        cart = event("cart_updated", "cy", "2027-02-10T08:00:00Z", value=300.0, items=RING)
        sim.run([cart], until=parse_time("2027-02-11T00:00:00Z"))  # 1 hour late > 30m

        assert sim.messages() == []
        [d] = [d for d in sim.decisions() if d["trigger"] == "cart_jewelry_high_value"]
        assert (d["outcome"], d["reason"], d["detail"]["max_age"]) == (
            "suppressed",
            "stale",
            "0.5h",
        )


def _copy_config(tmp_path, files: dict[str, str]):
    from tests.conftest import make_config

    return make_config(tmp_path, **files)


def test_an_event_dated_9999_is_parked_and_does_not_wipe_the_history(sim):
    sim.run(
        [
            customer("dee", "2027-02-01T09:00:00Z"),
            event("product_viewed", "dee", "2027-02-01T10:00:00Z", product_id="p-1"),
            event("page_viewed", "dee", "2027-02-01T10:05:00Z", path="/delivery"),
        ],
        until=timedelta(hours=1),
    )
    before = store.get_profile("dee").doc
    assert before is not None
    kinds = [h["type"] for h in before["history"]]  # what the sample config's conditions read
    assert kinds[:2] == ["product_viewed", "page_viewed"]

    far = event("product_viewed", "dee", "9999-12-31T00:00:00Z", product_id="p-2")
    result = ingest.handle(_batch(far))

    assert result == {"batchItemFailures": []}
    [letter] = sim.dead_letters()
    assert letter["reason"].startswith("time 9999-12-31T00:00:00Z is more than 3600s after now")
    assert json.loads(letter["body"]) == far  # the original body, as it came
    after = store.get_profile("dee").doc
    assert after == before  # nothing applied: history, last_seen_at untouched

    # and the next ordinary event keeps the history (trimmed against now, not the newest event)
    sim.run([event("product_viewed", "dee", "2027-02-01T20:00:00Z", product_id="p-3")])
    assert [h["type"] for h in store.get_profile("dee").doc["history"]][:2] == kinds[:2]


def test_events_within_the_clock_skew_allowance_are_taken_and_before_2000_are_parked(sim):
    _at(sim, "2027-02-01T10:00:00Z")
    skewed = customer("eve", "2027-02-01T10:30:00Z")  # 30 minutes ahead: a storefront clock
    epoch = customer("eve", "1970-01-01T00:00:00Z")  # a zero timestamp
    ingest.handle(_batch(skewed, epoch))

    assert sim.profiles()["eve"]["email"] == "eve@shop.example"
    assert [d["reason"] for d in sim.dead_letters()] == ["time 1970-01-01T00:00:00Z is before 2000"]


def test_history_is_trimmed_against_now_not_the_newest_event(sim):
    """An entry dated ahead of now (stored before future dates were parked) does not push every
    other entry out of the 90-day window."""
    sim.run(
        [
            customer("fay", "2027-02-01T09:00:00Z"),
            event("page_viewed", "fay", "2027-02-01T09:30:00Z", path="/"),
        ],
        until=timedelta(0),
    )
    stored = store.get_profile("fay")
    doc = copy.deepcopy(stored.doc)
    assert doc is not None
    doc["history"].append(
        {"type": "page_viewed", "ts": 253402214400.0, "id": "x", "properties": {}}
    )
    store.commit("fay", doc, stored.version)

    sim.run([event("page_viewed", "fay", "2027-02-01T10:00:00Z", path="/")], until=timedelta(0))

    assert [h["ts"] for h in store.get_profile("fay").doc["history"]] == [
        parse_time("2027-02-01T09:30:00Z").timestamp(),
        parse_time("2027-02-01T10:00:00Z").timestamp(),
        253402214400.0,
    ]


# -- 13.6: retries without detail.event_id ------------------------------------------------------


def test_a_retried_put_events_without_event_id_changes_nothing(sim):
    order = event("order_placed", "gus", "2027-02-01T10:00:00Z", order_id="o-1", value=120.0)
    del order["detail"]["event_id"]
    cart = event("cart_updated", "gus", "2027-02-01T09:30:00Z", value=300.0, items=RING)
    del cart["detail"]["event_id"]
    sim.run([customer("gus", "2027-02-01T09:00:00Z"), cart], until=timedelta(hours=2))
    sent = [m for m in sim.messages() if m["trigger"] == "cart_jewelry_high_value"]

    # the storefront's PutEvents timed out and was retried: EventBridge gives each a new id
    for _ in range(3):
        sim.put(copy.deepcopy(cart))
    sim.run([order, copy.deepcopy(order)], until=timedelta(days=1))
    sim.put(copy.deepcopy(order))

    profile = sim.profiles()["gus"]
    assert profile["orders_count"] == 1 and profile["lifetime_value"] == 120.0
    reminders = [m for m in sim.messages() if m["trigger"] == "cart_jewelry_high_value"]
    assert len(reminders) == len(sent) == 1  # no second cart reminder
    duplicates = [d for d in sim.decisions() if d["reason"] == "duplicate"]
    keys = {d["event_id"] for d in duplicates}  # one key each for the cart and the order
    assert len(keys) == 2 and all(k.startswith("content:") for k in keys)


def test_two_different_events_without_event_id_are_both_applied(sim):
    first = event("order_placed", "hal", "2027-02-01T10:00:00Z", order_id="o-1", value=10.0)
    second = event("order_placed", "hal", "2027-02-01T10:00:00Z", order_id="o-2", value=20.0)
    for envelope in (first, second):
        del envelope["detail"]["event_id"]
    sim.run([customer("hal", "2027-02-01T09:00:00Z"), first, second])

    assert sim.profiles()["hal"]["lifetime_value"] == 30.0


# -- 21.2: refunds applied once, however late ---------------------------------------------------


def _views(cid: str, start: str, n: int) -> list[dict]:
    at = parse_time(start)
    return [
        event(
            "page_viewed",
            cid,
            (at + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            path=f"/p/{i}",
        )
        for i in range(n)
    ]


def _ingest_all(envelopes: list[dict]) -> None:
    for start in range(0, len(envelopes), 10):
        assert ingest.handle(_batch(*envelopes[start : start + 10])) == {"batchItemFailures": []}


def test_a_refund_redelivered_after_300_newer_events_is_not_applied_twice(sim):
    sim.run(
        [
            customer("ida", "2027-02-01T09:00:00Z"),
            event("order_placed", "ida", "2027-02-01T10:00:00Z", order_id="o-1", value=70.0),
            event("order_placed", "ida", "2027-02-01T10:01:00Z", order_id="o-2", value=30.0),
        ],
        until=timedelta(0),
    )
    refund = event("order_refunded", "ida", "2027-02-01T11:00:00Z", order_id="o-1", value=30.0)
    sim.run([refund], until=timedelta(0))
    assert sim.profiles()["ida"]["lifetime_value"] == 70.0

    _at(sim, "2027-02-01T12:00:00Z")
    _ingest_all(_views("ida", "2027-02-01T11:10:00Z", 301))
    assert refund["detail"]["event_id"] not in store.get_profile("ida").doc["seen"]
    _ingest_all([copy.deepcopy(refund)])  # the same refund, delivered again

    profile = sim.profiles()["ida"]
    assert profile["lifetime_value"] == 70.0  # not 40
    assert profile["orders_count"] == 2


def test_a_second_partial_refund_of_the_same_order_is_applied(sim):
    sim.run(
        [
            customer("jo", "2027-02-01T09:00:00Z"),
            event("order_placed", "jo", "2027-02-01T10:00:00Z", order_id="o-1", value=100.0),
            event(
                "order_refunded",
                "jo",
                "2027-02-02T10:00:00Z",
                order_id="o-1",
                value=20.0,
                refund_id="r-1",
            ),
            event(
                "order_refunded",
                "jo",
                "2027-02-03T10:00:00Z",
                order_id="o-1",
                value=20.0,
                refund_id="r-2",
            ),
            # r-1 again under another event id (a re-sent webhook): same refund
            event(
                "order_refunded",
                "jo",
                "2027-02-03T11:00:00Z",
                order_id="o-1",
                value=20.0,
                refund_id="r-1",
            ),
        ]
    )

    assert sim.profiles()["jo"]["lifetime_value"] == 60.0


def test_a_shopify_refund_resent_under_a_new_webhook_id_counts_once(sim):
    order = sample("shopify_orders_create")
    refund = sample("shopify_refunds_create")
    sim.run([order], until=timedelta(0))
    owner = store.order_owner(str(refund["detail"]["payload"]["order_id"]))
    assert owner is not None
    before = sim.profiles()[owner]["lifetime_value"]
    sim.run([refund], until=timedelta(0))
    once = sim.profiles()[owner]["lifetime_value"]
    assert once < before

    resent = copy.deepcopy(refund)
    resent["id"] = "another-envelope"
    resent["detail"]["metadata"]["X-Shopify-Webhook-Id"] = "another-webhook-delivery"
    sim.run([resent], until=timedelta(0))

    assert sim.profiles()[owner]["lifetime_value"] == once


def test_a_segment_order_refunded_redelivered_late_counts_once(sim):
    order = sample("segment_track_order_completed")
    refund = sample("segment_track_order_refunded")
    sim.run([order, refund], until=timedelta(0))
    cid = order["detail"]["userId"]
    once = sim.profiles()[cid]["lifetime_value"]
    doc = store.get_profile(cid).doc
    assert doc is not None
    stored = store.get_profile(cid)
    doc["seen"] = []  # as if 300 newer events had pushed its messageId out of the window
    store.commit(cid, doc, stored.version)

    sim.put(copy.deepcopy(refund))

    assert sim.profiles()[cid]["lifetime_value"] == once


# -- 13.2: nothing reaches the DLQ without a reason ---------------------------------------------


def test_an_event_that_keeps_failing_is_parked_with_a_reason_on_its_last_receive(sim, monkeypatch):
    sim.run([customer("kit", "2027-02-01T09:00:00Z")], until=timedelta(0))
    order = event("order_placed", "kit", "2027-02-01T09:00:00Z", order_id="o-1", value=50.0)

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "commit", broken)
    # early receives: a batch item failure, so SQS delivers it again; nothing parked
    for receives in range(1, ingest.MAX_RECEIVES):
        result = ingest.handle(_batch(order, receives=receives))
        assert result == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert sim.dead_letters() == []

    # the last receive: parked by ingest with the reason, not left for the redrive policy
    result = ingest.handle(_batch(order, receives=ingest.MAX_RECEIVES))

    assert result == {"batchItemFailures": []}
    [letter] = sim.dead_letters()
    assert letter["reason"] == "failed on all 5 deliveries: RuntimeError"
    assert json.loads(letter["body"]) == order


def test_an_event_nested_too_deeply_to_read_is_parked(sim):
    body = '{"detail": ' * 5000 + "1" + "}" * 5000
    result = ingest.handle({"Records": [{"messageId": "m-0", "body": body}]})

    assert result == {"batchItemFailures": []}
    assert [d["reason"] for d in sim.dead_letters()] == ["event is nested too deeply to read"]
