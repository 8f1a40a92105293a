"""Segment messages delivered through Segment's Amazon EventBridge destination, as native events.

The partner envelope's ``source`` is ``aws.partner/segment.com/<source id>``, ``detail-type`` the
message type and ``detail`` the whole Segment message (``type``, ``userId``, ``anonymousId``,
``event``, ``properties``, ``traits``, ``context``, ``timestamp``, ``messageId``).

- ``track`` events of the e-commerce spec v2 become native events (``Product Viewed`` ->
  ``product_viewed``, ``Order Completed`` -> ``order_placed``, ...); any other ``track`` is kept as
  a custom event named by the snake_case of its name, properties untouched.
- ``identify`` -> ``customer_updated``; ``page`` -> ``page_viewed``.
- ``userId`` is the customer; without one, ``anon:<anonymousId>``. An ``identify`` carrying both
  lists ``anon:<anonymousId>`` in ``detail.aliases`` so ingest can merge the anonymous history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from nudge.adapters._native import (
    Envelope,
    Money,
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
from nudge.core.events import MalformedEvent, json_object

SOURCE_PREFIX = "aws.partner/segment.com"
MESSAGE_TYPES = ("track", "identify", "page", "screen", "group", "alias")
ANON_PREFIX = "anon:"


def is_segment(envelope: Envelope) -> bool:
    """True for an envelope from Segment's EventBridge destination (by source, or by shape)."""
    source = envelope.get("source")
    if isinstance(source, str) and source.startswith(SOURCE_PREFIX):
        return True
    detail = envelope.get("detail")
    if isinstance(detail, str) and '"messageId"' in detail:
        try:
            detail = json.loads(detail)
        except ValueError:
            return False
    return (
        isinstance(detail, dict)
        and detail.get("type") in MESSAGE_TYPES
        and bool(detail.get("messageId"))
    )


def snake_case(name: str) -> str:
    """``Order Completed`` -> ``order_completed``; ``productAdded`` -> ``product_added``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[^0-9A-Za-z]+", "_", spaced).strip("_").lower()


# ---------------------------------------------------------------------------- money and items


def _amount(props: dict[str, Any], items: list[dict[str, Any]] | None) -> Money | None:
    """What an order or cart is worth: ``revenue``, else ``total``, else ``value``, else the
    products' ``price * quantity``. One precedence for carts, orders and refunds, so a full
    refund of an order subtracts what the order added."""
    for key in ("revenue", "total", "value"):
        if props.get(key) is not None:
            return money(props[key], f"properties.{key}")
    if items is None:
        return None
    total = Decimal(0)
    for item in items:
        if item.get("price") is not None:
            total += to_decimal(item["price"], "products.price") * item.get("quantity", 1)
    return json_number(total)


def _product(p: dict[str, Any], where: str) -> dict[str, Any]:
    price = p.get("price")
    return drop_none(
        {
            "product_id": ident(p.get("product_id")) or ident(p.get("sku")) or ident(p.get("id")),
            "name": p.get("name"),
            "category": p.get("category"),
            "price": None if price is None else money(price, f"{where}.price"),
            "quantity": quantity(p.get("quantity"), f"{where}.quantity"),
            "sku": ident(p.get("sku")),
            "url": p.get("url"),
            "image_url": p.get("image_url"),
        }
    )


def _items(props: dict[str, Any]) -> list[dict[str, Any]] | None:
    products = props.get("products")
    if products is None:
        return None
    if not isinstance(products, list):
        raise MalformedEvent("properties.products is not a list")
    items = []
    for n, p in enumerate(products):
        if not isinstance(p, dict):
            raise MalformedEvent(f"properties.products[{n}] is not an object")
        items.append(_product(p, f"properties.products[{n}]"))
    return items


# ---------------------------------------------------------------------------- track


class _Msg:
    """One Segment message and the envelope it came in."""

    def __init__(self, envelope: Envelope, message: dict[str, Any]) -> None:
        self.envelope = envelope
        self.message = message
        user_id = ident(message.get("userId"))
        anonymous_id = ident(message.get("anonymousId"))
        if user_id:
            self.customer_id = user_id
        elif anonymous_id:
            self.customer_id = ANON_PREFIX + anonymous_id
        else:
            raise MalformedEvent("segment message has neither userId nor anonymousId")
        self.user_id = user_id
        self.anonymous_id = anonymous_id
        props = message.get("properties")
        self.props: dict[str, Any] = props if isinstance(props, dict) else {}
        context = message.get("context")
        self.context: dict[str, Any] = context if isinstance(context, dict) else {}

    def native(self, detail_type: str, **fields: Any) -> Envelope:
        m = self.message
        when = first_time(
            m.get("timestamp"), m.get("originalTimestamp"), m.get("receivedAt"), m.get("sentAt")
        )
        return native(
            self.envelope,
            detail_type,
            customer_id=self.customer_id,
            event_id=ident(m.get("messageId")),
            time=when,
            **fields,
        )


def _product_viewed(msg: _Msg, name: str) -> Envelope:
    product = _product(msg.props, "properties")
    if "product_id" not in product:
        raise MalformedEvent("Product Viewed without product_id or sku")
    product.pop("quantity", None)
    return msg.native("product_viewed", properties={**msg.props, **product})


def _cart(msg: _Msg, detail_type: str) -> Envelope:
    items = _items(msg.props) or []
    properties = drop_none(
        {
            "cart_id": ident(msg.props.get("cart_id"))
            or ident(msg.props.get("checkout_id"))
            or ident(msg.props.get("order_id")),
            "value": _amount(msg.props, items),
            "currency": msg.props.get("currency"),
            "items": items,
            "checkout_url": msg.props.get("checkout_url"),
        }
    )
    return msg.native(detail_type, properties=properties)


def _cart_change(msg: _Msg, name: str) -> Envelope:
    # Product Added / Removed / Cart Viewed describe the whole cart only when products[] is sent.
    # A single product says nothing about the rest of the cart: calling it cart_updated would
    # overwrite cart.value with one line's price, so it stays a custom event.
    if isinstance(msg.props.get("products"), list):
        return _cart(msg, "cart_updated")
    return msg.native(name, properties=msg.props)


def _checkout_started(msg: _Msg, name: str) -> Envelope:
    return _cart(msg, "checkout_started")


def _order_placed(msg: _Msg, name: str) -> Envelope:
    order_id = ident(msg.props.get("order_id")) or ident(msg.props.get("checkout_id"))
    if order_id is None:
        raise MalformedEvent("Order Completed without order_id")
    items = _items(msg.props) or []
    value = _amount(msg.props, items)
    properties = drop_none(
        {
            "order_id": order_id,
            "value": value,
            "currency": msg.props.get("currency"),
            "items": items,
        }
    )
    return msg.native("order_placed", properties=properties)


def _order_refunded(msg: _Msg, name: str) -> Envelope:
    order_id = ident(msg.props.get("order_id"))
    if order_id is None:
        raise MalformedEvent("Order Refunded without order_id")
    value = _amount(msg.props, _items(msg.props))
    if value is None:
        raise MalformedEvent("Order Refunded without revenue, total, value or products")
    properties = drop_none(
        {"order_id": order_id, "value": value, "currency": msg.props.get("currency")}
    )
    return msg.native("order_refunded", properties=properties)


_Track = Callable[[_Msg, str], Envelope]

# By snake_case name, so "Order Completed", "order_completed" and "orderCompleted" all match; the
# e-commerce v1 names the v2 spec lists as aliases are accepted too.
ECOMMERCE: dict[str, _Track] = {
    "product_viewed": _product_viewed,
    "viewed_product": _product_viewed,
    "product_added": _cart_change,
    "added_product": _cart_change,
    "product_removed": _cart_change,
    "removed_product": _cart_change,
    "cart_viewed": _cart_change,
    "checkout_started": _checkout_started,
    "order_completed": _order_placed,
    "completed_order": _order_placed,
    "order_refunded": _order_refunded,
}
_V1_NAMES = {
    "viewed_product": "product_viewed",
    "added_product": "product_added",
    "removed_product": "product_removed",
    "completed_order": "order_completed",
}
# e-commerce events that stay custom events under these names (with Segment's properties) when
# they do not describe the whole cart; config may name them without declaring them
KEPT_AS_CUSTOM = ("product_added", "product_removed", "cart_viewed")


def _track(msg: _Msg) -> Envelope:
    event = msg.message.get("event")
    name = snake_case(event) if isinstance(event, str) else ""
    if not name:
        raise MalformedEvent("segment track without an event name")
    mapper = ECOMMERCE.get(name)
    if mapper is None:
        return msg.native(name, properties=msg.props)
    return mapper(msg, _V1_NAMES.get(name, name))


# ---------------------------------------------------------------------------- identify, page

_TRAIT_NAMES = {"firstName": "first_name", "lastName": "last_name"}


def _identify(msg: _Msg) -> Envelope:
    raw = msg.message.get("traits")
    if raw is None:
        raw = msg.context.get("traits")
    traits: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
    consent_in = traits.pop("consent", None)
    for camel, snake in _TRAIT_NAMES.items():
        if camel in traits:
            value = traits.pop(camel)
            traits.setdefault(snake, value)
    if "first_name" not in traits and isinstance(traits.get("name"), str) and traits["name"]:
        traits["first_name"] = traits["name"].split()[0]
    birthday = traits.get("birthday")
    if isinstance(birthday, str) and len(birthday) > 10 and birthday[4:5] == "-":
        traits["birthday"] = birthday[:10]  # Segment sends a Date: keep YYYY-MM-DD
    for key in ("timezone", "locale"):
        if key not in traits and isinstance(msg.context.get(key), str):
            traits[key] = msg.context[key]
    consent: dict[str, bool] = {}
    if isinstance(consent_in, dict):
        consent = {k: v for k, v in consent_in.items() if k in ("email", "sms")}
        bad = {k: v for k, v in consent.items() if not isinstance(v, bool)}
        if bad:
            raise MalformedEvent(f"traits.consent: {bad} is not true/false")
    elif consent_in is not None:
        raise MalformedEvent('traits.consent must look like {"email": true, "sms": false}')
    aliases = None
    if msg.user_id and msg.anonymous_id:
        aliases = [ANON_PREFIX + msg.anonymous_id]
    return msg.native("customer_updated", traits=traits, consent=consent, aliases=aliases)


def _page(msg: _Msg) -> Envelope:
    page = msg.context.get("page")
    page = page if isinstance(page, dict) else {}
    url = msg.props.get("url") or page.get("url")
    path = msg.props.get("path") or page.get("path")
    if not path and isinstance(url, str) and url:
        path = urlsplit(url).path or "/"
    if not path:
        raise MalformedEvent("segment page without path or url")
    properties = drop_none(
        {
            "path": path,
            "title": msg.props.get("title") or page.get("title"),
            "url": url,
            "name": msg.message.get("name"),
            "referrer": msg.props.get("referrer") or page.get("referrer"),
        }
    )
    return msg.native("page_viewed", properties=properties)


def to_native(envelope: Envelope) -> list[Envelope]:
    """Map one Segment partner envelope to native envelopes.

    Raises ``Skipped`` for message types nudge does not map (``screen``, ``group``, ``alias``) and
    ``MalformedEvent`` for a message that cannot be read.
    """
    message = json_object(envelope.get("detail"), "segment detail")
    kind = message.get("type") or envelope.get("detail-type")
    if kind not in ("track", "identify", "page"):
        raise Skipped(f"segment {kind!r} messages are not mapped")
    msg = _Msg(envelope, message)
    if kind == "track":
        return [_track(msg)]
    if kind == "identify":
        return [_identify(msg)]
    return [_page(msg)]
