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
  fitted intervals are from the rhythms the data was drawn from.

Run alone with ``python -m bench.replenish``.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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


def _best(repeats: int, work: Any) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


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

    record_s = _best(2, record)
    intervals: dict[str, float] = {}

    def gather() -> None:
        nonlocal intervals
        parts: list[dict[str, dict[str, int]]] = [{} for _ in range(4)]  # 4 scan segments
        for i, profile in enumerate(profiles):
            add_profile(parts[i % 4], profile)
        intervals = fit_intervals(merge(parts), min_buyers=5)

    gather_s = _best(3, gather)
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

    due_s = _best(2, due)
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
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
