"""Catalog changes, pure: a product's state after a ``product_updated``, whether it came back in
stock or got cheaper, and which watcher hears of it (docs/config.md, "Catalog events").

- **In stock** is ``available`` when the update says so, else ``inventory > 0`` (per-location
  ``levels`` from Shopify's ``inventory_levels/update`` are summed); unknown until either is told.
- A **restock** is a product known to be out of stock that is now in stock. Each watcher who
  viewed it within the window hears of it once per view (``back_in_stock``); an update that
  changes nothing (Shopify sends ``products/update`` and ``inventory_levels/update`` for the same
  change) is no second restock.
- A **price drop** is a price lower than the product's last known price. A watcher hears of it
  (``price_dropped``) only if they viewed the product at a price higher than the new one, once per
  new price.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from nudge.core.clock import parse_time

STATE_KEYS = ("name", "category", "price", "currency", "url", "image_url")


def update_state(
    old: Mapping[str, Any] | None, props: Mapping[str, Any], when: str
) -> dict[str, Any]:
    """The product's state once ``props`` (a ``product_updated``'s properties) are applied."""
    state = dict(old or {})
    for key in STATE_KEYS:
        if props.get(key) is not None:
            state[key] = props[key]
    if props.get("location_id") is not None and props.get("inventory") is not None:
        levels = dict(state.get("levels") or {})
        levels[str(props["location_id"])] = int(props["inventory"])
        state["levels"] = levels
        state["inventory"] = sum(levels.values())
    elif props.get("inventory") is not None:
        state["inventory"] = int(props["inventory"])
        state.pop("levels", None)
    if props.get("available") is not None:
        state["available"] = bool(props["available"])
    state["updated_at"] = max(when, str(state.get("updated_at") or when))
    return state


def in_stock(state: Mapping[str, Any] | None) -> bool | None:
    """True / False, or None when nothing says."""
    if not state:
        return None
    if state.get("available") is False:
        return False
    inventory = state.get("inventory")
    if inventory is not None:
        return int(inventory) > 0
    return True if state.get("available") else None


def changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """``restock`` and/or ``price_drop`` between two states of a product."""
    out = []
    if in_stock(old) is False and in_stock(new) is True:
        out.append("restock")
    before, after = (old or {}).get("price"), new.get("price")
    if before is not None and after is not None and float(after) < float(before):
        out.append("price_drop")
    return out


def news_for(
    product_id: str,
    new: Mapping[str, Any],
    kinds: list[str],
    watcher: Mapping[str, Any],
    now: datetime,
    window_seconds: float,
) -> list[tuple[str, str, dict[str, Any]]]:
    """``(event type, idempotency key, properties)`` of what one watcher hears."""
    viewed_at = str(watcher["viewed_at"])
    if (now - parse_time(viewed_at)).total_seconds() > window_seconds:
        return []
    base = {
        "product_id": product_id,
        "viewed_at": viewed_at,
        **{k: new[k] for k in ("name", "price", "currency", "url", "image_url") if k in new},
    }
    out = []
    if "restock" in kinds:
        out.append(("back_in_stock", f"{product_id}@{viewed_at}", dict(base)))
    seen = watcher.get("price")
    price = new.get("price")
    if "price_drop" in kinds and seen is not None and price is not None:
        saw, now_at = float(seen), float(price)
        if saw > now_at:  # they saw it dearer than it is now
            props = {**base, "previous_price": saw}
            out.append(("price_dropped", f"{product_id}@{now_at:g}", props))
    return out


RECENT_MAX = 4
RECENT_FIELDS = ("product_id", "name", "category", "price", "currency", "url", "image_url")


def recently_viewed(view: Mapping[str, Any], limit: int = RECENT_MAX) -> list[dict[str, Any]]:
    """Templates' ``recommendations.recently_viewed``: the products the customer viewed, newest
    first, each once, leaving out those bought since the view (``purchases``), at most
    ``limit``; each with its ``product_viewed`` fields and ``viewed_at``."""
    bought = {
        key[2:]: entry[1]
        for key, entry in (view.get("purchases") or {}).items()
        if key.startswith("p:") and isinstance(entry, list) and len(entry) > 1
    }
    out: list[dict[str, Any]] = []
    done: set[str] = set()
    for entry in reversed(view.get("history") or ()):
        if entry.get("type") != "product_viewed":
            continue
        props = entry.get("properties") or {}
        product = props.get("product_id")
        if product in (None, "") or str(product) in done:
            continue
        done.add(str(product))
        at = datetime.fromtimestamp(float(entry["ts"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if str(bought.get(str(product), "")) >= at:
            continue  # bought since they looked at it
        out.append({**{k: props[k] for k in RECENT_FIELDS if k in props}, "viewed_at": at})
        if len(out) >= limit:
            break
    return out
