"""Per-product replenishment, pure (docs/scoring.md, "Replenishment").

The model:

- Each order adds to the customer's ``purchases`` map, one entry per product (``p:<product_id>``)
  and per category (``c:<category>``) it holds: ``[first_at, last_at, orders, name, category]``
  (an order counts once per key, however many lines or units of it it has). The map is bounded
  (``PURCHASES_MAX`` keys; the least recently bought are dropped first).
- A customer's own re-order interval for a key is ``(last_at - first_at) / (orders - 1)``, so
  only customers with 2 orders or more of it have one. The **typical interval** of a product (or
  category) is the median of its buyers' own intervals, computed each night by the daily
  recompute (``nudge.scoring.replenish``), when at least ``min_buyers`` customers have one;
  otherwise a product falls back on its category's interval, and then on the configured
  ``interval``.
- Per customer x product, the supply runs out at ``last_at + interval``; ``lead`` days before that,
  in the customer's calendar, the daily recompute records a ``replenishment_due`` event (once per
  purchase: its id is made of the key and ``last_at``). A repurchase moves ``last_at``, so the
  reminder for the old purchase never comes; a trigger on it should also have
  ``cancel_if: [{event: order_placed}]`` for a purchase made while its message waits.
- A reminder is only made while it is still useful: from ``lead`` days before the date until the
  date itself (a purchase whose date has passed, e.g. an imported history, gets none).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nudge.core.clock import iso, parse_time

PURCHASES_MAX = 40
NAME_CHARS = 80
DAY = 86400.0


def purchase_keys(props: Mapping[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    """The keys an order counts for, each with the product's name and category."""
    keys: dict[str, tuple[str | None, str | None]] = {}
    for item in props.get("items") or ():
        if not isinstance(item, Mapping):
            continue
        category = item.get("category")
        category = str(category) if category not in (None, "") else None
        product = item.get("product_id")
        if product not in (None, ""):
            name = item.get("name")
            keys[f"p:{product}"] = (str(name)[:NAME_CHARS] if name else None, category)
        if category:
            keys.setdefault(f"c:{category}", (None, category))
    return keys


def record_purchases(profile: dict[str, Any], props: Mapping[str, Any], when: str) -> None:
    """Count an order (at ``when``) in the profile's ``purchases`` map."""
    keys = purchase_keys(props)
    if not keys:
        return
    purchases: dict[str, list[Any]] = profile.setdefault("purchases", {})
    for key, (name, category) in keys.items():
        entry = purchases.get(key)
        if entry is None:
            purchases[key] = [when, when, 1, name, category]
            continue
        entry[0], entry[1] = min(entry[0], when), max(entry[1], when)
        entry[2] = int(entry[2]) + 1
        entry[3] = name or entry[3]
    if len(purchases) > PURCHASES_MAX:
        for key in sorted(purchases, key=lambda k: purchases[k][1])[:-PURCHASES_MAX]:
            del purchases[key]


def merge_purchases(profile: dict[str, Any], other: Mapping[str, list[Any]]) -> None:
    """Fold another profile's ``purchases`` (orders the profile did not count yet) into
    ``profile``'s: first and last dates widen, order counts add up; bounded as above."""
    if not other:
        return
    purchases: dict[str, list[Any]] = profile.setdefault("purchases", {})
    for key, theirs in other.items():
        entry = purchases.get(key)
        if entry is None:
            purchases[key] = list(theirs)
            continue
        entry[0], entry[1] = min(entry[0], theirs[0]), max(entry[1], theirs[1])
        entry[2] = int(entry[2]) + int(theirs[2])
        entry[3] = entry[3] or theirs[3]
        entry[4] = entry[4] or theirs[4]
    if len(purchases) > PURCHASES_MAX:
        for key in sorted(purchases, key=lambda k: purchases[k][1])[:-PURCHASES_MAX]:
            del purchases[key]


def own_interval(entry: list[Any]) -> float | None:
    """A customer's mean days between orders of a key (None with fewer than 2 orders)."""
    count = int(entry[2])
    if count < 2:
        return None
    span = (parse_time(entry[1]) - parse_time(entry[0])).total_seconds() / DAY
    return span / (count - 1) if span > 0 else None


def interval_for(
    key: str, entry: list[Any], intervals: Mapping[str, float], default_days: float
) -> tuple[float, str]:
    """The typical interval of ``key`` (days) and where it came from: ``product``,
    ``category`` or ``configured``."""
    if key in intervals:
        return float(intervals[key]), "product" if key.startswith("p:") else "category"
    category = entry[4] if len(entry) > 4 else None
    if key.startswith("p:") and category and f"c:{category}" in intervals:
        return float(intervals[f"c:{category}"]), "category"
    return default_days, "configured"


def due_reminders(
    profile: Mapping[str, Any],
    intervals: Mapping[str, float],
    *,
    default_days: float,
    lead_days: float,
    by: str,
    now: datetime,
    zone: ZoneInfo,
) -> list[tuple[str, dict[str, Any]]]:
    """``(event id key, properties)`` of each ``replenishment_due`` to record now: keys of kind
    ``by`` (``product`` or ``category``) whose reminder day (``lead`` days before the supply
    runs out, in the customer's calendar) has come and whose date has not passed."""
    prefix = "p:" if by == "product" else "c:"
    today = now.astimezone(zone).date()
    out = []
    for key, entry in sorted((profile.get("purchases") or {}).items()):
        if not key.startswith(prefix):
            continue
        interval, basis = interval_for(key, entry, intervals, default_days)
        last = parse_time(entry[1])
        due = last + timedelta(days=interval)
        remind = (due - timedelta(days=lead_days)).astimezone(zone).date()
        if not remind <= today <= due.astimezone(zone).date():
            continue
        props: dict[str, Any] = {
            "interval_days": round(interval, 1),
            "last_order_at": entry[1],
            "due_at": iso(due),
            "lead_days": lead_days,
            "basis": basis,
        }
        if key.startswith("p:"):
            props["product_id"] = key[2:]
            if entry[3]:
                props["name"] = entry[3]
        if len(entry) > 4 and entry[4]:
            props["category"] = entry[4]
        out.append((f"{key}@{entry[1]}", props))
    return out
