"""Shopify and Segment events for tests, built from the documented payloads in events/.

Each builder starts from the sample file of its topic or message type (``events/shopify_*.json``,
``events/segment_*.json``: Shopify's and Segment's documented shapes) and changes only the fields
a test is about, so fixtures keep the full partner shape.
"""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from typing import Any

from nudge.clock import parse_time
from tests.conftest import sample

SHOP_OFFSET = timedelta(hours=-5)  # the shop's timezone: Shopify writes local times with offsets
_NS = uuid.UUID("6f1d0c5e-2b1a-4c7e-9a55-0d6c1e2f3a4b")


def webhook_id(*parts: Any) -> str:
    """A deterministic X-Shopify-Webhook-Id (the same delivery retried keeps its id)."""
    return str(uuid.uuid5(_NS, "/".join(map(str, parts))))


def shop_time(at: str) -> str:
    """``2027-02-10T14:03:00Z`` as the shop writes it: ``2027-02-10T09:03:00-05:00``."""
    local = parse_time(at) + SHOP_OFFSET
    return local.strftime("%Y-%m-%dT%H:%M:%S") + "-05:00"


def shopify(topic: str, payload: dict[str, Any], at: str, *, key: Any = None) -> dict[str, Any]:
    """A Shopify partner envelope for ``topic`` with ``payload``, delivered at ``at``."""
    name = "shopify_" + topic.replace("/", "_")
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
    return env


def line_item(product_id: int, title: str, price: str, *, quantity: int = 1,
              product_type: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A REST line item (checkout and order webhooks)."""
    item: dict[str, Any] = {
        "id": product_id * 7 + 1, "product_id": product_id, "variant_id": product_id * 10 + 1,
        "title": title, "name": title, "price": price, "quantity": quantity,
        "sku": f"SKU-{product_id}", "vendor": "Rose & Co", "requires_shipping": True,
        "taxable": True, "gift_card": False,
    }  # fmt: skip
    if product_type:
        item["product_type"] = product_type
    return item


def _customer_block(customer_id: int) -> dict[str, Any]:
    block = copy.deepcopy(sample("shopify_customers_create")["detail"]["payload"])
    block["id"] = customer_id
    block["admin_graphql_api_id"] = f"gid://shopify/Customer/{customer_id}"
    return block


def customer_create(customer_id: int, at: str, *, email: str | None, phone: str | None,
                    first_name: str, topic: str = "customers/create") -> dict[str, Any]:  # fmt: skip
    """``customers/create``: who the customer is (consent has its own topics since 2025-01)."""
    payload = _customer_block(customer_id)
    payload.update({
        "email": email, "phone": phone, "first_name": first_name, "last_name": None,
        "created_at": shop_time(at), "updated_at": shop_time(at), "verified_email": bool(email),
    })  # fmt: skip
    return shopify(topic, payload, at, key=f"{topic}/{customer_id}/{at}")


def consent_update(customer_id: int, channel: str, state: str, at: str) -> dict[str, Any]:
    """The email or SMS marketing consent topic for one customer."""
    if channel == "email":
        topic, block, base = ("customers/email_marketing_consent_update",
                              "email_marketing_consent", "customer_id")  # fmt: skip
    else:
        topic, block, base = "customers/marketing_consent_update", "sms_marketing_consent", "id"
    payload = copy.deepcopy(sample("shopify_" + topic.replace("/", "_"))["detail"]["payload"])
    payload[base] = customer_id
    payload[block] = {"state": state, "opt_in_level": "single_opt_in",
                      "consent_updated_at": shop_time(at)}  # fmt: skip
    if channel == "sms":
        payload[block]["consent_collected_from"] = "SHOPIFY"
    return shopify(topic, payload, at, key=f"{topic}/{customer_id}/{at}")


def checkout(customer_id: int, token: str, total: str, items: list[dict[str, Any]], at: str,
             *, topic: str = "checkouts/create", completed: bool = False) -> dict[str, Any]:  # fmt: skip
    """``checkouts/create|update``: the cart at checkout, with its recovery link."""
    payload = copy.deepcopy(sample("shopify_checkouts_create")["detail"]["payload"])
    payload.update({
        "token": token, "cart_token": f"cart-{token}", "total_price": total,
        "subtotal_price": total, "total_line_items_price": total, "line_items": items,
        "created_at": shop_time(at), "updated_at": shop_time(at),
        "completed_at": shop_time(at) if completed else None,
        "abandoned_checkout_url": recovery_url(token),
        "customer": _customer_block(customer_id),
    })  # fmt: skip
    payload["email"] = payload["customer"]["email"] = None
    return shopify(topic, payload, at, key=f"{topic}/{token}/{at}")


def recovery_url(token: str) -> str:
    """The abandoned checkout URL Shopify gives a checkout token."""
    return f"https://rose-and-co.myshopify.com/7183745/checkouts/ac/{token}/recover?key=k-{token}"


def order(customer_id: int, order_id: int, total: str, items: list[dict[str, Any]],
          at: str) -> dict[str, Any]:  # fmt: skip
    """``orders/create``."""
    payload = copy.deepcopy(sample("shopify_orders_create")["detail"]["payload"])
    payload.update({
        "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "total_price": total, "current_total_price": total, "subtotal_price": total,
        "line_items": items, "created_at": shop_time(at), "processed_at": shop_time(at),
        "updated_at": shop_time(at), "customer": _customer_block(customer_id),
    })  # fmt: skip
    return shopify("orders/create", payload, at, key=f"order/{order_id}")


def refund(order_id: int, refund_id: int, amount: str, at: str) -> dict[str, Any]:
    """``refunds/create``: names the order, not the customer; money in ``transactions``."""
    payload = copy.deepcopy(sample("shopify_refunds_create")["detail"]["payload"])
    payload.update({
        "id": refund_id, "order_id": order_id, "created_at": shop_time(at),
        "processed_at": shop_time(at), "refund_line_items": [], "order_adjustments": [],
        "transactions": [{
            "id": refund_id + 1, "order_id": order_id, "kind": "refund", "status": "success",
            "amount": amount, "currency": "USD", "gateway": "shopify_payments",
            "created_at": shop_time(at), "processed_at": shop_time(at),
        }],
    })  # fmt: skip
    payload.pop("customer", None)
    return shopify("refunds/create", payload, at, key=f"refund/{refund_id}")


def segment(name: str, at: str, *, user_id: str | None = None, anonymous_id: str | None = None,
            message_id: str | None = None, **fields: Any) -> dict[str, Any]:  # fmt: skip
    """A Segment message from ``events/segment_<name>.json`` for these ids at ``at``.

    ``fields`` replace top-level keys of the message (``properties=``, ``traits=``).
    """
    env = copy.deepcopy(sample(f"segment_{name}"))
    msg = env["detail"]
    stamp = at.replace("Z", ".000Z")
    env["time"] = at
    env["id"] = str(uuid.uuid5(_NS, f"segment/{name}/{message_id or at}"))
    msg.update({"timestamp": stamp, "originalTimestamp": stamp, "receivedAt": stamp,
                "sentAt": stamp, "messageId": message_id or f"ajs-{uuid.uuid5(_NS, name + at)}"})  # fmt: skip
    for key, value in (("userId", user_id), ("anonymousId", anonymous_id)):
        if value is None:
            msg.pop(key, None)
        else:
            msg[key] = value
    msg.update(fields)
    env["resources"] = [f"identifiedUser/{user_id}"] if user_id else []
    return env
