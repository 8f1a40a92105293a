"""The predicted next order date: the moment the chance of another order reaches 50% under the
fitted BG/NBD model, checked against the model's own story on CDNOW-like data; churn-risk bands
from p_alive."""

from __future__ import annotations

import numpy as np
import pytest

from nudge.scoring.bgnbd import (
    BgNbdParams,
    fit_bgnbd,
    p_alive,
    probability_of_purchase_by,
    time_to_purchase_probability,
)
from nudge.scoring.recompute import NEXT_ORDER_HORIZON_DAYS, churn_band, fit_base, score_rows
from nudge.scoring.synthetic import synthetic_customers


@pytest.fixture(scope="module")
def fitted() -> tuple[BgNbdParams, dict]:
    data = synthetic_customers(20_000, seed=20270330)  # CDNOW's parameters, in days
    return fit_bgnbd(data["x"], data["t_x"], data["T"]).params, data


def test_at_the_predicted_time_the_chance_of_another_order_is_one_half(fitted):
    params, data = fitted
    x, t_x, T = data["x"][:2000], data["t_x"][:2000], data["T"][:2000]
    wait = time_to_purchase_probability(params, 0.5, x, t_x, T)
    alive = p_alive(params, x, t_x, T)
    reach = np.isfinite(wait)
    assert reach.any() and (~reach).any()
    assert np.all(alive[~reach] <= 0.5)  # never likely to order again: no date
    chance = probability_of_purchase_by(params, wait[reach], x[reach], t_x[reach], T[reach])
    assert np.allclose(chance, 0.5, atol=1e-9)
    # later is likelier: the chance grows with t, towards P(alive)
    later = probability_of_purchase_by(params, wait[reach] * 2, x[reach], t_x[reach], T[reach])
    assert np.all(later > 0.5) and np.all(later < alive[reach] + 1e-12)


def test_the_median_wait_matches_customers_simulated_from_the_model(fitted):
    # Simulate the BG/NBD story itself with the fitted parameters and keep the customers whose
    # history is (x = 1, last order on day 180, T = 200): half of them must order again within
    # the predicted wait, and none of this uses the closed form
    params, _ = fitted
    rng = np.random.default_rng(7)
    n = 3_000_000
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    first = rng.exponential(1.0 / rate)
    died = rng.random(n) < dropout
    second = first + rng.exponential(1.0 / rate)
    kept = (first >= 180.0) & (first < 181.0) & (died | (second > 200.0))
    assert kept.sum() > 1500
    wait = time_to_purchase_probability(params, 0.5, [1.0], [180.5], [200.0])[0]
    ordered = ~died[kept] & (second[kept] <= 200.0 + wait)
    assert abs(ordered.mean() - 0.5) < 0.03
    # and a customer with no repeat order yet, 100 days after the first
    none_yet = rng.exponential(1.0 / rate) > 100.0
    wait0 = time_to_purchase_probability(params, 0.5, [0.0], [0.0], [100.0])[0]
    again = 100.0 + rng.exponential(1.0 / rate[none_yet])  # memoryless, and alive for sure
    assert abs((again <= 100.0 + wait0).mean() - 0.5) < 0.01


def test_score_rows_put_the_date_and_the_churn_band_on_each_customer(fitted):
    _, data = fitted
    rows = [
        (x, tx, T, 20.0, T - tx, x + 1, 20.0 * (x + 1))
        for x, tx, T in zip(data["x"][:3000], data["t_x"][:3000], data["T"][:3000], strict=True)
    ]
    model = fit_base(rows)
    model["as_of"] = "2027-03-01T08:00:00Z"
    params = BgNbdParams(**{k: model["bgnbd"][k] for k in ("r", "alpha", "a", "b")})
    scores = score_rows(model, rows[:200], churn_cuts=(0.2, 0.6))
    for row, got in zip(rows[:200], scores, strict=True):
        wait = time_to_purchase_probability(params, 0.5, [row[0]], [row[1]], [row[2]])[0]
        if wait <= NEXT_ORDER_HORIZON_DAYS:
            expected = np.datetime64("2027-03-01T08:00:00") + np.timedelta64(int(wait * 86400), "s")
            got_at = np.datetime64(got["next_order_expected_at"].rstrip("Z"))
            assert abs((got_at - expected) / np.timedelta64(1, "s")) < 60
        else:  # never as likely as not, or more than ten years away: no date
            assert got["next_order_expected_at"] is None
        assert got["churn_risk"] == churn_band(got["p_alive"], (0.2, 0.6))
    assert {s["churn_risk"] for s in scores} == {"high", "medium", "low"}
    dated = [s for s in scores if s["next_order_expected_at"]]
    assert 0 < len(dated) < len(scores)


def test_churn_bands_follow_the_cut_points():
    assert [churn_band(p) for p in (0.05, 0.3, 0.69, 0.7, 1.0, None)] == [
        "high",
        "medium",
        "medium",
        "low",
        "low",
        None,
    ]
