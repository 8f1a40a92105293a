"""Write events/shopify_day.jsonl: the storefront day of events/sample_day.jsonl as a Shopify shop
sends it. Run ``python -m tests.make_shopify_day`` after changing the sample day.

Where Shopify has a webhook for it, the event is that webhook, through Shopify's EventBridge
partner source (Shopify's published bodies, see tests/fixtures/shopify/ and events/shopify_*.json):

- ``customer_updated`` -> ``customers/create`` (who), plus ``customers_email_marketing_consent/update``
  and ``customers_marketing_consent/update`` (consent: its own topics since API 2025-01). A
  consent the native day withdraws is ``unsubscribed``; one it never granted is Shopify's
  ``not_subscribed``;
- ``consent_updated`` -> the consent topic of its channel;
- ``cart_updated`` -> ``checkouts/create`` (first for a cart) or ``checkouts/update``, with the
  recovery link as ``abandoned_checkout_url`` and the email the customer has given so far;
- ``order_placed`` -> ``orders/create`` (with that email too); ``order_refunded`` ->
  ``refunds/create`` (no customer in the body: nudge finds it through the order).

Shopify has no webhook for browsing, so ``product_viewed``, ``page_viewed``, ``checkout_started``
(the web pixel's standard events of those names) and the custom ``wishlist_added`` stay native
events from the storefront's pixel (source ``shop.storefront``), with Shopify's customer and
product ids. So do the traits Shopify's customer record does not hold: ``timezone`` and
``locale`` (the browser's) and ``birthday`` (the account page), as a native ``customer_updated``.

Ids are Shopify-shaped: customers and orders 18 digits (above 2**53, so the day also proves ids
survive exactly), products 13 digits. A customer's id is chosen so that the 5% global control
group (a hash of the id) holds out the same customers as in the native day, which is what makes
the two days reach the same decisions. Two things the Shopify day cannot carry and the config
does not use for decisions: ``properties.gift`` on orders (so no ``self_gifter`` segment) and
exact ``checkout_url`` values (Shopify's recovery links instead).
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from tests import partners

ROOT = Path(__file__).resolve().parent.parent
NATIVE_DAY = ROOT / "events" / "sample_day.jsonl"
SHOPIFY_DAY = ROOT / "events" / "shopify_day.jsonl"
CUSTOMER_BASE = 115310627314700000
ORDER_BASE = 820982911946150000
PRODUCT_BASE = 7513594950000
PIXEL_ONLY_TRAITS = ("timezone", "locale", "birthday")


def read_native(path: Path = NATIVE_DAY) -> list[dict[str, Any]]:
    """The native day, one envelope per line."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@cache
def _config() -> Any:
    from nudge.config import load_config

    return load_config(ROOT / "config")


def _held_out(customer_id: str) -> tuple[str | None, ...]:
    """Which control groups (global, per trigger) the sample config puts this id in."""
    from nudge.core.delivery import holdout_reason

    config = _config()
    holdout = config.settings.holdout
    return tuple(
        holdout_reason(
            customer_id,
            t.id,
            holdout.percent if holdout else 0,
            holdout.salt if holdout else "",
            t.model.holdout,
        )
        for t in sorted(config.triggers.values(), key=lambda t: t.id)
    )


def customer_ids(native: list[dict[str, Any]]) -> dict[str, str]:
    """Native customer id -> Shopify customer id, control-group membership kept."""
    out: dict[str, str] = {}
    for envelope in native:
        cid = envelope["detail"]["customer_id"]
        if cid in out:
            continue
        candidate = CUSTOMER_BASE + 100 * int("".join(ch for ch in cid if ch.isdigit()) or 0)
        want = _held_out(cid)
        while _held_out(str(candidate)) != want:
            candidate += 1
        out[cid] = str(candidate)
    return out


def _number(native_id: str, base: int) -> int:
    return base + int("".join(ch for ch in native_id if ch.isdigit()) or 0)


def _product(native_id: str | None) -> str | None:
    return None if native_id is None else str(_number(native_id, PRODUCT_BASE))


def _token(cart_id: str) -> str:
    return hashlib.sha256(cart_id.encode()).hexdigest()[:32]


def _money(value: Any) -> str:
    return f"{float(value):.2f}"


def _line_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        partners.line_item(
            int(_product(i["product_id"]) or 0),
            i["name"],
            _money(i["price"]),
            quantity=int(i.get("quantity") or 1),
            product_type=i.get("category"),
        )
        for i in items
    ]


def _pixel(envelope: dict[str, Any], cid: str, **props: Any) -> dict[str, Any]:
    """The same native event from the storefront pixel, with Shopify's ids."""
    env = copy.deepcopy(envelope)
    env["detail"]["customer_id"] = cid
    env["detail"].setdefault("properties", {}).update(props)
    return env


class _Day:
    def __init__(self, native: list[dict[str, Any]]) -> None:
        self.native = native
        self.ids = customer_ids(native)
        self.carts: set[str] = set()
        self.done_customers: set[str] = set()
        self.emails: dict[str, str] = {}  # what each customer has given so far
        self.consent: dict[tuple[str, str], bool] = {}  # (customer, channel) -> recorded
        self.out: list[dict[str, Any]] = []
        self.done: dict[str, list[dict[str, Any]]] = {}  # native event id -> what it became

    def convert(self) -> list[dict[str, Any]]:
        for envelope in self.native:
            key = envelope["detail"].get("event_id") or envelope["id"]
            if key in self.done:  # the native day delivers this event twice: so does Shopify
                self.out.extend(copy.deepcopy(self.done[key]))
                continue
            before = len(self.out)
            self._one(envelope)
            self.done[key] = copy.deepcopy(self.out[before:])
        return self.out

    def _one(self, env: dict[str, Any]) -> None:
        kind, at, detail = env["detail-type"], env["time"], env["detail"]
        cid = self.ids[detail["customer_id"]]
        props = detail.get("properties") or {}
        if kind == "customer_updated":
            self._customer(env, cid)
        elif kind == "consent_updated":
            self.out.append(self._consent(cid, props["channel"], bool(props["granted"]), at))
        elif kind == "cart_updated":
            token = _token(props["cart_id"])
            topic = "checkouts/update" if token in self.carts else "checkouts/create"
            self.carts.add(token)
            self.out.append(
                partners.checkout(
                    int(cid),
                    token,
                    _money(props["value"]),
                    _line_items(props.get("items") or []),
                    at,
                    topic=topic,
                    email=self.emails.get(cid),
                )
            )
        elif kind == "order_placed":
            self.out.append(
                partners.order(
                    int(cid),
                    _number(props["order_id"], ORDER_BASE),
                    _money(props["value"]),
                    _line_items(props.get("items") or []),
                    at,
                    email=self.emails.get(cid),
                )
            )
        elif kind == "order_refunded":
            order_id = _number(props["order_id"], ORDER_BASE)
            self.out.append(partners.refund(order_id, order_id + 1, _money(props["value"]), at))
        else:
            self.out.append(self._pixel_event(env, cid, props))

    def _pixel_event(self, env: dict[str, Any], cid: str, props: dict[str, Any]) -> dict[str, Any]:
        changed: dict[str, Any] = {}
        if "product_id" in props:
            changed["product_id"] = _product(props["product_id"])
        if "items" in props:
            changed["items"] = [
                {**i, "product_id": _product(i.get("product_id"))} for i in props["items"]
            ]
        if "cart_id" in props:
            changed["cart_id"] = _token(props["cart_id"])
            changed["checkout_url"] = partners.recovery_url(changed["cart_id"])
        return _pixel(env, cid, **changed)

    def _consent(self, cid: str, channel: str, granted: bool, at: str) -> dict[str, Any]:
        """The consent topic saying what Shopify's record would: subscribed, unsubscribed
        (withdrawn), or not_subscribed (never granted)."""
        before = self.consent.get((cid, channel))
        self.consent[(cid, channel)] = granted
        state = (
            "subscribed" if granted else "unsubscribed" if before is not None else "not_subscribed"
        )
        return partners.consent_update(int(cid), channel, state, at)

    def _customer(self, env: dict[str, Any], cid: str) -> None:
        at, detail = env["time"], env["detail"]
        traits, consent = detail.get("traits") or {}, detail.get("consent") or {}
        topic = "customers/update" if cid in self.done_customers else "customers/create"
        self.done_customers.add(cid)
        if traits.get("email"):
            self.emails[cid] = traits["email"]
        self.out.append(
            partners.customer_create(
                int(cid),
                at,
                email=traits.get("email"),
                phone=traits.get("phone"),
                first_name=traits.get("first_name") or "",
                topic=topic,
            )
        )
        for channel in ("email", "sms"):
            if channel in consent:
                self.out.append(self._consent(cid, channel, bool(consent[channel]), at))
        extra = {k: traits[k] for k in PIXEL_ONLY_TRAITS if k in traits}
        if extra:
            pixel = copy.deepcopy(env)
            pixel["id"] = f"{env['id']}-px"
            pixel["detail"] = {
                "customer_id": cid,
                "event_id": f"{detail['event_id']}-px",
                "traits": extra,
            }
            self.out.append(pixel)


def shopify_day(native: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The Shopify version of the native day (default: events/sample_day.jsonl)."""
    return _Day(native if native is not None else read_native()).convert()


def render(events: list[dict[str, Any]]) -> str:
    """JSONL text, one envelope per line."""
    return "".join(json.dumps(e, separators=(", ", ": ")) + "\n" for e in events)


if __name__ == "__main__":
    SHOPIFY_DAY.write_text(render(shopify_day()))
    print(f"wrote {SHOPIFY_DAY}")
