"""The recompute's numeric half and the profile summary it starts from: RFM cut points that score
a page like the whole base, the same-drop-out limit of BG/NBD, fits that know when to abstain."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nudge.core.clock import parse_time
from nudge.flows.score import apply_scores, summary
from nudge.scoring.bgnbd import BgNbdParams, expected_purchases_if_alive
from nudge.scoring.recompute import COLUMNS, fit_base, score_rows
from nudge.scoring.rfm import quintile_scores, score_cuts, scores_from_cuts
from nudge.scoring.synthetic import TRUE_BGNBD, synthetic_customers

values = st.lists(st.integers(0, 30) | st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=300)


@settings(deadline=None)
@given(values, st.booleans())
def test_cut_points_score_every_value_of_the_base_as_its_quintile(data, higher) -> None:
    array = np.array(data, dtype=float)
    cuts = score_cuts(array, higher_is_better=higher)
    np.testing.assert_array_equal(
        scores_from_cuts(array, cuts, higher_is_better=higher),
        quintile_scores(array, higher_is_better=higher),
    )


def test_values_between_and_beyond_the_base_fall_where_they_belong() -> None:
    cuts = score_cuts(np.arange(10.0))  # scores 1,1,2,2,3,3,4,4,5,5
    assert scores_from_cuts([-5.0, 1.5, 4.5, 100.0], cuts).tolist() == [1, 1, 3, 5]
    days = score_cuts(np.arange(10.0), higher_is_better=False)  # fewer days score higher
    assert scores_from_cuts([0.0, 9.0, 500.0], days, higher_is_better=False).tolist() == [5, 1, 1]


def test_a_score_nobody_reached_has_no_cut_point() -> None:
    cuts = score_cuts([1.0] * 7 + [2.0, 3.0, 4.0])  # the big tie scores 2: nobody gets 1
    assert scores_from_cuts([1.0], cuts).tolist() == [2]


@pytest.mark.parametrize("total", [1e4, 1e5, 1e8])
def test_expected_orders_stay_finite_when_a_and_b_run_off_together(total: float) -> None:
    # small bases often fit a, b -> infinity with a/(a+b) fixed, where hyp2f1 returns NaN
    p = 0.3
    params = BgNbdParams(r=1.1, alpha=72.0, a=p * total, b=(1 - p) * total)
    t, x, T = np.full(4, 90.0), np.array([0.0, 1, 4, 10]), np.array([100.0, 400, 600, 650])
    got = expected_purchases_if_alive(params, t, x, T)
    limit = (1 - ((72.0 + T) / (72.0 + T + p * t)) ** (1.1 + x)) / p
    np.testing.assert_allclose(got, limit, rtol=1e-12)
    # and the exact formula just below the switch agrees with the limit to 0.05 %
    below = BgNbdParams(r=1.1, alpha=72.0, a=p * 9999, b=(1 - p) * 9999)
    np.testing.assert_allclose(
        expected_purchases_if_alive(below, t[1:], x[1:], T[1:]), limit[1:], rtol=5e-4
    )


def _rows(n: int, seed: int) -> np.ndarray:
    data = synthetic_customers(n, seed)
    x, t_x, T, m = data["x"], data["t_x"], data["T"], data["m"]
    monetary = data["first_value"] + x * m
    return np.column_stack([x, t_x, T, m, T - t_x, x + 1, monetary])


def test_a_base_fits_and_scores_with_the_models_numbers() -> None:
    rows = _rows(5000, seed=3)
    model = fit_base(rows)

    assert model["n_customers"] == 5000 and not model["notes"]
    assert model["bgnbd"]["r"] == pytest.approx(TRUE_BGNBD.r, rel=0.3)
    assert model["gamma_gamma"]["q"] > 1
    scored = score_rows(model, rows[:100])
    assert len(scored) == 100
    for s in scored:
        assert set(s) == {
            "rfm",
            "p_alive",
            "churn_risk",
            "expected_orders_90d",
            "next_order_expected_at",
            "pltv",
        }
        assert 0 <= s["p_alive"] <= 1 and s["expected_orders_90d"] >= 0 and s["pltv"] >= 0
    # a page scores exactly as the whole base would: the cut points carry the quintiles
    whole = score_rows(model, rows)
    assert [s["rfm"] for s in whole[:100]] == [s["rfm"] for s in scored]


def test_too_few_repeat_buyers_fit_nothing_but_rfm_still_scores() -> None:
    rows = _rows(200, seed=4)
    rows[:, 0] = np.where(np.arange(200) < 19, rows[:, 0].clip(1), 0)  # 19 repeat buyers
    rows[:, 1] = np.where(rows[:, 0] > 0, rows[:, 1], 0)
    model = fit_base(rows)

    assert model["bgnbd"] is None and model["gamma_gamma"] is None
    assert "19 repeat buyers" in model["notes"][0]
    scored = score_rows(model, rows[:3])
    assert all(s["p_alive"] is s["pltv"] is s["expected_orders_90d"] is None for s in scored)
    assert all(1 <= s["rfm"]["r"] <= 5 for s in scored)


AS_OF = parse_time("2027-03-01T08:00:00Z")


def _order(order_id: str, at: str, value: float, **extra) -> dict:
    return {"order_id": order_id, "at": at, "value": value, **extra}


def test_the_summary_counts_live_orders_in_whole_days() -> None:
    profile = {
        "orders_count": 3,
        "lifetime_value": 230.0,
        "orders": [
            _order("a", "2027-01-01T12:00:00Z", 100.0),
            _order("b", "2027-01-31T18:00:00Z", 80.0, refunded=30.0),
            _order("c", "2027-02-10T09:00:00Z", 120.0, refunded=120.0, void=True),
            _order("d", "2027-02-20T09:00:00Z", 80.0),
        ],
    }
    assert len(COLUMNS) == 7
    # x, t_x, T, m, recency, frequency, monetary: the void order is gone, the partial refund
    # lowers its order's value, times are whole days
    assert summary(profile, AS_OF) == (2.0, 49.0, 58.0, 65.0, 8.0, 3.0, 230.0)


def test_no_live_order_no_summary_and_a_first_order_today_is_a_day_old() -> None:
    assert summary({"orders": [_order("a", "2027-01-01T12:00:00Z", 9.0, void=True)]}, AS_OF) is None
    today = {
        "orders_count": 1,
        "lifetime_value": 9.0,
        "orders": [_order("a", "2027-03-01T07:00:00Z", 9.0)],
    }
    assert summary(today, AS_OF) == (0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 9.0)


def test_scores_are_rewritten_only_when_one_moved_enough_and_then_all_together() -> None:
    rfm = {"r": 3, "f": 2, "m": 4, "segment": "Need Attention"}
    soon, later = "2027-04-01T08:00:00Z", "2027-04-05T08:00:00Z"
    stored = {
        "rfm": rfm,
        "p_alive": 0.5,
        "churn_risk": "medium",
        "expected_orders_90d": 0.4,
        "next_order_expected_at": soon,
        "pltv": 200.0,
    }
    profile = dict(stored)
    small = {**stored, "p_alive": 0.51, "expected_orders_90d": 0.41, "pltv": 205.0}
    small["next_order_expected_at"] = later  # 4 days later: under a week, not worth a write
    assert apply_scores(profile, small, "2027-03-02T08:00:00Z") is False
    assert profile == stored
    a_week_later = {**small, "next_order_expected_at": "2027-04-08T08:00:00Z"}
    assert apply_scores(dict(stored), a_week_later, "2027-03-02T08:00:00Z") is True
    assert apply_scores(dict(stored), {**small, "churn_risk": "high"}, "x") is True

    moved = {**small, "pltv": 211.0}  # more than 5 %
    assert apply_scores(profile, moved, "2027-03-02T08:00:00Z") is True
    assert profile == {**moved, "scored_at": "2027-03-02T08:00:00Z"}
    assert apply_scores(profile, None, "x") is True  # no live order any more: scores go
    assert profile["rfm"] is None and profile["pltv"] is None
