"""Predicted customer lifetime value over a horizon: BG/NBD orders x Gamma-Gamma order value.

``pltv = sum over months k of E[orders in month k] x E[order value] / (1 + d)^k``

with ``d`` the monthly discount rate (default 0: an undiscounted 12-month forecast, which is what
marketers compare with last year's spend). A discount rate turns it into a present value: finance
teams use their cost of capital, e.g. ``0.01`` a month for ~12.7 % a year. Expected orders come from
BG/NBD (so a customer who has probably lapsed contributes little) and each order is worth the
Gamma-Gamma expected average value (customers with no repeat order get the population mean).
Revenue, not margin: multiply by a margin yourself if you want profit.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from nudge.scoring._arrays import FloatArray, unique_rows
from nudge.scoring.bgnbd import BgNbdParams, check_summary, expected_purchases_if_alive, p_alive
from nudge.scoring.gammagamma import GammaGammaParams, conditional_expected_average_value

DAYS_PER_MONTH = 365.25 / 12


def pltv(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    m: ArrayLike,
    *,
    months: int = 12,
    days_per_unit: float = 1.0,
    monthly_discount_rate: float = 0.0,
) -> FloatArray:
    """Expected value of each customer's orders over the next ``months`` months.

    ``x, t_x, T`` as for BG/NBD and ``m`` the mean repeat-order value (ignored when ``x = 0``), in
    the time unit the models were fitted in; ``days_per_unit`` says what that unit is (1 for
    days, 7 for weeks as in CDNOW). Months are 365.25/12 days.
    """
    if months < 1:
        raise ValueError("months must be >= 1")
    if days_per_unit <= 0 or monthly_discount_rate < 0:
        raise ValueError("days_per_unit must be > 0 and monthly_discount_rate >= 0")
    xs, txs, Ts = check_summary(x, t_x, T)
    value = conditional_expected_average_value(gamma_gamma, xs, m)
    alive = p_alive(bgnbd, xs, txs, Ts)
    # E[orders | alive] depends on (x, T) only: compute it once per distinct pair.
    (ux, uT), inverse, _ = unique_rows(xs, Ts)
    month = DAYS_PER_MONTH / days_per_unit
    if monthly_discount_rate == 0.0:
        orders = expected_purchases_if_alive(bgnbd, np.full_like(ux, months * month), ux, uT)
    else:
        orders = np.zeros_like(ux)
        previous = np.zeros_like(ux)
        for k in range(1, months + 1):
            cumulative = expected_purchases_if_alive(bgnbd, np.full_like(ux, k * month), ux, uT)
            orders += (cumulative - previous) / (1.0 + monthly_discount_rate) ** k
            previous = cumulative
    return np.asarray(orders[inverse] * alive * value, dtype=np.float64)
