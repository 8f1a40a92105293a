"""Shopify webhooks delivered through Shopify's EventBridge partner source, as native events.

The partner envelope has ``detail-type`` ``shopifyWebhook``; ``detail.metadata`` holds the webhook
headers (``X-Shopify-Topic``, ``X-Shopify-Webhook-Id``, ...; newer deliveries use lowercase names,
some without ``X-``) and ``detail.payload`` the REST webhook body. Money fields are strings
(``"310.00"``) read with ``Decimal``; ids are 64-bit integers and become strings exactly.

Topics mapped, by the names Shopify sends in ``X-Shopify-Topic`` (docs/sources.md has the
field-by-field table; tests/fixtures/shopify/ holds Shopify's published example of each):

- ``orders/create`` -> ``order_placed`` (test orders skipped)
- ``refunds/create`` -> ``order_refunded`` (the refund body carries no customer: see ``OrderOwner``)
- ``checkouts/create`` / ``checkouts/update`` -> ``cart_updated`` (completed checkouts skipped)
- ``customers/create`` / ``customers/update`` -> ``customer_updated``
- ``customers_email_marketing_consent/update`` -> ``consent_updated`` (email)
- ``customers_marketing_consent/update`` -> ``consent_updated`` (sms)

Who: the Shopify customer id when the body has one; a checkout or order with only the buyer's
email belongs to ``email:<hash of the email>`` (``email_alias``), which ingest merges into the
customer once an event carries both (``detail.aliases``). What ingest resolves against the
profile travels in two properties (``pipeline.identity.apply_hints``): ``contact`` (an email or
phone to use only where the profile has none) and ``consent_states`` (Shopify consent states
reported with a customer record, ``CONSENT_STATES``, applied when they change).

The customer and consent topics, and who a body is about, are in
:mod:`nudge.adapters.shopify_customers`; their public names are importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from nudge.adapters._native import (
    Envelope,
    Skipped,
    drop_none,
    first_time,
    ident,
    json_number,
    money,
    native,
    quantity,
    to_decimal,
)
from nudge.adapters.shopify_customers import (
    CONSENT_STATES,
    EMAIL_PREFIX,
    NEVER_SUBSCRIBED,
    Buyer,
    consent_topic,
    customer_updated,
    email_alias,
    shopify_customer_id,
)
from nudge.core.events import CATALOG_CUSTOMER, MalformedEvent, json_object

__all__ = [  # the customer and consent names live in nudge.adapters.shopify_customers
    "CONSENT_STATES",
    "DETAIL_TYPE",
    "EMAIL_PREFIX",
    "NEVER_SUBSCRIBED",
    "SOURCE_PREFIX",
    "TOPICS",
    "TOPIC_ALIASES",
    "OrderOwner",
    "Unmapped",
    "canonical_topic",
    "email_alias",
    "is_shopify",
    "refund_amount",
    "to_native",
    "topic_of",
]

DETAIL_TYPE = "shopifyWebhook"
SOURCE_PREFIX = "aws.partner/shopify.com"
OrderOwner = Callable[[str], str | None]
"""Looks up the customer id of an order id nudge has seen (``None`` if unknown)."""


class Unmapped(Skipped):
    """A Shopify topic nudge has no mapping for (counted per topic, see ``nudge sources``)."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"shopify topic {topic!r} is not mapped")
        self.topic = topic


def is_shopify(envelope: Envelope) -> bool:
    """True for an envelope from Shopify's EventBridge partner source."""
    source = envelope.get("source")
    return envelope.get("detail-type") == DETAIL_TYPE or (
        isinstance(source, str) and source.startswith(SOURCE_PREFIX)
    )


def _headers(detail: dict[str, Any]) -> dict[str, Any]:
    """Webhook headers by lowercase name without ``x-`` (``shopify-topic``), wherever they sit."""
    found: dict[str, Any] = {}
    # Documented place is detail.metadata; some deliveries put the headers beside the payload.
    for block in (detail, detail.get("metadata")):
        if not isinstance(block, dict):
            continue
        for key, value in block.items():
            name = str(key).lower()
            name = name.removeprefix("x-")
            if name == "topic":
                name = "shopify-topic"
            found[name] = value
    return found


def _items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    lines = payload.get("line_items") or []
    if not isinstance(lines, list):
        raise MalformedEvent("payload.line_items is not a list")
    items = []
    for n, line in enumerate(lines):
        if not isinstance(line, dict):
            raise MalformedEvent(f"payload.line_items[{n}] is not an object")
        price = line.get("price")
        items.append(
            drop_none(
                {
                    "product_id": ident(line.get("product_id")),
                    "name": line.get("title") or line.get("name"),
                    "category": line.get("product_type") or None,
                    "price": None
                    if price is None
                    else money(price, f"payload.line_items[{n}].price"),
                    "quantity": quantity(line.get("quantity"), f"payload.line_items[{n}].quantity"),
                    "sku": line.get("sku") or None,
                    "variant_id": ident(line.get("variant_id")),
                }
            )
        )
    return items


def _total(payload: dict[str, Any], what: str) -> Any:
    if payload.get("total_price") is None:
        raise MalformedEvent(f"{what} without total_price")
    return money(payload["total_price"], "payload.total_price")


def _order_placed(env: Envelope, payload: dict[str, Any], ctx: _Ctx) -> list[Envelope]:
    if payload.get("test") is True:
        raise Skipped('test order ("test": true): not a sale, so no revenue and no messages')
    buyer = Buyer(payload)
    if buyer.customer_id is None:
        raise Skipped("order without customer or email (POS sale): nothing to attribute it to")
    order_id = ident(payload.get("id"))
    if order_id is None:
        raise MalformedEvent("orders/create payload without id")
    properties = drop_none(
        {
            "order_id": order_id,
            "value": _total(payload, "order"),
            "currency": payload.get("currency"),
            "items": _items(payload),
            "contact": buyer.contact or None,
        }
    )
    when = first_time(payload.get("processed_at"), payload.get("created_at"), ctx.triggered_at)
    return [
        ctx.native(
            env,
            "order_placed",
            buyer.customer_id,
            when,
            properties=properties,
            aliases=buyer.aliases,
        )
    ]


def refund_amount(payload: dict[str, Any]) -> Decimal:
    """Money actually returned by a refund: its ``refund`` transactions that did not fail.

    Shopify's refund body lists the money moved in ``transactions`` (``kind`` ``refund``, amount a
    string, tax and shipping included); ``refund_line_items[].subtotal`` is the items' price before
    tax and would disagree with ``orders/create``'s ``total_price``. A refund with no money moved
    (restock only) is 0.
    """
    total = Decimal(0)
    for n, tx in enumerate(_transactions(payload)):
        if tx.get("kind") != "refund" or tx.get("status") in ("failure", "error"):
            continue
        total += to_decimal(tx.get("amount"), f"payload.transactions[{n}].amount")
    return total


def _transactions(payload: dict[str, Any]) -> list[dict[str, Any]]:
    transactions = payload.get("transactions") or []
    if not isinstance(transactions, list):
        raise MalformedEvent("payload.transactions is not a list")
    for n, tx in enumerate(transactions):
        if not isinstance(tx, dict):
            raise MalformedEvent(f"payload.transactions[{n}] is not an object")
    return transactions


def _order_refunded(env: Envelope, payload: dict[str, Any], ctx: _Ctx) -> list[Envelope]:
    order_id = ident(payload.get("order_id"))
    if order_id is None:
        raise MalformedEvent("refunds/create payload without order_id")
    transactions = _transactions(payload)
    if transactions and all(tx.get("test") is True for tx in transactions):
        raise Skipped("refund in test mode (every transaction is a test): test orders are skipped")
    customer_id = shopify_customer_id(payload)
    if customer_id is None and ctx.order_owner is not None:
        customer_id = ctx.order_owner(order_id)
    if customer_id is None:
        # Never silently lost: the DLQ keeps it and it can be redriven once the order is known.
        raise MalformedEvent(
            f"refund without customer: order {order_id} is not known to nudge "
            "(Shopify's refund body has no customer; it is found through the order)"
        )
    properties: dict[str, Any] = {
        "order_id": order_id,
        "value": json_number(refund_amount(payload)),
    }
    refund_id = ident(payload.get("id"))
    if refund_id:
        properties["refund_id"] = refund_id
    when = first_time(payload.get("processed_at"), payload.get("created_at"), ctx.triggered_at)
    return [ctx.native(env, "order_refunded", customer_id, when, properties=properties)]


def _cart_updated(env: Envelope, payload: dict[str, Any], ctx: _Ctx) -> list[Envelope]:
    if payload.get("completed_at"):
        raise Skipped("completed checkout: it became an order, not an abandoned cart")
    buyer = Buyer(payload)
    if buyer.customer_id is None:
        raise Skipped("checkout without customer or email: nobody to remind")
    cart_id = ident(payload.get("token")) or ident(payload.get("cart_token"))
    properties = drop_none(
        {
            "cart_id": cart_id,
            "value": _total(payload, "checkout"),
            "currency": payload.get("currency") or payload.get("presentment_currency"),
            "items": _items(payload),
            "checkout_url": payload.get("abandoned_checkout_url"),
            "contact": buyer.contact or None,
        }
    )
    when = first_time(payload.get("updated_at"), payload.get("created_at"), ctx.triggered_at)
    return [
        ctx.native(
            env,
            "cart_updated",
            buyer.customer_id,
            when,
            properties=properties,
            aliases=buyer.aliases,
        )
    ]


def _product_updated(env: Envelope, payload: dict[str, Any], ctx: _Ctx) -> list[Envelope]:
    """``products/update``: the product's lowest variant price, its total inventory (the
    variants' ``inventory_quantity``), whether it is on sale at all (``status``; a variant that
    keeps selling when out of stock, ``inventory_policy: continue``, makes it always in stock),
    and its variants' inventory items (so ``inventory_levels/update`` finds the product)."""
    product_id = ident(payload.get("id"))
    if product_id is None:
        raise MalformedEvent("products/update without id")
    variants = payload.get("variants") or []
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        raise MalformedEvent("payload.variants is not a list of objects")
    prices = [
        money(v["price"], f"payload.variants[{n}].price")
        for n, v in enumerate(variants)
        if v.get("price") not in (None, "")
    ]
    counts = [
        quantity(v["inventory_quantity"], f"payload.variants[{n}].inventory_quantity")
        for n, v in enumerate(variants)
        if v.get("inventory_quantity") is not None
    ]
    keeps_selling = any(v.get("inventory_policy") == "continue" for v in variants)
    status = payload.get("status")
    available = None
    if status is not None and status != "active":
        available = False
    elif keeps_selling:
        available = True
    items = [ident(v.get("inventory_item_id")) for v in variants]
    properties = drop_none(
        {
            "product_id": product_id,
            "name": payload.get("title") or None,
            "category": payload.get("product_type") or None,
            "price": min(prices) if prices else None,
            "inventory": None if keeps_selling or not counts else sum(counts),
            "available": available,
            "inventory_item_ids": [i for i in items if i] or None,
        }
    )
    when = first_time(payload.get("updated_at"), ctx.triggered_at)
    return [ctx.native(env, "product_updated", CATALOG_CUSTOMER, when, properties=properties)]


def _inventory_level(env: Envelope, payload: dict[str, Any], ctx: _Ctx) -> list[Envelope]:
    """``inventory_levels/update``: one inventory item's available count at one location; the
    catalog flow finds its product from an earlier ``products/update``."""
    item = ident(payload.get("inventory_item_id"))
    if item is None:
        raise MalformedEvent("inventory_levels/update without inventory_item_id")
    if payload.get("available") is None:
        raise Skipped("inventory not tracked for this item (available is null)")
    properties = drop_none(
        {
            "inventory_item_id": item,
            "location_id": ident(payload.get("location_id")),
            "inventory": quantity(payload["available"], "payload.available"),
        }
    )
    when = first_time(payload.get("updated_at"), ctx.triggered_at)
    return [ctx.native(env, "product_updated", CATALOG_CUSTOMER, when, properties=properties)]


class _Ctx:
    """What a topic mapper needs besides the payload."""

    def __init__(self, headers: dict[str, Any], order_owner: OrderOwner | None) -> None:
        self.event_id = ident(headers.get("shopify-webhook-id")) or ident(
            headers.get("shopify-event-id")
        )
        self.triggered_at = headers.get("shopify-triggered-at")
        self.order_owner = order_owner

    def native(
        self,
        env: Envelope,
        detail_type: str,
        customer_id: str,
        when: str | None,
        **fields: Any,
    ) -> Envelope:
        return native(
            env, detail_type, customer_id=customer_id, event_id=self.event_id, time=when, **fields
        )


_Mapper = Callable[[Envelope, dict[str, Any], _Ctx], list[Envelope]]

TOPICS: dict[str, _Mapper] = {
    "orders/create": _order_placed,
    "refunds/create": _order_refunded,
    "checkouts/create": _cart_updated,
    "checkouts/update": _cart_updated,
    "customers/create": customer_updated,
    "customers/update": customer_updated,
    "products/update": _product_updated,
    "inventory_levels/update": _inventory_level,
    "customers_email_marketing_consent/update": consent_topic(
        "email", "email_marketing_consent", ("customer_id", "id"), "email_address"
    ),
    "customers_marketing_consent/update": consent_topic(
        "sms", "sms_marketing_consent", ("id", "customer_id"), "phone"
    ),
}

# Other spellings of the same topics: the GraphQL WebhookSubscriptionTopic values
# (CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE), and the spellings earlier nudge versions expected
# (customers/email_marketing_consent_update), kept so events made for them still map.
TOPIC_ALIASES: dict[str, str] = {
    **{topic.replace("/", "_"): topic for topic in TOPICS},
    "customers/email_marketing_consent_update": "customers_email_marketing_consent/update",
    "customers/marketing_consent_update": "customers_marketing_consent/update",
}


def canonical_topic(topic: str) -> str:
    """The topic as Shopify names it in ``X-Shopify-Topic`` (lowercase), aliases resolved."""
    name = topic.strip().lower()
    return TOPIC_ALIASES.get(name, name)


def topic_of(envelope: Envelope) -> str | None:
    """The canonical topic of a Shopify partner envelope, or None if it names none."""
    detail = envelope.get("detail")
    if isinstance(detail, str):
        try:
            detail = json_object(detail, "shopify detail")
        except MalformedEvent:
            return None
    if not isinstance(detail, dict):
        return None
    topic = _headers(detail).get("shopify-topic")
    return canonical_topic(topic) if isinstance(topic, str) and topic.strip() else None


def to_native(envelope: Envelope, *, order_owner: OrderOwner | None = None) -> list[Envelope]:
    """Map one Shopify partner envelope to native envelopes.

    Raises ``Skipped`` for a case nudge deliberately does not map (``Unmapped`` for a topic it
    has no mapping for) and ``MalformedEvent`` for a body that cannot be read. ``order_owner``
    resolves a refund's customer from its order id.
    """
    detail = json_object(envelope.get("detail"), "shopify detail")
    headers = _headers(detail)
    topic = headers.get("shopify-topic")
    if not isinstance(topic, str) or not topic.strip():
        raise MalformedEvent("shopify event without X-Shopify-Topic in detail.metadata")
    name = canonical_topic(topic)
    mapper = TOPICS.get(name)
    if mapper is None:
        raise Unmapped(name)
    payload = json_object(detail.get("payload"), f"shopify {name} payload")
    return mapper(envelope, payload, _Ctx(headers, order_owner))
