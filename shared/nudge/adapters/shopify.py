"""Shopify webhooks delivered through Shopify's EventBridge partner source, as native events.

The partner envelope has ``detail-type`` ``shopifyWebhook``; ``detail.metadata`` holds the webhook
headers (``X-Shopify-Topic``, ``X-Shopify-Webhook-Id``, ...; newer deliveries use lowercase names,
some without ``X-``) and ``detail.payload`` the REST webhook body. Money fields are strings
(``"310.00"``) read with ``Decimal``; ids are 64-bit integers and become strings exactly.

Topics mapped (docs/sources.md has the field-by-field table):

- ``orders/create`` -> ``order_placed``
- ``refunds/create`` -> ``order_refunded`` (the refund body carries no customer: see ``OrderOwner``)
- ``checkouts/create`` / ``checkouts/update`` -> ``cart_updated`` (completed checkouts skipped)
- ``customers/create`` / ``customers/update`` -> ``customer_updated``
- ``customers/email_marketing_consent_update`` -> ``consent_updated`` (email)
- ``customers/marketing_consent_update`` -> ``consent_updated`` (sms)
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
from nudge.model.events import MalformedEvent, json_object

DETAIL_TYPE = "shopifyWebhook"
SOURCE_PREFIX = "aws.partner/shopify.com"

OrderOwner = Callable[[str], str | None]
"""Looks up the customer id of an order id nudge has seen (``None`` if unknown)."""


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


def _customer_id(payload: dict[str, Any], *keys: str) -> str | None:
    """The Shopify customer id: ``payload.customer.id`` or a top-level key, or from its GID."""
    customer = payload.get("customer")
    if isinstance(customer, dict) and ident(customer.get("id")):
        return ident(customer.get("id"))
    for key in keys:
        found = ident(payload.get(key))
        if found:
            return found
    gid = payload.get("admin_graphql_api_id")
    if isinstance(gid, str) and gid.startswith("gid://shopify/Customer/"):
        return gid.rsplit("/", 1)[1] or None
    return None


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
    customer_id = _customer_id(payload)
    if customer_id is None:
        raise Skipped("order without customer (guest or POS sale): nothing to attribute it to")
    order_id = ident(payload.get("id"))
    if order_id is None:
        raise MalformedEvent("orders/create payload without id")
    properties = drop_none(
        {
            "order_id": order_id,
            "value": _total(payload, "order"),
            "currency": payload.get("currency"),
            "items": _items(payload),
        }
    )
    when = first_time(payload.get("processed_at"), payload.get("created_at"), ctx.triggered_at)
    return [ctx.native(env, "order_placed", customer_id, when, properties=properties)]


def refund_amount(payload: dict[str, Any]) -> Decimal:
    """Money actually returned by a refund: its ``refund`` transactions that did not fail.

    Shopify's refund body lists the money moved in ``transactions`` (``kind`` ``refund``, amount a
    string, tax and shipping included); ``refund_line_items[].subtotal`` is the items' price before
    tax and would disagree with ``orders/create``'s ``total_price``. A refund with no money moved
    (restock only) is 0.
    """
    total = Decimal(0)
    transactions = payload.get("transactions") or []
    if not isinstance(transactions, list):
        raise MalformedEvent("payload.transactions is not a list")
    for n, tx in enumerate(transactions):
        if not isinstance(tx, dict):
            raise MalformedEvent(f"payload.transactions[{n}] is not an object")
        if tx.get("kind") != "refund" or tx.get("status") in ("failure", "error"):
            continue
        total += to_decimal(tx.get("amount"), f"payload.transactions[{n}].amount")
    return total


def _order_refunded(env: Envelope, payload: dict[str, Any], ctx: _Ctx) -> list[Envelope]:
    order_id = ident(payload.get("order_id"))
    if order_id is None:
        raise MalformedEvent("refunds/create payload without order_id")
    customer_id = _customer_id(payload)
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
    customer_id = _customer_id(payload)
    if customer_id is None:
        raise Skipped("checkout without customer: nobody to remind")
    cart_id = ident(payload.get("token")) or ident(payload.get("cart_token"))
    properties = drop_none(
        {
            "cart_id": cart_id,
            "value": _total(payload, "checkout"),
            "currency": payload.get("currency") or payload.get("presentment_currency"),
            "items": _items(payload),
            "checkout_url": payload.get("abandoned_checkout_url"),
        }
    )
    when = first_time(payload.get("updated_at"), payload.get("created_at"), ctx.triggered_at)
    return [ctx.native(env, "cart_updated", customer_id, when, properties=properties)]


_TRAIT_KEYS = ("email", "phone", "first_name", "last_name", "locale", "timezone")


def _customer_updated(env: Envelope, payload: dict[str, Any], ctx: _Ctx) -> list[Envelope]:
    customer_id = ident(payload.get("id")) or _customer_id(payload)
    if customer_id is None:
        raise MalformedEvent("customer payload without id")
    traits = {k: payload[k] for k in _TRAIT_KEYS if payload.get(k) not in (None, "")}
    tags = payload.get("tags")
    if isinstance(tags, str) and tags.strip():
        traits["tags"] = [t.strip() for t in tags.split(",") if t.strip()]
    # Consent is deliberately not read here: since API 2025-01 it has its own topics.
    when = first_time(payload.get("updated_at"), payload.get("created_at"), ctx.triggered_at)
    return [ctx.native(env, "customer_updated", customer_id, when, traits=traits)]


def _consent(channel: str, block: str, id_keys: tuple[str, ...]) -> _Mapper:
    def mapper(env: Envelope, payload: dict[str, Any], ctx: _Ctx) -> list[Envelope]:
        customer_id = _customer_id(payload, *id_keys)
        if customer_id is None:
            raise MalformedEvent(f"{channel} consent update without customer id")
        consent = payload.get(block)
        if not isinstance(consent, dict):
            raise MalformedEvent(f"payload.{block} is missing")
        state = consent.get("state")
        properties = drop_none(
            {
                "channel": channel,
                # Only "subscribed" is consent; "pending" (double opt-in unconfirmed) is not yet.
                "granted": isinstance(state, str) and state.lower() == "subscribed",
                "source": "shopify",
                "state": state,
                "opt_in_level": consent.get("opt_in_level"),
            }
        )
        when = first_time(consent.get("consent_updated_at"), ctx.triggered_at)
        return [ctx.native(env, "consent_updated", customer_id, when, properties=properties)]

    return mapper


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
    "customers/create": _customer_updated,
    "customers/update": _customer_updated,
    "customers/email_marketing_consent_update": _consent(
        "email", "email_marketing_consent", ("customer_id", "id")
    ),
    "customers/marketing_consent_update": _consent(
        "sms", "sms_marketing_consent", ("id", "customer_id")
    ),
}


def to_native(envelope: Envelope, *, order_owner: OrderOwner | None = None) -> list[Envelope]:
    """Map one Shopify partner envelope to native envelopes.

    Raises ``Skipped`` for a topic or case nudge does not map and ``MalformedEvent`` for a body
    that cannot be read. ``order_owner`` resolves a refund's customer from its order id.
    """
    detail = json_object(envelope.get("detail"), "shopify detail")
    headers = _headers(detail)
    topic = headers.get("shopify-topic")
    if not isinstance(topic, str) or not topic:
        raise MalformedEvent("shopify event without X-Shopify-Topic in detail.metadata")
    mapper = TOPICS.get(topic.strip().lower())
    if mapper is None:
        raise Skipped(f"shopify topic {topic!r} is not mapped")
    payload = json_object(detail.get("payload"), f"shopify {topic} payload")
    return mapper(envelope, payload, _Ctx(headers, order_owner))
