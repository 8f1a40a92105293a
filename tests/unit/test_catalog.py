"""Catalog changes on hand-made states, and Shopify's published products/update and
inventory_levels/update bodies mapped to product_updated."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from nudge.adapters import adapt_with_reason
from nudge.core.catalog import changes, in_stock, news_for, update_state
from nudge.core.events import parse_event
from tests.partners import published, shopify

NOW = datetime(2027, 3, 10, 12, tzinfo=UTC)
DAY = 86400.0


def test_in_stock_comes_from_availability_then_from_the_count_and_levels_add_up():
    assert in_stock(None) is None and in_stock({"price": 5}) is None
    assert in_stock({"inventory": 0}) is False and in_stock({"inventory": 2}) is True
    assert in_stock({"available": False, "inventory": 9}) is False
    state = update_state(None, {"location_id": "1", "inventory": 0}, "2027-03-01T00:00:00Z")
    state = update_state(state, {"location_id": "2", "inventory": 3}, "2027-03-02T00:00:00Z")
    assert state["inventory"] == 3 and state["levels"] == {"1": 0, "2": 3}
    assert in_stock(state) is True


def test_a_restock_and_a_price_drop_are_changes_and_a_first_sighting_is_none():
    assert changes(None, {"inventory": 4, "price": 9.0}) == []
    assert changes({"inventory": 0, "price": 10.0}, {"inventory": 4, "price": 9.0}) == [
        "restock",
        "price_drop",
    ]
    assert changes({"inventory": 4, "price": 9.0}, {"inventory": 5, "price": 9.5}) == []


def test_news_reaches_recent_viewers_and_a_price_drop_only_those_who_saw_more():
    new = {"name": "Pendant", "price": 150.0}
    saw_more = {"customer_id": "a", "viewed_at": "2027-03-01T10:00:00Z", "price": 185.0}
    saw_less = {"customer_id": "b", "viewed_at": "2027-03-09T10:00:00Z", "price": 150.0}
    long_ago = {"customer_id": "c", "viewed_at": "2027-01-01T10:00:00Z", "price": 185.0}
    kinds = ["restock", "price_drop"]
    got = news_for("p-1", new, kinds, saw_more, NOW, 30 * DAY)
    assert [(kind, key) for kind, key, _ in got] == [
        ("back_in_stock", "p-1@2027-03-01T10:00:00Z"),
        ("price_dropped", "p-1@150"),
    ]
    assert got[1][2]["previous_price"] == 185.0
    assert [k for k, _, _ in news_for("p-1", new, kinds, saw_less, NOW, 30 * DAY)] == [
        "back_in_stock"
    ]
    assert news_for("p-1", new, kinds, long_ago, NOW, 30 * DAY) == []


def test_the_published_products_update_becomes_a_product_updated_about_no_customer():
    body = published("2026-04/products/update")
    adapted = adapt_with_reason(
        shopify(
            "products/update", body, "2027-03-01T10:00:00Z", sample_name="shopify_orders_create"
        )
    )
    [native] = adapted.events
    event = parse_event(native)
    assert event.type == "product_updated" and event.customer_id == "catalog"
    assert event.properties == {
        "product_id": "788032119674292900",
        "name": "Example T-Shirt",
        "category": "Shirts",
        "price": 19.99,
        "inventory": 125,  # 75 + 50 over its two variants
        "inventory_item_ids": [],
    }
    assert event.time == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)  # updated_at, -05:00


def test_the_published_inventory_levels_update_is_skipped_when_not_tracked():
    body = published("2024-04/inventory_levels/update")
    untracked = adapt_with_reason(
        shopify(
            "inventory_levels/update",
            body,
            "2027-03-01T10:00:00Z",
            sample_name="shopify_orders_create",
        )
    )
    assert untracked.events == [] and "not tracked" in (untracked.skipped or "")
    counted = copy.deepcopy(body)
    counted["available"] = 4
    [native] = adapt_with_reason(
        shopify(
            "inventory_levels/update",
            counted,
            "2027-03-01T10:00:00Z",
            sample_name="shopify_orders_create",
        )
    ).events
    assert parse_event(native).properties == {
        "inventory_item_id": "271878346596884000",
        "location_id": "24826418",
        "inventory": 4,
        "inventory_item_ids": [],
    }


@pytest.mark.parametrize("broken", [{"variants": "no"}, {"id": None}])
def test_a_broken_products_update_is_malformed_not_a_crash(broken):
    from nudge.core.events import MalformedEvent

    body = {**published("2026-04/products/update"), **broken}
    with pytest.raises(MalformedEvent):
        adapt_with_reason(
            shopify(
                "products/update", body, "2027-03-01T10:00:00Z", sample_name="shopify_orders_create"
            )
        )
