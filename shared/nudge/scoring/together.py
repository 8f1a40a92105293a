"""Frequently bought together: item-to-item co-occurrence from the daily recompute's gather pass
(docs/scoring.md, "Frequently bought together"; templates read it as
``recommendations.bought_together``, ``nudge.core.together``).

Pure Python, no numpy, no second scan: the gather step hands each profile to ``add_profile``.

- **Baskets.** A profile keeps no order lines, only its ``purchases`` map (``p:<product_id>`` ->
  ``[first_at, last_at, orders, name, category]``, ``nudge.core.replenish``), and every product
  of one order is stamped with that order's time. So the products sharing a ``first_at`` or a
  ``last_at`` were bought in one order: each customer's first and latest order of every product
  they bought are seen as baskets (an order in between whose every product was bought before and
  after it is not). A basket counts at most ``BASKET_MAX`` products (the first by product id).
- **Support** of a pair is the number of *customers* who bought both products in one order (a
  customer who buys the pair every month counts once: one household's habit is not a
  recommendation). A pair is recommended only with at least ``min_customers`` of them.
- **Score.** For a product A, its companions are ranked by support, the number of customers who
  bought them with A: for a fixed A that is the same order as the confidence P(B | A), and it
  favours what many people really did over a rare pair with a high ratio. Ties go to the higher
  lift (support x customers / (buyers of A x buyers of B): the companion more specific to A
  than to everyone), then to the product id, so the list is the same every night.
- **Memory** is bounded whatever the base: at most ``MAX_PAIRS`` pairs and ``MAX_ITEMS``
  products are counted; past that, the pairs (or products) with the lowest counts are dropped
  (all those at the lowest count, then the next, until half the room is free). A dropped pair
  may come back with a lower count: rare pairs are undercounted, frequent ones are exact unless
  the base holds more than ``MAX_PAIRS`` pairs above the dropped counts.
- Counts of each scan segment are merged; a run that stops part-way keeps them in chunk items of
  at most ``ENTRIES_PER_CHUNK`` entries (``parts``) like the re-order interval histograms.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

BASKET_MAX = 20  # products of one order counted (190 pairs at most)
MAX_PAIRS = 300_000  # pairs counted at once (290,000 took 36 MiB at 1M orders, bench/replenish.py)
MAX_ITEMS = 50_000  # products counted at once
ENTRIES_PER_CHUNK = 20_000  # products + pairs per chunk item (~150 KB compressed at most)
NAME_CHARS = 80

# {"n": customers with a product, "i": {product: [buyers, name]}, "p": {a: {b: co-buyers}}} with
# a < b, and in memory "np": how many pairs "p" holds
Counts = dict[str, Any]


def empty() -> Counts:
    """Counts of nobody."""
    return {"n": 0, "i": {}, "p": {}, "np": 0}


def baskets(purchases: Mapping[str, Any]) -> list[list[str]]:
    """The products bought together in one order, as far as the ``purchases`` map tells: the
    products sharing a ``first_at`` or a ``last_at`` (each basket sorted, at most
    ``BASKET_MAX``; baskets of one product are left out)."""
    by_time: dict[str, set[str]] = {}
    for key, entry in purchases.items():
        if not key.startswith("p:") or not isinstance(entry, list) or len(entry) < 2:
            continue
        for at in {entry[0], entry[1]}:
            if isinstance(at, str):
                by_time.setdefault(at, set()).add(key[2:])
    return [sorted(b)[:BASKET_MAX] for _, b in sorted(by_time.items()) if len(b) > 1]


def add_profile(counts: Counts, doc: Mapping[str, Any]) -> None:
    """Count one customer: each product they bought once, each pair bought in one order once."""
    purchases = doc.get("purchases") or {}
    if not isinstance(purchases, Mapping):
        return
    items, pairs = counts["i"], counts["p"]
    bought = False
    for key, entry in purchases.items():
        if not key.startswith("p:") or not isinstance(entry, list):
            continue
        bought = True
        mine = items.get(key[2:])
        name = entry[3] if len(entry) > 3 and entry[3] else None
        if mine is None:
            items[key[2:]] = [1, str(name)[:NAME_CHARS] if name else None]
        else:
            mine[0] += 1
            mine[1] = mine[1] or (str(name)[:NAME_CHARS] if name else None)
    if not bought:
        return
    counts["n"] += 1
    seen: set[tuple[str, str]] = set()
    for basket in baskets(purchases):
        for i, a in enumerate(basket):
            for b in basket[i + 1 :]:
                seen.add((a, b))
    for a, b in seen:
        row = pairs.setdefault(a, {})
        had = row.get(b, 0)
        row[b] = had + 1
        counts["np"] += not had
    if len(items) > MAX_ITEMS:
        _prune_items(items)
    if counts["np"] > MAX_PAIRS:
        counts["np"] = prune_pairs(pairs, MAX_PAIRS // 2)


def _prune_items(items: dict[str, list[Any]]) -> None:
    floor = 1
    while len(items) > MAX_ITEMS // 2:
        for key in [k for k, v in items.items() if v[0] <= floor]:
            del items[key]
        floor += 1


def pair_count(pairs: Mapping[str, Mapping[str, int]]) -> int:
    """How many pairs ``pairs`` holds."""
    return sum(len(row) for row in pairs.values())


def prune_pairs(pairs: dict[str, dict[str, int]], keep: int) -> int:
    """Drop the pairs with the lowest counts (all of a count at once) until at most ``keep``
    are left; returns how many are left."""
    floor = 1
    total = pair_count(pairs)
    while total > keep:
        for a in list(pairs):
            row = pairs[a]
            for b in [b for b, n in row.items() if n <= floor]:
                del row[b]
                total -= 1
            if not row:
                del pairs[a]
        floor += 1
    return total


def merge_into(out: Counts, part: Mapping[str, Any]) -> Counts:
    """Add ``part`` (counts of a page, a segment or a saved chunk) to ``out``, bounded as
    above; returns ``out``."""
    out["n"] += int(part.get("n") or 0)
    items, pairs = out["i"], out["p"]
    for key, (buyers, name) in (part.get("i") or {}).items():
        mine = items.get(key)
        if mine is None:
            items[key] = [int(buyers), name]
        else:
            mine[0] += int(buyers)
            mine[1] = mine[1] or name
    for a, row in (part.get("p") or {}).items():
        target = pairs.setdefault(a, {})
        for b, n in row.items():
            had = target.get(b, 0)
            target[b] = had + int(n)
            out["np"] += not had
        if out["np"] > MAX_PAIRS:
            out["np"] = prune_pairs(pairs, MAX_PAIRS // 2)
    if len(items) > MAX_ITEMS:
        _prune_items(items)
    return out


def merge(parts: Iterable[Mapping[str, Any]]) -> Counts:
    """The sum of several counts (of scan segments, or of saved chunks), bounded as above."""
    out = empty()
    for part in parts:
        merge_into(out, part)
    return out


def parts(counts: Counts) -> list[Counts]:
    """``counts`` cut into pieces of at most ``ENTRIES_PER_CHUNK`` products and pairs (one chunk
    item each); ``merge`` of the pieces gives ``counts`` back."""
    out: list[Counts] = []
    piece: Counts = {"n": 0, "i": {}, "p": {}}
    size = 0

    def cut() -> None:
        nonlocal piece, size
        if size:
            out.append(piece)
        piece, size = {"n": 0, "i": {}, "p": {}}, 0

    for key in sorted(counts["i"]):
        piece["i"][key] = counts["i"][key]
        size += 1
        if size >= ENTRIES_PER_CHUNK:
            cut()
    for a in sorted(counts["p"]):
        for b, n in sorted(counts["p"][a].items()):
            piece["p"].setdefault(a, {})[b] = n
            size += 1
            if size >= ENTRIES_PER_CHUNK:
                cut()
    cut()
    if out:
        out[0]["n"] = counts["n"]
    elif counts["n"]:
        out.append({"n": counts["n"], "i": {}, "p": {}})
    return out


def fit(counts: Counts, top: int, min_customers: int) -> dict[str, list[dict[str, Any]]]:
    """Per product, its ``top`` companions: ``{"product_id", "name", "customers", "lift"}``,
    most co-buyers first (ties: higher lift, then product id); only pairs with at least
    ``min_customers`` co-buyers."""
    n = max(1, int(counts["n"]))
    items = counts["i"]
    found: dict[str, list[tuple[int, float, str]]] = {}
    for a, row in counts["p"].items():
        for b, support in row.items():
            if support < min_customers:
                continue
            buyers_a = items.get(a, [support])[0] or support
            buyers_b = items.get(b, [support])[0] or support
            lift = support * n / (buyers_a * buyers_b)
            found.setdefault(a, []).append((support, lift, b))
            found.setdefault(b, []).append((support, lift, a))
    out: dict[str, list[dict[str, Any]]] = {}
    for product in sorted(found):
        best = sorted(found[product], key=lambda c: (-c[0], -c[1], c[2]))[:top]
        out[product] = [
            {
                "product_id": other,
                **({"name": items[other][1]} if other in items and items[other][1] else {}),
                "customers": support,
                "lift": round(lift, 2) if math.isfinite(lift) else None,
            }
            for support, lift, other in best
        ]
    return out
