"""Replenishment benchmark: 1,000,000 orders (fixed seed) through the replenishment model.

200,000 customers buy from 1,000 products in 50 categories, each product with its own re-order
rhythm (10 to 90 days) and each customer with their own jitter around it; 1M orders in all.
Measured, each the best of a few runs on a shared machine:

- ``record``: every order counted into its customer's ``purchases`` map (what ingest adds per
  order), in microseconds per order;
- ``gather``: the daily recompute's gather step on every profile (``add_profile``) and the
  merge and median fit of the histograms: seconds for the whole base;
- ``due``: the score pass's dry run (``due_reminders``) on every profile, microseconds each;
- the histogram chunk's compressed size (it must fit a 400 KB DynamoDB item), and how far the
  fitted intervals are from the rhythms the data was drawn from;
- ``together``: frequently bought together at the same scale, on its own 1M orders of 1 to 4
  products (each product has 3 planted companions, bought with it in 40% of orders, plus random
  noise): the gather step (``nudge.scoring.together.add_profile`` on every profile, 4 segments
  merged) and the fit, in seconds, the peak memory they allocate (tracemalloc, in a run of its
  own), how often the pair bound pruned, the counts' chunk sizes, and how many products' first
  companion is a planted pair (either way round).

Run alone with ``python -m bench.replenish``.
"""

from __future__ import annotations

import json
import random
import statistics
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench.scoring import _best_of

N_ORDERS = 1_000_000
N_CUSTOMERS = 200_000
N_PRODUCTS = 1_000
N_CATEGORIES = 50
SEED = 20270330
START = datetime(2026, 1, 1, tzinfo=UTC)


def _orders() -> tuple[list[tuple[int, str, dict[str, Any]]], dict[str, float]]:
    """``(customer, time, properties)`` of 1M orders in time order, and each product's rhythm."""
    rng = random.Random(SEED)
    rhythm = {f"sku{p}": rng.uniform(10, 90) for p in range(N_PRODUCTS)}
    out: list[tuple[int, str, dict[str, Any]]] = []
    per_customer = N_ORDERS // N_CUSTOMERS
    for c in range(N_CUSTOMERS):
        product = f"sku{rng.randrange(N_PRODUCTS)}"
        item = {"product_id": product, "category": f"cat{int(product[3:]) % N_CATEGORIES}"}
        at = START + timedelta(days=rng.uniform(0, 60))
        for n in range(per_customer):
            props = {"order_id": f"{c}-{n}", "value": 20.0, "items": [item]}
            out.append((c, at.strftime("%Y-%m-%dT%H:%M:%SZ"), props))
            at += timedelta(days=rhythm[product] * rng.uniform(0.8, 1.2))
    out.sort(key=lambda o: o[1])
    return out, rhythm


def run() -> dict[str, Any]:
    """The replenishment model at 1M orders."""
    from nudge.core.replenish import due_reminders, record_purchases
    from nudge.scoring.replenish import add_profile, fit_intervals, merge, parts

    orders, rhythm = _orders()
    profiles: list[dict[str, Any]] = [{} for _ in range(N_CUSTOMERS)]

    def record() -> None:
        for profile in profiles:
            profile.clear()
        for customer, at, props in orders:
            record_purchases(profiles[customer], props, at)

    record_s = _best_of(2, record)
    intervals: dict[str, float] = {}

    def gather() -> None:
        nonlocal intervals
        parts: list[dict[str, dict[str, int]]] = [{} for _ in range(4)]  # 4 scan segments
        for i, profile in enumerate(profiles):
            add_profile(parts[i % 4], profile)
        intervals = fit_intervals(merge(parts), min_buyers=5)

    gather_s = _best_of(3, gather)
    hist: dict[str, dict[str, int]] = {}
    for profile in profiles:
        add_profile(hist, profile)
    chunks = [zlib.compress(json.dumps(p, separators=(",", ":")).encode()) for p in parts(hist)]
    now = datetime(2026, 12, 1, 8, tzinfo=UTC)
    zone = ZoneInfo("America/New_York")
    found = 0

    def due() -> None:
        nonlocal found
        found = 0
        for profile in profiles:
            found += len(
                due_reminders(
                    profile,
                    intervals,
                    default_days=30.0,
                    lead_days=3.0,
                    by="product",
                    now=now,
                    zone=zone,
                )
            )

    due_s = _best_of(2, due)
    errors = [
        abs(intervals[f"p:{sku}"] - days) / days
        for sku, days in rhythm.items()
        if f"p:{sku}" in intervals
    ]
    return {
        "replenish_orders": len(orders),
        "replenish_record_us_per_order": round(record_s / len(orders) * 1e6, 2),
        "replenish_gather_fit_s_1m_orders": {
            "value": round(gather_s, 2),
            "target": 60.0,
            "op": "<",
        },
        "replenish_due_us_per_profile": round(due_s / N_CUSTOMERS * 1e6, 2),
        "replenish_hist_chunks": len(chunks),
        "replenish_hist_largest_chunk_kb": {
            "value": round(max(len(c) for c in chunks) / 1024, 1),
            "target": 400.0,
            "op": "<",
        },
        "replenish_products_fitted": len([k for k in intervals if k.startswith("p:")]),
        "replenish_interval_median_rel_error": round(statistics.median(errors), 4),
        "replenish_reminders_due_today": found,
        **run_together(),
    }


def _basket_orders() -> tuple[list[tuple[int, str, dict[str, Any]]], dict[str, set[str]]]:
    """1M orders of 1 to 4 products: each customer's own product, often with one of its 3
    planted companions, sometimes with a random product; and the planted companions."""
    rng = random.Random(SEED + 1)
    companions = {
        f"sku{p}": {f"sku{rng.randrange(N_PRODUCTS)}" for _ in range(3)} - {f"sku{p}"}
        for p in range(N_PRODUCTS)
    }
    out: list[tuple[int, str, dict[str, Any]]] = []
    per_customer = N_ORDERS // N_CUSTOMERS
    for c in range(N_CUSTOMERS):
        own = f"sku{rng.randrange(N_PRODUCTS)}"
        at = START + timedelta(days=rng.uniform(0, 60))
        for _n in range(per_customer):
            basket = {own}
            if rng.random() < 0.4:
                basket.add(rng.choice(sorted(companions[own])))
            while rng.random() < 0.3 and len(basket) < 4:
                basket.add(f"sku{rng.randrange(N_PRODUCTS)}")
            items = [{"product_id": p, "name": p.upper()} for p in sorted(basket)]
            out.append((c, at.strftime("%Y-%m-%dT%H:%M:%SZ"), {"items": items}))
            at += timedelta(days=rng.uniform(10, 40))
    out.sort(key=lambda o: o[1])
    return out, companions


def run_together() -> dict[str, Any]:
    """Frequently bought together at 1M orders (see the module's docstring)."""
    import tracemalloc

    from nudge.core.replenish import record_purchases
    from nudge.scoring import together

    orders, planted = _basket_orders()
    profiles: list[dict[str, Any]] = [{} for _ in range(N_CUSTOMERS)]
    for customer, at, props in orders:
        record_purchases(profiles[customer], props, at)
    counts: dict[str, Any] = {}

    def gather() -> None:
        nonlocal counts
        segments = [together.empty() for _ in range(4)]
        for i, profile in enumerate(profiles):
            together.add_profile(segments[i % 4], profile)
        counts = together.merge(segments)

    prunes = 0
    prune = together.prune_pairs

    def counted_prune(pairs: dict[str, dict[str, int]], keep: int) -> int:
        nonlocal prunes
        prunes += 1
        return prune(pairs, keep)

    together.prune_pairs = counted_prune  # type: ignore[assignment]
    try:
        gather_s = _best_of(2, gather)
    finally:
        together.prune_pairs = prune  # type: ignore[assignment]
    lists: dict[str, Any] = {}

    def fit() -> None:
        nonlocal lists
        lists = together.fit(counts, top=5, min_customers=3)

    fit_s = _best_of(2, fit)
    counts = {}
    tracemalloc.start()
    gather()
    fit()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    chunks = [
        zlib.compress(json.dumps(p, separators=(",", ":")).encode()) for p in together.parts(counts)
    ]
    stored = [json.dumps(v, separators=(",", ":")) for v in lists.values()]
    # a product's first companion is planted either way: p's companion, or p one of its own
    hits = sum(
        1
        for p, cs in lists.items()
        if cs and (cs[0]["product_id"] in planted[p] or p in planted[cs[0]["product_id"]])
    )
    return {
        "together_orders": len(orders),
        "together_gather_s_1m_orders": {"value": round(gather_s, 2), "target": 60.0, "op": "<"},
        "together_fit_s": round(fit_s, 2),
        "together_peak_mib": round(peak / 2**20, 1),
        "together_pairs_counted": counts["np"],
        "together_prunes_per_gather": prunes // 2,
        "together_chunks": len(chunks),
        "together_largest_chunk_kb": {
            "value": round(max(len(c) for c in chunks) / 1024, 1),
            "target": 400.0,
            "op": "<",
        },
        "together_products_with_list": len(lists),
        "together_largest_list_bytes": max(len(s) for s in stored),
        "together_first_is_planted": round(hits / max(1, len(lists)), 3),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
