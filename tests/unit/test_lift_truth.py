"""The truth test: over 200 seeded shops whose true effect is known, the report's 95%
intervals cover it as often as they claim, and a trigger that does nothing is reported as
"no detectable lift". Reduced scale here (800 customers per trigger); `make bench` runs the
full scale and records the coverage in bench/results.json."""

from __future__ import annotations

from nudge.lift.truth import TRUTHS, coverage


def test_intervals_cover_the_true_uplift_over_200_seeded_shops():
    got = coverage(runs=200, customers=800)

    works, idle = (got["triggers"][t.trigger] for t in TRUTHS)
    assert works["true_rate_difference"] > 0 and works["true_revenue_difference"] > 0
    assert works["rate_coverage"] >= 0.93
    assert works["revenue_coverage"] >= 0.90
    assert idle["rate_coverage"] >= 0.93
    assert idle["revenue_coverage"] >= 0.90
    # no true uplift: "no detectable lift" in at least 95% of shops
    assert idle["true_rate_difference"] == 0.0
    assert idle["no_lift"] >= 0.95
    # and the test has teeth: a real uplift is detected in a fair share of the same shops
    assert works["no_lift"] < 0.9
