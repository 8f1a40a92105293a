"""pLTV: expected orders over the horizon times expected order value, optionally discounted."""

from __future__ import annotations

import numpy as np
import pytest

from nudge.scoring.bgnbd import BgNbdParams, conditional_expected_purchases
from nudge.scoring.gammagamma import GammaGammaParams, conditional_expected_average_value
from nudge.scoring.pltv import DAYS_PER_MONTH, pltv

WEEKS = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
DAYS = BgNbdParams(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)
VALUE = GammaGammaParams(p=6.25, q=3.74, v=15.44)
X, T_X, T, M = (
    np.array([0.0, 2, 5, 1]),
    np.array([0.0, 30.43, 20, 3]),
    np.array([38.86, 38.86, 38, 10]),
    np.array([0.0, 22.35, 40, 10]),
)


def test_undiscounted_pltv_is_expected_orders_times_expected_value() -> None:
    horizon_weeks = 12 * DAYS_PER_MONTH / 7
    orders = conditional_expected_purchases(WEEKS, horizon_weeks, X, T_X, T)
    value = conditional_expected_average_value(VALUE, X, M)
    got = pltv(WEEKS, VALUE, X, T_X, T, M, months=12, days_per_unit=7)
    np.testing.assert_allclose(got, orders * value, rtol=1e-12)


def test_the_time_unit_does_not_change_the_answer() -> None:
    in_weeks = pltv(WEEKS, VALUE, X, T_X, T, M, days_per_unit=7)
    in_days = pltv(DAYS, VALUE, X, T_X * 7, T * 7, M, days_per_unit=1)
    np.testing.assert_allclose(in_days, in_weeks, rtol=1e-9)


def test_discounting_lowers_value_and_zero_rate_changes_nothing() -> None:
    plain = pltv(WEEKS, VALUE, X, T_X, T, M, days_per_unit=7)
    tiny = pltv(WEEKS, VALUE, X, T_X, T, M, days_per_unit=7, monthly_discount_rate=1e-12)
    discounted = pltv(WEEKS, VALUE, X, T_X, T, M, days_per_unit=7, monthly_discount_rate=0.01)
    np.testing.assert_allclose(tiny, plain, rtol=1e-9)
    assert np.all(discounted < plain)
    # a year at 1% a month discounts by between 1/1.01 and 1/1.01^12
    assert np.all(discounted > plain / 1.01**12) and np.all(discounted < plain / 1.01)


def test_longer_horizons_are_worth_more() -> None:
    six = pltv(WEEKS, VALUE, X, T_X, T, M, months=6, days_per_unit=7)
    twelve = pltv(WEEKS, VALUE, X, T_X, T, M, months=12, days_per_unit=7)
    assert np.all(six < twelve)


def test_a_lapsed_customer_is_worth_less_than_an_active_one() -> None:
    # same history, but one has been silent for a year since
    values = pltv(WEEKS, VALUE, [4, 4], [30.0, 30.0], [32.0, 84.0], [30.0, 30.0], days_per_unit=7)
    assert values[1] < 0.5 * values[0]


@pytest.mark.parametrize(
    "kwargs", [{"months": 0}, {"days_per_unit": 0}, {"monthly_discount_rate": -0.1}]
)
def test_bad_settings_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        pltv(WEEKS, VALUE, X, T_X, T, M, **kwargs)
