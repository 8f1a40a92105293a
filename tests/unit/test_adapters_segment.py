"""Segment messages from its EventBridge destination become the native events of docs/reference.md#events.

Fixtures are ``events/segment_*.json``: complete partner envelopes as Lambda receives them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from nudge.adapters import adapt, adapt_with_reason
from nudge.core.clock import parse_time
from nudge.core.events import MalformedEvent, parse_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
ANON = "507f191e810c19729de860ea"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"segment_{name}.json").read_text())


def only(events: list[Any]) -> dict[str, Any]:
    assert len(events) == 1, events
    event: dict[str, Any] = events[0]
    return event


def exact(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(value))


@pytest.mark.parametrize(
    ("name", "detail_type"),
    [
        ("track_product_viewed", "product_viewed"),
        ("track_product_added", "product_added"),
        ("track_cart_viewed", "cart_updated"),
        ("track_checkout_started", "checkout_started"),
        ("track_order_completed", "order_placed"),
        ("track_order_refunded", "order_refunded"),
        ("track_custom", "gift_message_added"),
        ("identify", "customer_updated"),
        ("page", "page_viewed"),
    ],
)
def test_each_message_becomes_a_native_event_that_ingest_accepts(
    name: str, detail_type: str
) -> None:
    # Given a Segment message as delivered by the EventBridge destination
    partner = fixture(name)
    # When it is adapted
    native = only(adapt(partner))
    # Then it is the native event, keyed by Segment's messageId, at the message's timestamp
    event = parse_event(native)
    assert event.type == detail_type
    assert event.source == partner["source"]
    assert event.id == partner["detail"]["messageId"]
    assert event.time == parse_time(partner["detail"]["timestamp"])
    assert native["time"].endswith("Z")
    assert json.loads(json.dumps(native)) == native


def test_order_completed_matches_the_equivalent_native_order_placed() -> None:
    # Given Segment's Order Completed (revenue 25.00, total 27.50, two products)
    from_segment = parse_event(only(adapt(fixture("track_order_completed"))))
    # And the same order as a storefront would send it natively
    hand_written = parse_event(
        {
            "source": "shop.storefront",
            "detail-type": "order_placed",
            "time": "2027-02-10T14:06:51Z",
            "detail": {
                "customer_id": "c-1001",
                "event_id": "e-1",
                "properties": {
                    "order_id": "50314b8e9bcf000000000000",
                    "value": 25.00,
                    "currency": "USD",
                    "items": [
                        {
                            "product_id": "507f1f77bcf86cd799439011",
                            "name": "Monopoly: 3rd Edition",
                            "category": "Games",
                            "price": 19,
                            "quantity": 1,
                            "sku": "45790-32",
                            "url": "https://www.example.com/product/path",
                            "image_url": "https://www.example.com/product/path.jpg",
                        },
                        {
                            "product_id": "505bd76785ebb509fc183733",
                            "name": "Uno Card Game",
                            "category": "Games",
                            "price": 3,
                            "quantity": 2,
                            "sku": "46493-32",
                        },
                    ],
                },
            },
        }
    )
    # Then triggers and templates see the same order: value is revenue (no shipping or tax)
    assert from_segment.properties == hand_written.properties
    assert from_segment.customer_id == hand_written.customer_id


def test_order_value_falls_back_to_total_then_to_the_products() -> None:
    partner = fixture("track_order_completed")
    props = partner["detail"]["properties"]
    del props["revenue"]
    assert only(adapt(partner))["detail"]["properties"]["value"] == 27.5
    del props["total"]
    props["products"] = [
        {"product_id": "a", "price": 0.1, "quantity": 1},
        {"product_id": "b", "price": 0.2, "quantity": 1},
    ]
    # 0.1 + 0.2 is 0.3 to the cent, not 0.30000000000000004
    assert exact(only(adapt(partner))["detail"]["properties"]["value"]) == Decimal("0.3")


def test_order_completed_without_order_id_is_malformed() -> None:
    partner = fixture("track_order_completed")
    del partner["detail"]["properties"]["order_id"]
    del partner["detail"]["properties"]["checkout_id"]
    with pytest.raises(MalformedEvent, match="order_id"):
        adapt(partner)


def test_order_refunded_is_worth_its_total() -> None:
    event = parse_event(only(adapt(fixture("track_order_refunded"))))
    assert event.properties == {
        "order_id": "50314b8e9bcf000000000000",
        "value": 6.0,
        "currency": "USD",
    }


def test_anonymous_product_view_keeps_the_anonymous_id() -> None:
    # Given a visitor who has not signed in views a product
    partner = fixture("track_product_viewed")
    assert "userId" not in partner["detail"]
    event = parse_event(only(adapt(partner)))
    # Then the view belongs to anon:<anonymousId>, ready to be merged on identify
    assert event.customer_id == f"anon:{ANON}"
    assert event.properties["product_id"] == "507f1f77bcf86cd799439011"
    assert event.properties["price"] == 18.99


def test_identify_with_an_anonymous_id_names_it_as_an_alias() -> None:
    native = only(adapt(fixture("identify")))
    assert native["detail"]["customer_id"] == "c-1001"
    assert native["detail"]["aliases"] == [f"anon:{ANON}"]


def test_identify_maps_segment_traits_to_nudge_traits_and_consent() -> None:
    event = parse_event(only(adapt(fixture("identify"))))
    assert event.traits == {
        "email": "peter@example.com",
        "phone": "+15555550123",
        "first_name": "Peter",
        "last_name": "Gibbons",
        "birthday": "1989-02-14",
        "plan": "premium",
        "timezone": "America/Toronto",  # from context, as the traits had none
        "locale": "en-US",
    }
    assert event.consent == {"email": True, "sms": False}


def test_identify_without_anonymous_id_has_no_aliases() -> None:
    partner = fixture("identify")
    del partner["detail"]["anonymousId"]
    assert "aliases" not in only(adapt(partner))["detail"]


def test_identify_with_name_only_gets_a_first_name() -> None:
    partner = fixture("identify")
    partner["detail"]["traits"] = {"name": "Peter Gibbons"}
    assert only(adapt(partner))["detail"]["traits"]["first_name"] == "Peter"


def test_identify_with_unreadable_consent_is_malformed() -> None:
    partner = fixture("identify")
    partner["detail"]["traits"]["consent"] = {"email": "yes"}
    with pytest.raises(MalformedEvent, match="consent"):
        adapt(partner)


def test_single_product_added_stays_a_custom_event_and_leaves_the_cart_alone() -> None:
    # Given Product Added with one product and no cart contents
    event = parse_event(only(adapt(fixture("track_product_added"))))
    # Then it is not a cart_updated that would claim the cart is worth 18.99
    assert event.type == "product_added"
    assert event.properties["product_id"] == "507f1f77bcf86cd799439011"
    assert event.properties["cart_id"] == "skdjsidjsdkdj29j"


def test_product_added_with_the_whole_cart_is_a_cart_update() -> None:
    partner = fixture("track_product_added")
    partner["detail"]["properties"]["products"] = [
        {"product_id": "p-1", "name": "Roses", "price": 45.5, "quantity": 2},
        {"product_id": "p-2", "name": "Card", "price": 3.9},
    ]
    event = parse_event(only(adapt(partner)))
    assert event.type == "cart_updated"
    assert exact(event.properties["value"]) == Decimal("94.90")
    assert event.properties["cart_id"] == "skdjsidjsdkdj29j"


def test_product_removed_leaving_an_empty_cart_is_a_cart_worth_nothing() -> None:
    partner = fixture("track_product_added")
    partner["detail"]["event"] = "Product Removed"
    partner["detail"]["properties"]["products"] = []
    event = parse_event(only(adapt(partner)))
    assert (event.type, event.properties["value"], event.properties["items"]) == (
        "cart_updated",
        0.0,
        [],
    )


def test_cart_viewed_is_a_cart_update_worth_its_products() -> None:
    event = parse_event(only(adapt(fixture("track_cart_viewed"))))
    assert exact(event.properties["value"]) == Decimal("22")
    assert [i["product_id"] for i in event.properties["items"]] == [
        "507f1f77bcf86cd799439011",
        "505bd76785ebb509fc183733",
    ]


def test_checkout_started_is_a_checkout_with_the_cart() -> None:
    event = parse_event(only(adapt(fixture("track_checkout_started"))))
    assert event.properties["cart_id"] == "50314b8e9bcf000000000000"
    assert event.properties["value"] == 25.0
    assert len(event.properties["items"]) == 2


def test_other_track_events_are_custom_events_named_in_snake_case() -> None:
    event = parse_event(only(adapt(fixture("track_custom"))))
    assert event.type == "gift_message_added"
    assert event.properties == {"occasion": "valentines", "length": 42}
    partner = fixture("track_custom")
    partner["detail"]["event"] = "wishlistShared"
    assert only(adapt(partner))["detail-type"] == "wishlist_shared"


def test_page_is_a_page_view_with_path_title_and_url() -> None:
    event = parse_event(only(adapt(fixture("page"))))
    assert event.customer_id == f"anon:{ANON}"
    assert event.properties["path"] == "/pages/valentines-delivery"
    assert event.properties["title"] == "Valentine's delivery times - Rose & Co"
    assert event.properties["url"] == "https://rose.example/pages/valentines-delivery"


def test_page_without_properties_uses_the_context_page() -> None:
    partner = fixture("page")
    partner["detail"]["properties"] = {}
    assert parse_event(only(adapt(partner))).properties["path"] == "/pages/valentines-delivery"
    partner["detail"]["context"]["page"] = {"url": "https://rose.example/pages/faq?x=1"}
    assert parse_event(only(adapt(partner))).properties["path"] == "/pages/faq"


def test_message_with_no_user_at_all_is_malformed() -> None:
    partner = fixture("page")
    del partner["detail"]["anonymousId"]
    with pytest.raises(MalformedEvent, match="neither userId nor anonymousId"):
        adapt(partner)


@pytest.mark.parametrize("kind", ["group", "screen", "alias"])
def test_message_types_we_do_not_map_give_nothing_and_say_why(kind: str) -> None:
    partner = fixture("page")
    partner["detail-type"] = partner["detail"]["type"] = kind
    result = adapt_with_reason(partner)
    assert result.events == [] and result.partner == "segment"
    assert kind in (result.skipped or "")


def test_timestamps_with_an_offset_are_normalised_to_utc() -> None:
    partner = fixture("track_order_completed")
    partner["detail"]["timestamp"] = "2027-02-10T09:06:51.904-05:00"
    assert only(adapt(partner))["time"] == "2027-02-10T14:06:51.904Z"


def test_segment_message_is_recognised_by_its_shape_on_another_source() -> None:
    partner = fixture("track_order_completed")
    partner["source"] = "custom.segment-forwarder"
    assert only(adapt(partner))["detail-type"] == "order_placed"
