"""Ingest with partner events, through its Lambda entry points: skipped partner events are not
failures, malformed ones go to the DLQ, and the order index goes in the order's own write."""

from __future__ import annotations

import json

from nudge.aws import clients as aws
from nudge.aws import store
from nudge.core.clock import parse_time
from nudge.flows import ingest
from tests.conftest import sample
from tests.partners import checkout, line_item, order, refund

RING = [line_item(42, "Ring", "150.00", product_type="jewelry")]


def test_a_batch_with_a_skipped_a_malformed_and_a_good_partner_event(sim):
    # Given an SQS batch: a completed checkout (skipped), a Shopify event without its topic
    # (malformed) and an order (good), that day
    sim.advance(parse_time("2027-02-10T12:00:00Z"))
    skipped = checkout(7, "tok", "150.00", RING, "2027-02-10T10:00:00Z", completed=True)
    malformed = sample("shopify_orders_create")
    del malformed["detail"]["metadata"]
    good = order(7, 2**60, "150.00", RING, "2027-02-10T10:05:00Z")
    records = [
        {"messageId": f"m-{i}", "body": json.dumps(e)}
        for i, e in enumerate([skipped, malformed, good])
    ]

    # When ingest handles it
    result = ingest.handle({"Records": records})

    # Then no record is retried, only the malformed one is parked, and the order counted
    assert result == {"batchItemFailures": []}
    letters = sim.dead_letters()
    assert [letter["reason"] for letter in letters] == [
        "shopify event without X-Shopify-Topic in detail.metadata"
    ]
    assert sim.profiles()["7"]["orders_count"] == 1


def test_a_single_envelope_says_why_a_partner_event_was_skipped(sim):
    got = ingest.handle(
        sample("shopify_checkouts_update")
        | {
            "detail": {
                "payload": {"completed_at": "2027-02-10T10:00:00-05:00", "customer": {"id": 1}},
                "metadata": {"X-Shopify-Topic": "checkouts/update"},
            }
        }
    )

    assert got == {
        "skipped": "completed checkout: it became an order, not an abandoned cart",
        "partner": "shopify",
    }
    assert sim.dead_letters() == []


def test_the_order_index_is_put_right_after_the_order_without_a_transaction(sim):
    # Given a known Shopify customer, that day
    sim.advance(parse_time("2027-02-10T12:00:00Z"))
    ingest.handle(order(8, 123456789012345678, "99.99", RING, "2027-02-10T10:00:00Z"))
    calls: list[str] = []
    aws.client("dynamodb").meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )

    # When a second order comes in
    ingest.handle(order(8, 123456789012345679, "0.01", RING, "2027-02-10T11:00:00Z"))

    # Then it costs one read of the profile (a Query: with its history segments), one small read that the first order's items were
    # all put, one write of the profile (no transaction) and the order index put right after it
    # (the profile carries it until then, so a crash in between loses nothing:
    # docs/storage.md), a read of the tombstone (an erasure between the two writes would
    # delete the index again), and the per-topic count for `nudge sources` (one UpdateItem
    # per invocation); and a refund of it finds its customer
    assert calls == ["Query", "GetItem", "PutItem", "PutItem", "GetItem", "UpdateItem"]
    assert [i["kind"]["S"] for i in store.get_profile("8").pending] == ["order_index"]
    assert store.order_owner("123456789012345679") == "8"
    ingest.handle(refund(123456789012345679, 5, "0.01", "2027-02-10T12:00:00Z"))
    assert sim.profiles()["8"]["lifetime_value"] == 99.99
