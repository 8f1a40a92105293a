"""The truth check: over many seeded synthetic shops whose true effect is known
(``nudge.sim.synthetic.lift_shop``), how often the report's 95% intervals cover the truth, and
how often a trigger with no true effect is reported as "no detectable lift". ``make test``
runs it at a reduced scale, ``make bench`` at full scale (bench/results.json)."""

from __future__ import annotations

from typing import Any

from nudge.lift.measure import NO_LIFT, LiftInput, lift_report
from nudge.sim.synthetic import TrueLift, lift_shop

# a trigger that works (rate and order value both rise) and one that does nothing
TRUTHS = (
    TrueLift(
        "cart_reminder", baseline=0.08, uplift=0.04, value=80.0, value_uplift=10.0, holdout=20
    ),
    TrueLift("browse_nudge", baseline=0.05, uplift=0.0, value=60.0, value_uplift=0.0, holdout=20),
)


def coverage(
    runs: int, customers: int, truths: tuple[TrueLift, ...] = TRUTHS, first_seed: int = 0
) -> dict[str, Any]:
    """Per trigger: the share of ``runs`` shops (``customers`` each per trigger, seeds
    ``first_seed``...) whose rate-difference interval covers the true difference
    (``rate_coverage``), whose revenue-per-customer interval covers it (``revenue_coverage``),
    and that were reported "no detectable lift" (``no_lift``)."""
    hits = {t.trigger: {"rate": 0, "revenue": 0, "no_lift": 0} for t in truths}
    for seed in range(first_seed, first_seed + runs):
        shop = lift_shop(list(truths), customers, seed)
        report = lift_report(
            LiftInput(shop["decisions"], shop["conversions"], shop["holdout"]), with_funnel=False
        )
        rows = {row["id"]: row for row in report["rows"]}
        for truth in truths:
            row = rows[truth.trigger]
            rate = row["lift"]["rate_difference"]
            rev = row["lift"]["revenue_per_customer_difference"]
            tally = hits[truth.trigger]
            tally["rate"] += rate["low"] <= truth.rate_difference <= rate["high"]
            tally["revenue"] += rev["low"] <= truth.revenue_difference <= rev["high"]
            tally["no_lift"] += row["verdict"] == NO_LIFT
    return {
        "runs": runs,
        "customers_per_trigger": customers,
        "triggers": {
            t.trigger: {
                "true_rate_difference": t.rate_difference,
                "true_revenue_difference": round(t.revenue_difference, 4),
                "rate_coverage": hits[t.trigger]["rate"] / runs,
                "revenue_coverage": hits[t.trigger]["revenue"] / runs,
                "no_lift": hits[t.trigger]["no_lift"] / runs,
            }
            for t in truths
        },
    }
