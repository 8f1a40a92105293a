"""Shopify and Segment events for tests, built from the documented payloads in events/.

Each builder starts from the sample file of its topic or message type (``events/shopify_*.json``,
``events/segment_*.json``: Shopify's and Segment's documented shapes, see
tests/fixtures/shopify/README.md) and changes only the fields a test is about, so fixtures keep
the full partner shape. Emails and phones are only what the caller gives: a builder never leaves
the sample customer's address on another customer's order.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from nudge.core.clock import parse_time
from tests.conftest import sample

SHOP_OFFSET = timedelta(hours=-5)  # the shop's timezone: Shopify writes local times with offsets
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "shopify"
_NS = uuid.UUID("6f1d0c5e-2b1a-4c7e-9a55-0d6c1e2f3a4b")


def published(path: str) -> dict[str, Any]:
    """Shopify's published example body of a topic (``"2026-04/orders/create"``), as a dict."""
    doc: dict[str, Any] = json.loads((FIXTURES / f"{path}.json").read_text())["response"]
    return doc


def webhook_id(*parts: Any) -> str:
    """A deterministic X-Shopify-Webhook-Id (the same delivery retried keeps its id)."""
    return str(uuid.uuid5(_NS, "/".join(map(str, parts))))


def shop_time(at: str) -> str:
    """``2027-02-10T14:03:00Z`` as the shop writes it: ``2027-02-10T09:03:00-05:00``."""
    local = parse_time(at) + SHOP_OFFSET
    return local.strftime("%Y-%m-%dT%H:%M:%S") + "-05:00"


def shopify(
    topic: str,
    payload: dict[str, Any],
    at: str,
    *,
    key: Any = None,
    sample_name: str | None = None,
    api_version: str | None = None,
) -> dict[str, Any]:
    """A Shopify partner envelope for ``topic`` with ``payload``, delivered at ``at``.

    The envelope and headers are those of ``events/<sample_name>.json`` (default: the sample of
    ``topic``), with the topic header set to ``topic`` as given.
    """
    name = sample_name or "shopify_" + topic.replace("/", "_")
    env = copy.deepcopy(sample(name))
    env["time"] = at
    env["id"] = str(uuid.uuid5(_NS, f"envelope/{topic}/{key or at}"))
    env["detail"]["payload"] = payload
    meta = env["detail"]["metadata"]
    for header in list(meta):
        low = header.lower()
        if low.endswith("webhook-id"):
            meta[header] = webhook_id(topic, key or at)
        elif low.endswith("event-id"):
            meta[header] = webhook_id("event", topic, key or at)
        elif low.endswith("triggered-at"):
            meta[header] = at.replace("Z", ".000Z")
        elif low.endswith("topic"):
            meta[header] = topic
        elif low.endswith("api-version") and api_version:
            meta[header] = api_version
    return env


def line_item(
    product_id: int, title: str, price: str, *, quantity: int = 1, product_type: str | None = None
) -> dict[str, Any]:
    """What a test says about one line; ``checkout``/``order`` give it Shopify's line shape.

    ``product_type`` is not in Shopify's REST line items (docs/sources.md, "Product
    categories"); a test that needs a category puts it there, as the sample Shopify day does.
    """
    return {
        "product_id": product_id,
        "title": title,
        "price": price,
        "quantity": quantity,
        "product_type": product_type,
    }


def _line(template: dict[str, Any], spec: dict[str, Any], n: int) -> dict[str, Any]:
    line = copy.deepcopy(template)
    pid = spec["product_id"]
    values = {
        "product_id": pid,
        "variant_id": pid * 10 + 1,
        "title": spec["title"],
        "name": spec["title"],
        "presentment_title": spec["title"],
        "price": spec["price"],
        "line_price": spec["price"],
        "variant_price": spec["price"],
        "quantity": spec["quantity"],
        "sku": f"SKU-{pid}",
        "variant_title": None,
        "presentment_variant_title": None,
        "key": str(pid * 10 + 1),
        "id": pid * 7 + n,
        "admin_graphql_api_id": f"gid://shopify/LineItem/{pid * 7 + n}",
    }
    line.update({k: v for k, v in values.items() if k in line})
    if isinstance(line.get("price_set"), dict):
        for side in line["price_set"].values():
            side["amount"] = spec["price"]
    if spec.get("product_type"):
        line["product_type"] = spec["product_type"]
    return line


def _lines(sample_payload: dict[str, Any], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    template = sample_payload["line_items"][0]
    return [_line(template, spec, n) for n, spec in enumerate(items, 1)]


def _embedded_customer(
    block: dict[str, Any], customer_id: int, email: str | None, phone: str | None
) -> dict[str, Any]:
    """The ``customer`` object of an order or checkout, for another customer."""
    out = copy.deepcopy(block)
    out.update(
        {
            "id": customer_id,
            "email": email,
            "phone": phone,
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        }
    )
    if isinstance(out.get("default_address"), dict):
        out["default_address"]["customer_id"] = customer_id
    return out


def _consent_block(state: str, at: str, channel: str) -> dict[str, Any]:
    block = {"state": state, "opt_in_level": "single_opt_in", "consent_updated_at": shop_time(at)}
    if channel == "sms":
        block["consent_collected_from"] = "other"
    return block


def customer_create(
    customer_id: int,
    at: str,
    *,
    email: str | None,
    phone: str | None,
    first_name: str,
    topic: str = "customers/create",
    consent: dict[str, str] | None = None,
    consent_at: str | None = None,
) -> dict[str, Any]:
    """``customers/create`` (or ``customers/update``): who the customer is.

    Without ``consent`` it has the current (2026-04) body, which carries no consent. With
    ``consent`` (``{"email": "subscribed"}``) it is the 2024-10 body Shopify documents, whose
    ``email_marketing_consent`` / ``sms_marketing_consent`` say the customer's state, last
    changed at ``consent_at`` (default ``at``).
    """
    if consent is None:
        payload = copy.deepcopy(sample("shopify_customers_create")["detail"]["payload"])
        version = None
    else:
        payload = copy.deepcopy(published("2024-10/customers/create"))
        payload.update(
            {
                "orders_count": 0,
                "total_spent": "0.00",
                "last_order_id": None,
                "last_order_name": None,
                "note": None,
            }
        )
        payload["email_marketing_consent"] = payload["sms_marketing_consent"] = None
        for channel, state in consent.items():
            name = f"{channel}_marketing_consent"
            payload[name] = _consent_block(state, consent_at or at, channel)
        version = "2024-10"
    payload.update(
        {
            "id": customer_id,
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
            "email": email,
            "phone": phone,
            "first_name": first_name,
            "last_name": None,
            "created_at": shop_time(at),
            "updated_at": shop_time(at),
            "verified_email": bool(email),
        }
    )
    if isinstance(payload.get("default_address"), dict):
        payload["default_address"]["customer_id"] = customer_id
    return shopify(
        topic,
        payload,
        at,
        key=f"{topic}/{customer_id}/{at}",
        sample_name="shopify_customers_create",
        api_version=version,
    )


def consent_update(
    customer_id: int, channel: str, state: str, at: str, *, address: str | None = None
) -> dict[str, Any]:
    """``customers_email_marketing_consent/update`` or ``customers_marketing_consent/update``.

    ``address`` is the body's ``email_address`` (email) or ``phone`` (sms); None by default.
    """
    if channel == "email":
        topic, block, base, field = (
            "customers_email_marketing_consent/update",
            "email_marketing_consent",
            "customer_id",
            "email_address",
        )
    else:
        topic, block, base, field = (
            "customers_marketing_consent/update",
            "sms_marketing_consent",
            "id",
            "phone",
        )
    payload = copy.deepcopy(sample("shopify_" + topic.replace("/", "_"))["detail"]["payload"])
    payload[base] = customer_id
    payload[field] = address
    payload[block] = _consent_block(state, at, channel)
    return shopify(topic, payload, at, key=f"{topic}/{customer_id}/{at}")


def checkout(
    customer_id: int | None,
    token: str,
    total: str,
    items: list[dict[str, Any]],
    at: str,
    *,
    topic: str = "checkouts/create",
    completed: bool = False,
    email: str | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    """``checkouts/create|update``: the cart at checkout, with its recovery link.

    ``customer_id`` None is a guest checkout: no ``customer`` object, only the buyer's
    ``email``/``phone`` if given.
    """
    base = sample("shopify_checkouts_create")["detail"]["payload"]
    payload = copy.deepcopy(base)
    payload.update(
        {
            "token": token,
            "cart_token": f"cart-{token}",
            "total_price": total,
            "subtotal_price": total,
            "total_line_items_price": total,
            "line_items": _lines(base, items),
            "created_at": shop_time(at),
            "updated_at": shop_time(at),
            "completed_at": shop_time(at) if completed else None,
            "abandoned_checkout_url": recovery_url(token),
            "email": email,
            "phone": phone,
        }
    )
    if customer_id is None:
        payload.pop("customer", None)
    else:
        payload["customer"] = _embedded_customer(base["customer"], customer_id, email, phone)
    return shopify(topic, payload, at, key=f"{topic}/{token}/{at}")


def recovery_url(token: str) -> str:
    """The abandoned checkout URL Shopify gives a checkout token."""
    return f"https://rose-and-co.myshopify.com/7183745/checkouts/ac/{token}/recover?key=k-{token}"


def order(
    customer_id: int | None,
    order_id: int,
    total: str,
    items: list[dict[str, Any]],
    at: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    test: bool = False,
) -> dict[str, Any]:
    """``orders/create``; ``test=True`` is an order placed in test mode (``"test": true``)."""
    base = sample("shopify_orders_create")["detail"]["payload"]
    payload = copy.deepcopy(base)
    payload.update(
        {
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "total_price": total,
            "current_total_price": total,
            "subtotal_price": total,
            "line_items": _lines(base, items),
            "created_at": shop_time(at),
            "processed_at": shop_time(at),
            "updated_at": shop_time(at),
            "email": email,
            "contact_email": email,
            "phone": phone,
            "test": test,
        }
    )
    if customer_id is None:
        payload["customer"] = None
    else:
        payload["customer"] = _embedded_customer(base["customer"], customer_id, email, phone)
    return shopify("orders/create", payload, at, key=f"order/{order_id}")


def refund(order_id: int, refund_id: int, amount: str, at: str) -> dict[str, Any]:
    """``refunds/create``: names the order, not the customer; money in ``transactions``."""
    base = sample("shopify_refunds_create")["detail"]["payload"]
    payload = copy.deepcopy(base)
    tx = copy.deepcopy(base["transactions"][0])
    tx.update(
        {
            "id": refund_id + 1,
            "order_id": order_id,
            "amount": amount,
            "created_at": shop_time(at),
            "processed_at": shop_time(at),
        }
    )
    payload.update(
        {
            "id": refund_id,
            "order_id": order_id,
            "created_at": shop_time(at),
            "processed_at": shop_time(at),
            "refund_line_items": [],
            "order_adjustments": [],
            "transactions": [tx],
            "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        }
    )
    return shopify("refunds/create", payload, at, key=f"refund/{refund_id}")


def segment(
    name: str,
    at: str,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    message_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A Segment message from ``events/segment_<name>.json`` for these ids at ``at``.

    ``fields`` replace top-level keys of the message (``properties=``, ``traits=``).
    """
    env = copy.deepcopy(sample(f"segment_{name}"))
    msg = env["detail"]
    stamp = at.replace("Z", ".000Z")
    env["time"] = at
    env["id"] = str(uuid.uuid5(_NS, f"segment/{name}/{message_id or at}"))
    msg.update(
        {
            "timestamp": stamp,
            "originalTimestamp": stamp,
            "receivedAt": stamp,
            "sentAt": stamp,
            "messageId": message_id or f"ajs-{uuid.uuid5(_NS, name + at)}",
        }
    )
    for key, value in (("userId", user_id), ("anonymousId", anonymous_id)):
        if value is None:
            msg.pop(key, None)
        else:
            msg[key] = value
    msg.update(fields)
    env["resources"] = [f"identifiedUser/{user_id}"] if user_id else []
    return env
