"""Templates' ``recommendations.bought_together``, pure (docs/config.md, "Recommendations").

The daily recompute stores, per product, the products most often bought in the same order as it
(``nudge.scoring.together``). A message shows the companions of the products it is about:

1. the products of its event: a cart's or an order's lines (``cart_updated``,
   ``checkout_started``, ``order_placed``), or the one product of a ``product_viewed``,
   ``replenishment_due``, ``back_in_stock``, ``price_dropped``...;
2. else (an event about no product, a campaign) the customer's cart;
3. else the products of their last order;
4. else the products they viewed recently (``recommendations.recently_viewed``).

Products the customer bought (their ``purchases``), has in the cart, or that the message is
about are left out; each product comes once, ranked by the number of customers who bought it
with the message's products (summed over them; ties: the first product's list order), at most
``show`` of them. At most ``MAX_ANCHORS`` products are looked up (one read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nudge.core.catalog import recently_viewed

MAX_ANCHORS = 10
# each product of the list has every one of these (None when the catalog does not know it)
FIELDS = {
    "product_id": "string",
    "name": "string",
    "category": "string",
    "price": "number",
    "currency": "string",
    "url": "string",
    "image_url": "string",
    "customers": "number",
}


def _ids(items: Any) -> list[str]:
    out: list[str] = []
    for item in items or ():
        if isinstance(item, Mapping) and item.get("product_id") not in (None, ""):
            out.append(str(item["product_id"]))
    return out


def _last_order(view: Mapping[str, Any]) -> list[str]:
    purchases = view.get("purchases") or {}
    stamps = {
        key[2:]: entry[1]
        for key, entry in purchases.items()
        if key.startswith("p:") and isinstance(entry, list) and len(entry) > 1
    }
    if not stamps:
        return []
    last = max(stamps.values())
    return sorted(p for p, at in stamps.items() if at == last)


def anchors(view: Mapping[str, Any], event: Mapping[str, Any] | None) -> list[str]:
    """The products a message is about (see the module's docstring), each once, at most
    ``MAX_ANCHORS``."""
    props = (event or {}).get("properties") or {}
    found = _ids(props.get("items"))
    if not found and props.get("product_id") not in (None, ""):
        found = [str(props["product_id"])]
    if not found:
        found = _ids((view.get("cart") or {}).get("items"))
    if not found:
        found = _last_order(view)
    if not found:
        found = [str(p["product_id"]) for p in recently_viewed(view) if p.get("product_id")]
    return list(dict.fromkeys(found))[:MAX_ANCHORS]


def bought_together(
    view: Mapping[str, Any],
    about: list[str],
    table: Mapping[str, list[dict[str, Any]]],
    show: int,
) -> list[dict[str, Any]]:
    """The companions of the products ``about`` from ``table`` (product -> its stored list),
    without what the customer bought, has in the cart or the message is about; best first,
    at most ``show``."""
    own = {k[2:] for k in (view.get("purchases") or {}) if k.startswith("p:")}
    own |= set(_ids((view.get("cart") or {}).get("items")))
    own |= set(about)
    score: dict[str, int] = {}
    first: dict[str, tuple[int, int]] = {}
    entry: dict[str, dict[str, Any]] = {}
    for i, product in enumerate(about):
        for j, other in enumerate(table.get(product) or ()):
            pid = str(other.get("product_id") or "")
            if not pid or pid in own:
                continue
            score[pid] = score.get(pid, 0) + int(other.get("customers") or 0)
            first.setdefault(pid, (i, j))
            entry.setdefault(pid, other)
    ranked = sorted(score, key=lambda p: (-score[p], first[p]))[:show]
    return [{**{k: entry[p].get(k) for k in FIELDS}, "customers": score[p]} for p in ranked]
