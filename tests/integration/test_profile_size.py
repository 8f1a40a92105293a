"""A customer with many large events keeps taking orders and unsubscribes: the stored profile
stays under its byte budget (history trimmed first), never at DynamoDB's 400 KB item limit.

Here with about the smallest count that goes past the limit without the budget (50 events of
~8 KB of properties the config reads);
``make bench`` runs 10,000 (bench/limits.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from nudge.aws import store
from nudge.core.clock import iso, parse_time
from nudge.core.profile import PROFILE_BUDGET
from nudge.flows import ingest, unsubscribe
from tests.conftest import customer, event
from tests.scenarios.test_unsubscribe_link import _one_click

ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]


def large_events(cid: str, start: str, n: int) -> list[dict]:
    """``n`` custom events of ~30 KB each (under the 32 KB properties limit), a second apart."""
    at = parse_time(start)
    notes = {f"note_{k}": chr(ord("a") + k) * 2000 for k in range(15)}
    return [
        event("wishlist_added", cid, iso(at + timedelta(seconds=i)), product_id=f"p-{i}", **notes)
        for i in range(n)
    ]


def kept_events(cid: str, start: str, n: int) -> list[dict]:
    """``n`` wishlist events of ~10 KB each, a second apart, in the properties the config of
    the test reads (so the history keeps them whole)."""
    at = parse_time(start)
    props = {key: key[0] * 2000 for key in ("name", "category", "url", "wishlist_id")}
    return [
        event("wishlist_added", cid, iso(at + timedelta(seconds=i)), product_id=f"{i}" * 8, **props)
        for i in range(n)
    ]


def ingest_in_batches(envelopes: list[dict]) -> None:
    """As the queue delivers them: batches of 10 through the real handler; none may fail."""
    for start in range(0, len(envelopes), 10):
        records = [
            {"messageId": f"m-{i}", "body": json.dumps(e)}
            for i, e in enumerate(envelopes[start : start + 10])
        ]
        assert ingest.handle({"Records": records}) == {"batchItemFailures": []}


def stored_size(cid: str) -> int:
    item = next(i for i in store.scan_kind("profile") if i["pk"]["S"].endswith(cid))
    doc = item["doc"]  # text, or deflated bytes once that is smaller (docs/storage.md)
    return len(doc["B"]) if "B" in doc else len(doc["S"])


WISHLIST = ["name", "category", "url", "wishlist_id", "product_id"]


# the history keeps what conditions read (docs/storage.md): here wishlists' large properties
@pytest.mark.keeps({"wishlist_added": WISHLIST, "order_placed": [], "consent_updated": []})
def test_a_customer_with_many_large_events_still_orders_and_unsubscribes(sim):
    cart = event("cart_updated", "liv", "2027-02-03T10:00:00Z", value=300.0, items=ITEMS)
    sim.run([customer("liv", "2027-02-03T09:00:00Z"), cart], until=timedelta(hours=2))
    [reminder] = sim.messages()
    link = reminder["headers"]["List-Unsubscribe"][1:-1]

    events = kept_events("liv", "2027-02-03T12:00:00Z", 50)
    assert sum(len(json.dumps(e["detail"])) for e in events) > 400_000  # past the item limit
    sim.advance(parse_time("2027-02-03T13:00:00Z"))
    ingest_in_batches(events)
    assert sim.dead_letters() == []  # every one was applied
    assert stored_size("liv") <= PROFILE_BUDGET

    order = event("order_placed", "liv", "2027-02-03T13:00:00Z", order_id="o-1", value=300.0)
    ingest_in_batches([order])
    assert unsubscribe.handle(_one_click(link))["statusCode"] == 200

    profile = sim.profiles()["liv"]
    assert profile["orders_count"] == 1 and profile["lifetime_value"] == 300.0
    assert profile["consent"]["email"] is False
    history = store.get_profile("liv").doc["history"]
    # the newest kept (the order, the unsubscribe), the oldest dropped
    assert {"order_placed", "consent_updated"} <= {h["type"] for h in history}
    assert history[0]["type"] == "wishlist_added" and len(history) < 50
    assert stored_size("liv") <= PROFILE_BUDGET


def test_an_event_with_properties_over_the_limit_is_parked(sim):
    sim.run([customer("max", "2027-02-03T09:00:00Z")], until=timedelta(0))
    [big] = large_events("max", "2027-02-03T09:00:00Z", 1)
    big["detail"]["properties"].update(note_15="p" * 2000, note_16="q" * 2000)  # over 32 KB
    before = store.get_profile("max").doc

    ingest_in_batches([big])

    [letter] = sim.dead_letters()
    assert letter["reason"].startswith("detail.properties: ")
    assert letter["reason"].endswith("bytes as JSON; at most 32768")
    assert store.get_profile("max").doc == before  # nothing applied
