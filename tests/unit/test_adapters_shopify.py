"""Shopify webhooks on EventBridge become the native events of docs/reference.md#events.

Two kinds of input: Shopify's own published example of each topic (tests/fixtures/shopify/, in
the partner envelope as a Lambda receives it: ``detail-type`` ``shopifyWebhook``, headers in
``detail.metadata``, body in ``detail.payload``), and the sample shop's envelopes in
``events/shopify_*.json`` (the same bodies with exact 64-bit ids and the shop's values).
"""

from __future__ import annotations

import copy
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from nudge.adapters import adapt, adapt_with_reason
from nudge.adapters.shopify import CONSENT_STATES, TOPICS, email_alias
from nudge.core.events import MalformedEvent, parse_event
from tests.partners import FIXTURES

EVENTS = Path(__file__).resolve().parents[2] / "events"
ORDER_ID = "820982911946154508"  # > 2**53: a float would turn it into ...500 or ...512
CUSTOMER_ID = "115310627314723954"
PUBLISHED = {
    "orders/create": "2026-04/orders/create",
    "refunds/create": "2026-04/refunds/create",
    "checkouts/create": "2026-04/checkouts/create",
    "checkouts/update": "2026-04/checkouts/update",
    "customers/create": "2026-04/customers/create",
    "customers/update": "2026-04/customers/update",
    "customers_email_marketing_consent/update": "2026-04/customers_email_marketing_consent/update",
    "customers_marketing_consent/update": "2023-07/customers_marketing_consent/update",
    "products/update": "2026-04/products/update",
    "inventory_levels/update": "2024-04/inventory_levels/update",
}


def published(path: str, *, topic: str | None = None) -> dict[str, Any]:
    """Shopify's published example, delivered through the EventBridge partner source."""
    doc = json.loads((FIXTURES / f"{path}.json").read_text())
    version = path.split("/", 1)[0]
    return {
        "version": "0",
        "id": f"env-{path}",
        "detail-type": "shopifyWebhook",
        "source": "aws.partner/shopify.com/7183745/nudge-rose",
        "account": "123456789012",
        "time": "2027-02-10T14:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "payload": doc["response"],
            "metadata": {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic or doc["name"],
                "X-Shopify-Shop-Domain": "rose-and-co.myshopify.com",
                "X-Shopify-API-Version": version,
                "X-Shopify-Webhook-Id": f"wh-{path}",
                "X-Shopify-Triggered-At": "2027-02-10T14:00:00.000Z",
            },
        },
    }


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"shopify_{name}.json").read_text())


def only(events: list[Any]) -> dict[str, Any]:
    assert len(events) == 1, events
    event: dict[str, Any] = events[0]
    return event


def exact(value: Any) -> Decimal:
    """The decimal a JSON number stands for (its shortest repr, as json.dumps writes it)."""
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def webhook_id(partner: dict[str, Any]) -> str:
    """The delivery's webhook id, whichever header spelling the envelope uses."""
    meta = {k.lower().removeprefix("x-"): v for k, v in partner["detail"]["metadata"].items()}
    return str(meta["shopify-webhook-id"])


def known_order(order_id: str) -> str | None:
    return CUSTOMER_ID if order_id == ORDER_ID else None


def alias(email: str) -> str:
    return "email:" + hashlib.sha256(email.encode()).hexdigest()[:32]


# ------------------------------------------------------------------ Shopify's published examples


def test_every_mapped_topic_has_its_published_example_under_its_real_name() -> None:
    # The topic names nudge maps are the ones Shopify documents (the fixture's "name")
    for topic, path in PUBLISHED.items():
        assert json.loads((FIXTURES / f"{path}.json").read_text())["name"] == topic
    assert set(PUBLISHED) == set(TOPICS)


def test_published_order_is_a_test_order_and_is_skipped_with_the_reason() -> None:
    # Shopify's own orders/create example has "test": true: a test order is not revenue
    result = adapt_with_reason(published(PUBLISHED["orders/create"]))
    assert result.events == [] and result.topic == "orders/create" and not result.unmapped
    assert result.skipped is not None and result.skipped.startswith("test order")


def test_published_order_when_not_a_test_is_an_order_of_its_customer() -> None:
    partner = published(PUBLISHED["orders/create"])
    partner["detail"]["payload"]["test"] = False
    native = only(adapt(partner))
    event = parse_event(native)
    assert event.type == "order_placed" and event.id == "wh-2026-04/orders/create"
    # (the published ids were rounded by the scrape: see tests/fixtures/shopify/README.md)
    assert (event.customer_id, event.properties["order_id"]) == (
        "115310627314723950",
        "820982911946154500",
    )
    assert exact(event.properties["value"]) == Decimal("404.95")
    assert [(i["name"], i["price"]) for i in event.properties["items"]] == [
        ("Aviator sunglasses", 89.99),
        ("Lens Protection Plan (2 Year)", 19.99),
        ("Premium Leather Case", 24.99),
        ("Mid-century lounger", 159.99),
        ("Coffee table", 119.99),
    ]
    assert native["time"] == "2022-01-01T00:00:00Z"
    # the customer's email is an address for a profile without one, and both emails (the
    # customer's and the order's) are the customer's from now on
    assert event.properties["contact"] == {"email": "john@example.com"}
    assert event.aliases == [alias("john@example.com"), alias("jon@example.com")]


def test_published_refund_is_the_money_its_transactions_returned() -> None:
    partner = published(PUBLISHED["refunds/create"])
    event = parse_event(only(adapt(partner, order_owner=lambda order_id: f"owner-of-{order_id}")))
    assert event.type == "order_refunded"
    assert event.customer_id == "owner-of-820982911946154500"
    assert exact(event.properties["value"]) == Decimal("85.00")  # 75.00 + 10.00
    assert event.properties["refund_id"] == "890088186047892400"


@pytest.mark.parametrize("topic", ["checkouts/create", "checkouts/update"])
def test_published_checkout_is_a_cart_with_the_buyers_emails(topic: str) -> None:
    event = parse_event(only(adapt(published(PUBLISHED[topic]))))
    assert event.type == "cart_updated" and event.customer_id == "603851970716743400"
    assert event.properties["cart_id"] == "123123123"
    assert exact(event.properties["value"]) == Decimal("421.88")
    assert event.properties["checkout_url"].endswith(
        "/checkouts/123123123/recover?key=example-secret-token"
    )
    assert event.properties["contact"] == {"email": "john@example.com"}
    assert event.aliases == [alias("john@example.com"), alias("example@email.com")]


@pytest.mark.parametrize("topic", ["customers/create", "customers/update"])
def test_published_customer_is_who_the_customer_is_without_consent(topic: str) -> None:
    event = parse_event(only(adapt(published(PUBLISHED[topic]))))
    assert event.type == "customer_updated" and event.customer_id == "706405506930370000"
    assert event.traits == {"email": "bob@biller.com", "first_name": "Bob", "last_name": "Biller"}
    assert event.consent == {} and "consent_states" not in event.properties  # none since 2025-01
    assert event.aliases == [alias("bob@biller.com")]


def test_published_2024_10_customer_reports_its_consent_states() -> None:
    # Up to API 2024-10 the customer body carries email_marketing_consent (and sms, null here)
    event = parse_event(only(adapt(published("2024-10/customers/create"))))
    assert event.type == "customer_updated" and event.customer_id == "706405506930370000"
    assert event.properties["consent_states"] == {
        "email": {"state": "not_subscribed", "consent_updated_at": None}
    }
    assert event.consent == {}  # resolved against the profile by ingest (identity.apply_hints)
    assert event.traits == {"first_name": "Bob", "last_name": "Biller"}  # "email": null


def test_published_email_consent_not_subscribed_withdraws_only_what_was_recorded() -> None:
    # The published example says not_subscribed: Shopify's default, not an opt-out
    native = only(adapt(published(PUBLISHED["customers_email_marketing_consent/update"])))
    event = parse_event(native)
    assert event.type == "customer_updated" and event.customer_id == "706405506930370000"
    assert event.properties == {
        "consent_states": {"email": {"state": "not_subscribed", "consent_updated_at": None}},
        "contact": {"email": "bob@biller.com"},
    }
    assert native["time"] == "2027-02-10T14:00:00Z"  # no consent_updated_at: triggered-at


def test_published_sms_consent_with_a_null_state_changes_nothing_and_says_why() -> None:
    result = adapt_with_reason(published(PUBLISHED["customers_marketing_consent/update"]))
    assert result.events == [] and result.topic == "customers_marketing_consent/update"
    assert result.skipped == (
        "sms_marketing_consent.state None is not a documented state: sms consent unchanged"
    )


# ------------------------------------------------------------------ topic names


@pytest.mark.parametrize(
    ("spelling", "detail_type"),
    [
        ("customers_email_marketing_consent/update", "consent_updated"),  # Shopify's name
        ("CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE", "consent_updated"),  # GraphQL enum
        ("customers/email_marketing_consent_update", "consent_updated"),  # earlier nudge
    ],
)
def test_email_consent_topic_is_accepted_under_each_of_its_spellings(
    spelling: str, detail_type: str
) -> None:
    partner = sample("customers_email_marketing_consent_update")
    partner["detail"]["metadata"]["X-Shopify-Topic"] = spelling
    result = adapt_with_reason(partner)
    assert only(result.events)["detail-type"] == detail_type
    assert result.topic == "customers_email_marketing_consent/update"


@pytest.mark.parametrize(
    "spelling",
    [
        "customers_marketing_consent/update",
        "CUSTOMERS_MARKETING_CONSENT_UPDATE",
        "customers/marketing_consent_update",
    ],
)
def test_sms_consent_topic_is_accepted_under_each_of_its_spellings(spelling: str) -> None:
    partner = sample("customers_marketing_consent_update")
    partner["detail"]["metadata"]["shopify-topic"] = spelling
    event = parse_event(only(adapt(partner)))
    assert (event.type, event.properties["channel"], event.properties["granted"]) == (
        "consent_updated",
        "sms",
        True,
    )


def test_a_topic_nudge_does_not_map_is_unmapped_by_name() -> None:
    partner = sample("orders_create")
    partner["detail"]["metadata"]["X-Shopify-Topic"] = "products/create"
    result = adapt_with_reason(partner)
    assert result.events == [] and result.unmapped and result.topic == "products/create"
    assert result.skipped == "shopify topic 'products/create' is not mapped"


def test_a_skipped_mapped_topic_is_not_unmapped() -> None:
    partner = sample("checkouts_update")
    partner["detail"]["payload"]["completed_at"] = "2027-02-10T09:06:00-05:00"
    result = adapt_with_reason(partner)
    assert result.events == [] and not result.unmapped and result.topic == "checkouts/update"
    assert result.skipped == "completed checkout: it became an order, not an abandoned cart"


# ------------------------------------------------------------------ consent states


@pytest.mark.parametrize(
    ("state", "granted"),
    [
        ("subscribed", True),
        ("pending", False),
        ("unsubscribed", False),
        ("redacted", False),
        ("invalid", False),
        ("SUBSCRIBED", True),
    ],
)
@pytest.mark.parametrize("channel", ["email", "sms"])
def test_each_documented_consent_state_of_a_consent_topic(
    channel: str, state: str, granted: bool
) -> None:
    name = (
        "customers_email_marketing_consent_update"
        if channel == "email"
        else ("customers_marketing_consent_update")
    )
    partner = sample(name)
    partner["detail"]["payload"][f"{channel}_marketing_consent"]["state"] = state
    event = parse_event(only(adapt(partner)))
    assert event.type == "consent_updated"
    assert event.properties["channel"] == channel
    assert event.properties["granted"] is granted
    assert event.properties["state"] == state.lower()
    assert event.properties["source"] == "shopify"
    assert event.properties["opt_in_level"] == "single_opt_in"
    assert event.properties["consent_updated_at"] == event.time.isoformat().replace("+00:00", "Z")


def test_the_state_table_covers_every_documented_state() -> None:
    # CustomerEmailMarketingState: INVALID NOT_SUBSCRIBED PENDING REDACTED SUBSCRIBED UNSUBSCRIBED
    assert set(CONSENT_STATES) == {
        "invalid",
        "not_subscribed",
        "pending",
        "redacted",
        "subscribed",
        "unsubscribed",
    }
    assert [s for s, granted in CONSENT_STATES.items() if granted] == ["subscribed"]


@pytest.mark.parametrize("state", ["maybe", "", None, 1])
def test_an_unknown_consent_state_changes_nothing_and_says_why(state: Any) -> None:
    partner = sample("customers_email_marketing_consent_update")
    partner["detail"]["payload"]["email_marketing_consent"]["state"] = state
    result = adapt_with_reason(partner)
    assert result.events == [] and not result.unmapped
    assert result.skipped == (
        f"email_marketing_consent.state {state!r} is not a documented state: "
        "email consent unchanged"
    )


def test_consent_topics_give_their_address_for_profiles_without_one() -> None:
    email = parse_event(only(adapt(sample("customers_email_marketing_consent_update"))))
    sms = parse_event(only(adapt(sample("customers_marketing_consent_update"))))
    assert email.properties["contact"] == {"email": "ana.silva@example.com"}
    assert sms.properties["contact"] == {"phone": "+16135551111"}
    assert email.customer_id == sms.customer_id == CUSTOMER_ID


@pytest.mark.parametrize("state", [*CONSENT_STATES, "maybe"])
def test_a_customer_record_reports_each_state_for_ingest_to_resolve(state: str) -> None:
    partner = sample("customers_update")
    partner["detail"]["payload"]["email_marketing_consent"] = {
        "state": state,
        "opt_in_level": "single_opt_in",
        "consent_updated_at": "2027-02-10T09:00:00-05:00",
    }
    partner["detail"]["payload"]["sms_marketing_consent"] = None
    event = parse_event(only(adapt(partner)))
    assert event.consent == {}  # never an opt-in event by itself (identity.reopts_in)
    if state in CONSENT_STATES:
        assert event.properties["consent_states"] == {
            "email": {"state": state, "consent_updated_at": "2027-02-10T14:00:00Z"}
        }
    else:
        assert "consent_states" not in event.properties
        assert event.properties["consent_ignored"] == {
            "email": "email_marketing_consent.state 'maybe' is not a documented state: unchanged"
        }


# ------------------------------------------------------------------ who: ids, emails, guests


def test_a_guest_checkout_with_an_email_belongs_to_that_email() -> None:
    partner = sample("checkouts_create")
    payload = partner["detail"]["payload"]
    del payload["customer"]
    payload["email"] = "  Ana.Silva@Example.com "
    event = parse_event(only(adapt(partner)))
    assert (
        event.customer_id == email_alias("ana.silva@example.com") == alias("ana.silva@example.com")
    )
    assert "ana" not in event.customer_id  # the id carries no address
    assert event.properties["contact"] == {"email": "Ana.Silva@Example.com"}
    assert event.aliases == []


def test_a_checkout_without_customer_or_email_is_skipped() -> None:
    partner = sample("checkouts_create")
    del partner["detail"]["payload"]["customer"]
    partner["detail"]["payload"]["email"] = None
    result = adapt_with_reason(partner)
    assert result.events == []
    assert result.skipped == "checkout without customer or email: nobody to remind"


def test_an_order_without_customer_or_email_is_skipped_with_a_reason() -> None:
    partner = sample("orders_create")
    payload = partner["detail"]["payload"]
    payload["customer"] = payload["email"] = payload["contact_email"] = None
    result = adapt_with_reason(partner)
    assert result.events == []
    assert result.skipped == (
        "order without customer or email (POS sale): nothing to attribute it to"
    )


@pytest.mark.parametrize("email", [None, "", "not an email", "a b@example.com", 7])
def test_only_an_address_makes_an_email_alias(email: Any) -> None:
    assert email_alias(email) is None


# ------------------------------------------------------------------ test orders


def test_a_refund_in_test_mode_is_skipped_not_dead_lettered() -> None:
    partner = sample("refunds_create")
    for tx in partner["detail"]["payload"]["transactions"]:
        tx["test"] = True
    result = adapt_with_reason(partner)
    assert result.events == [] and result.skipped is not None
    assert result.skipped.startswith("refund in test mode")


# ------------------------------------------------------------------ the sample shop's envelopes


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
def test_each_sample_becomes_a_native_event_that_ingest_accepts(
    name: str, detail_type: str
) -> None:
    # Given a Shopify webhook as delivered by the partner event source
    partner = sample(name)
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


@pytest.mark.parametrize("topic", sorted(PUBLISHED))
def test_each_sample_has_the_shape_shopify_publishes(topic: str) -> None:
    body = sample(topic.replace("/", "_"))["detail"]["payload"]
    doc = json.loads((FIXTURES / f"{PUBLISHED[topic]}.json").read_text())["response"]
    assert set(body) == set(doc)  # every published key, and only those

    def keys(a: Any, b: Any, where: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            assert set(a) == set(b), where
            for k in a:
                keys(a[k], b[k], f"{where}.{k}")
        elif isinstance(a, list) and isinstance(b, list) and a and b:
            keys(a[0], b[0], f"{where}[0]")

    keys(body, doc, "payload")


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
    partner = sample("orders_create")
    native = only(adapt(json.dumps(partner)))  # JSON text in, as from an SQS body
    assert native["detail"]["properties"]["order_id"] == ORDER_ID
    assert float(ORDER_ID) != int(ORDER_ID)  # the trap the adapter avoids


def test_line_item_category_comes_from_product_type_when_present() -> None:
    partner = sample("orders_create")
    partner["detail"]["payload"]["line_items"][0]["product_type"] = "jewelry"
    items = only(adapt(partner))["detail"]["properties"]["items"]
    assert items[0]["category"] == "jewelry"
    assert "category" not in items[1]


def test_money_beyond_float_precision_is_kept_as_a_decimal() -> None:
    partner = sample("orders_create")
    partner["detail"]["payload"]["total_price"] = "0.10000000000000001"
    value = only(adapt(partner))["detail"]["properties"]["value"]
    assert value == Decimal("0.10000000000000001")


def test_unreadable_money_is_malformed_and_names_the_field() -> None:
    partner = sample("orders_create")
    partner["detail"]["payload"]["total_price"] = "three hundred"
    with pytest.raises(MalformedEvent, match="total_price"):
        adapt(partner)


def test_refund_value_is_the_money_refunded_exact_to_the_cent() -> None:
    # Given a refund paid back in two transactions of 0.10 and 0.20, and one that failed
    partner = sample("refunds_create")
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


def test_refund_of_the_sample_order_is_its_transaction_amount() -> None:
    native = only(adapt(sample("refunds_create"), order_owner=known_order))
    assert exact(native["detail"]["properties"]["value"]) == Decimal("45.50")
    assert native["time"] == "2027-02-12T16:40:02Z"


def test_refund_without_customer_and_unknown_order_goes_to_the_dlq_with_a_reason() -> None:
    # Shopify's refund body names the order, not the customer
    partner = sample("refunds_create")
    with pytest.raises(MalformedEvent, match=f"refund without customer.*{ORDER_ID}"):
        adapt(partner)
    with pytest.raises(MalformedEvent, match="refund without customer"):
        adapt(partner, order_owner=lambda order_id: None)


def test_refund_uses_a_customer_in_the_payload_when_there_is_one() -> None:
    partner = sample("refunds_create")
    partner["detail"]["payload"]["customer"] = {"id": 7, "email": "x@example.com"}
    assert only(adapt(partner))["detail"]["customer_id"] == "7"


def test_abandoned_checkout_is_a_cart_with_a_way_back() -> None:
    event = parse_event(only(adapt(sample("checkouts_update"))))
    assert event.properties["cart_id"] == "c1e6a7b3d2f84a7e9b0c4d5e6f7a8b9c"
    assert exact(event.properties["value"]) == Decimal("294.50")
    assert event.properties["checkout_url"].startswith("https://rose-and-co.myshopify.com/")
    assert [i["name"] for i in event.properties["items"]] == [
        "Gold Heart Pendant",
        "Red Roses Bouquet",
    ]


def test_customer_update_carries_who_the_customer_is() -> None:
    partner = sample("customers_update")
    partner["detail"]["payload"]["tags"] = "valentines-2027, vip"  # up to API 2024-10
    event = parse_event(only(adapt(partner)))
    assert event.traits == {
        "email": "ana.silva@example.com",
        "phone": "+16135551111",
        "first_name": "Ana",
        "last_name": "Silva",
        "tags": ["valentines-2027", "vip"],
    }
    assert event.aliases == [alias("ana.silva@example.com")]


@pytest.mark.parametrize("header", ["X-Shopify-Topic", "x-shopify-topic", "shopify-topic", "topic"])
def test_topic_header_is_found_whatever_its_spelling(header: str) -> None:
    partner = sample("orders_create")
    meta = partner["detail"]["metadata"]
    meta[header] = meta.pop("X-Shopify-Topic")
    assert only(adapt(partner))["detail-type"] == "order_placed"


def test_partner_event_without_topic_is_malformed() -> None:
    partner = sample("orders_create")
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
