"""Shopify webhooks on EventBridge become the native events of CONTRACT §1.

Fixtures are ``events/shopify_*.json``: complete partner envelopes as Lambda receives them.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from nudge.adapters import adapt, adapt_with_reason
from nudge.model.events import MalformedEvent, parse_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
ORDER_ID = "820982911946154508"  # > 2**53: a float would turn it into ...500 or ...512
CUSTOMER_ID = "115310627314723954"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"shopify_{name}.json").read_text())


def only(events: list[Any]) -> dict[str, Any]:
    assert len(events) == 1, events
    event: dict[str, Any] = events[0]
    return event


def exact(value: Any) -> Decimal:
    """The decimal a JSON number stands for (its shortest repr, as json.dumps writes it)."""
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def webhook_id(partner: dict[str, Any]) -> str:
    """The delivery's webhook id, whichever header spelling the fixture uses."""
    meta = {k.lower().removeprefix("x-"): v for k, v in partner["detail"]["metadata"].items()}
    return str(meta["shopify-webhook-id"])


def known_order(order_id: str) -> str | None:
    return CUSTOMER_ID if order_id == ORDER_ID else None


@pytest.mark.parametrize(
    ("name", "detail_type"),
    [
        ("orders_create", "order_placed"),
        ("refunds_create", "order_refunded"),
        ("checkouts_create", "cart_updated"),
        ("checkouts_update", "cart_updated"),
        ("customers_create", "customer_updated"),
        ("customers_update", "customer_updated"),
        ("customers_email_marketing_consent_update", "consent_updated"),
        ("customers_marketing_consent_update", "consent_updated"),
    ],
)
def test_each_topic_becomes_a_native_event_that_ingest_accepts(name: str, detail_type: str) -> None:
    # Given a Shopify webhook as delivered by the partner event source
    partner = fixture(name)
    # When it is adapted
    native = only(adapt(partner, order_owner=known_order))
    # Then it is the native event, for the Shopify customer, keyed by the webhook id
    assert native["detail-type"] == detail_type
    assert native["source"] == partner["source"]
    assert native["version"] == "0" and native["resources"] == []
    event = parse_event(native)
    assert event.type == detail_type
    assert event.customer_id == CUSTOMER_ID
    assert event.id == webhook_id(partner)
    # And it can be put back on a bus as JSON
    assert json.loads(json.dumps(native)) == native


def test_order_placed_keeps_64_bit_ids_and_money_exact() -> None:
    # Given orders/create, read from its JSON text as a Lambda would
    text = (EVENTS / "shopify_orders_create.json").read_text()
    # When adapted
    event = parse_event(only(adapt(json.loads(text))))
    # Then the order and customer ids are the exact digits Shopify sent
    assert event.properties["order_id"] == ORDER_ID
    assert event.customer_id == CUSTOMER_ID
    # And the value is total_price "310.00" to the cent, in the shop currency
    assert exact(event.properties["value"]) == Decimal("310.00")
    assert event.properties["currency"] == "USD"
    # And each line item is a native item
    assert event.properties["items"] == [
        {
            "product_id": "7513594953833",
            "name": "Gold Heart Pendant",
            "price": 249.0,
            "quantity": 1,
            "sku": "GHP-14K",
            "variant_id": "42253111820393",
        },
        {
            "product_id": "7513594986601",
            "name": "Red Roses Bouquet",
            "price": 45.5,
            "quantity": 1,
            "sku": "RRB-12",
            "variant_id": "42253111853161",
        },
    ]
    # And the time is when the order was processed, in UTC
    assert only(adapt(json.loads(text)))["time"] == "2027-02-10T15:02:07Z"


def test_order_id_survives_json_text_round_trip_exactly() -> None:
    partner = fixture("orders_create")
    native = only(adapt(json.dumps(partner)))  # JSON text in, as from an SQS body
    assert native["detail"]["properties"]["order_id"] == ORDER_ID
    assert float(ORDER_ID) != int(ORDER_ID)  # the trap the adapter avoids


def test_line_item_category_comes_from_product_type_when_present() -> None:
    partner = fixture("orders_create")
    partner["detail"]["payload"]["line_items"][0]["product_type"] = "jewelry"
    items = only(adapt(partner))["detail"]["properties"]["items"]
    assert items[0]["category"] == "jewelry"
    assert "category" not in items[1]


def test_money_beyond_float_precision_is_kept_as_a_decimal() -> None:
    partner = fixture("orders_create")
    partner["detail"]["payload"]["total_price"] = "0.10000000000000001"
    value = only(adapt(partner))["detail"]["properties"]["value"]
    assert value == Decimal("0.10000000000000001")


def test_unreadable_money_is_malformed_and_names_the_field() -> None:
    partner = fixture("orders_create")
    partner["detail"]["payload"]["total_price"] = "three hundred"
    with pytest.raises(MalformedEvent, match="total_price"):
        adapt(partner)


def test_order_without_customer_is_skipped_with_a_reason() -> None:
    partner = fixture("orders_create")
    partner["detail"]["payload"]["customer"] = None
    result = adapt_with_reason(partner)
    assert result.events == []
    assert result.skipped is not None and "without customer" in result.skipped


def test_refund_value_is_the_money_refunded_exact_to_the_cent() -> None:
    # Given a refund paid back in two transactions of 0.10 and 0.20, and one that failed
    partner = fixture("refunds_create")
    payload = partner["detail"]["payload"]
    tx = payload["transactions"][0]
    payload["transactions"] = [
        {**tx, "id": 1, "amount": "0.10"},
        {**tx, "id": 2, "amount": "0.20"},
        {**tx, "id": 3, "amount": "99.00", "status": "failure"},
    ]
    # When adapted
    # Then the refund is worth exactly 0.30 (not 0.30000000000000004, not 99.30, and not the
    # refund line subtotal of 45.50 on top)
    native = only(adapt(partner, order_owner=known_order))
    assert exact(native["detail"]["properties"]["value"]) == Decimal("0.30")
    assert parse_event(native).properties["order_id"] == ORDER_ID


def test_refund_of_the_fixture_order_is_its_transaction_amount() -> None:
    native = only(adapt(fixture("refunds_create"), order_owner=known_order))
    assert exact(native["detail"]["properties"]["value"]) == Decimal("45.50")
    assert native["time"] == "2027-02-12T16:40:02Z"


def test_refund_without_customer_and_unknown_order_goes_to_the_dlq_with_a_reason() -> None:
    # Shopify's refund body names the order, not the customer
    partner = fixture("refunds_create")
    with pytest.raises(MalformedEvent, match=f"refund without customer.*{ORDER_ID}"):
        adapt(partner)
    with pytest.raises(MalformedEvent, match="refund without customer"):
        adapt(partner, order_owner=lambda order_id: None)


def test_refund_uses_a_customer_in_the_payload_when_there_is_one() -> None:
    partner = fixture("refunds_create")
    partner["detail"]["payload"]["customer"] = {"id": 7, "email": "x@example.com"}
    assert only(adapt(partner))["detail"]["customer_id"] == "7"


def test_abandoned_checkout_is_a_cart_with_a_way_back() -> None:
    event = parse_event(only(adapt(fixture("checkouts_update"))))
    assert event.properties["cart_id"] == "c1e6a7b3d2f84a7e9b0c4d5e6f7a8b9c"
    assert exact(event.properties["value"]) == Decimal("294.50")
    assert event.properties["checkout_url"].startswith("https://rose-and-co.myshopify.com/")
    assert [i["name"] for i in event.properties["items"]] == [
        "Gold Heart Pendant",
        "Red Roses Bouquet",
    ]


def test_completed_checkout_is_not_an_abandoned_cart() -> None:
    partner = fixture("checkouts_update")
    partner["detail"]["payload"]["completed_at"] = "2027-02-10T09:06:00-05:00"
    result = adapt_with_reason(partner)
    assert result.events == []
    assert result.skipped is not None and "completed checkout" in result.skipped


def test_checkout_without_customer_is_skipped() -> None:
    partner = fixture("checkouts_create")
    del partner["detail"]["payload"]["customer"]
    result = adapt_with_reason(partner)
    assert result.events == [] and result.skipped is not None
    assert "without customer" in result.skipped


def test_customer_update_carries_traits_but_not_consent() -> None:
    # Given a customers/update from an older API version that still carries a consent block
    partner = fixture("customers_update")
    partner["detail"]["payload"]["email_marketing_consent"] = {"state": "subscribed"}
    event = parse_event(only(adapt(partner)))
    assert event.traits == {
        "email": "ana.silva@example.com",
        "phone": "+16135551111",
        "first_name": "Ana",
        "last_name": "Silva",
        "tags": ["valentines-2027", "vip"],
    }
    # Then consent comes only from the consent topics
    assert event.consent == {}


@pytest.mark.parametrize(
    ("state", "granted"),
    [("subscribed", True), ("unsubscribed", False), ("pending", False), ("not_subscribed", False)],
)
def test_email_consent_is_granted_only_when_subscribed(state: str, granted: bool) -> None:
    partner = fixture("customers_email_marketing_consent_update")
    partner["detail"]["payload"]["email_marketing_consent"]["state"] = state
    event = parse_event(only(adapt(partner)))
    assert event.properties["channel"] == "email"
    assert event.properties["granted"] is granted
    assert event.properties["source"] == "shopify"


def test_sms_consent_topic_is_the_sms_channel() -> None:
    event = parse_event(only(adapt(fixture("customers_marketing_consent_update"))))
    assert (event.properties["channel"], event.properties["granted"]) == ("sms", True)
    assert event.time.isoformat() == "2027-02-10T15:01:55+00:00"


@pytest.mark.parametrize("header", ["X-Shopify-Topic", "x-shopify-topic", "shopify-topic", "topic"])
def test_topic_header_is_found_whatever_its_spelling(header: str) -> None:
    partner = fixture("orders_create")
    meta = partner["detail"]["metadata"]
    meta[header] = meta.pop("X-Shopify-Topic")
    assert only(adapt(partner))["detail-type"] == "order_placed"


def test_topic_we_do_not_map_gives_nothing_and_says_why() -> None:
    partner = fixture("orders_create")
    partner["detail"]["metadata"]["X-Shopify-Topic"] = "products/update"
    assert adapt(partner) == []
    assert "products/update" in (adapt_with_reason(partner).skipped or "")


def test_partner_event_without_topic_is_malformed() -> None:
    partner = fixture("orders_create")
    del partner["detail"]["metadata"]["X-Shopify-Topic"]
    with pytest.raises(MalformedEvent, match="X-Shopify-Topic"):
        adapt(partner)


def test_native_events_pass_through_untouched() -> None:
    native = {
        "version": "0",
        "id": "n-1",
        "source": "shop.storefront",
        "detail-type": "order_placed",
        "time": "2027-02-10T14:20:00Z",
        "detail": {"customer_id": "c-1", "properties": {"order_id": "o-1", "value": 10}},
    }
    original = copy.deepcopy(native)
    result = adapt_with_reason(native)
    assert result.events == [native] and result.skipped is None and result.partner is None
    assert native == original
