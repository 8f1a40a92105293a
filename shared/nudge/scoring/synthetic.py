"""Synthetic customers drawn from the BG/NBD and Gamma-Gamma stories, for benchmarks and tests.

Knowing the true parameters lets a test check that the fits recover them, and lets the benchmark
score a million customers without real data.
"""

from __future__ import annotations

import numpy as np

from nudge.scoring._arrays import FloatArray
from nudge.scoring.bgnbd import BgNbdParams
from nudge.scoring.gammagamma import GammaGammaParams

# CDNOW's parameters with time in days instead of weeks (alpha 4.4 weeks ~ 30 days).
TRUE_BGNBD = BgNbdParams(r=0.25, alpha=30.0, a=0.8, b=2.4)
TRUE_GAMMA_GAMMA = GammaGammaParams(p=6.25, q=3.74, v=15.44)


def synthetic_customers(
    n: int,
    seed: int = 0,
    *,
    max_age_days: int = 730,
    bgnbd: BgNbdParams = TRUE_BGNBD,
    gamma_gamma: GammaGammaParams = TRUE_GAMMA_GAMMA,
) -> dict[str, FloatArray]:
    """``n`` customers as a daily export would summarise them (whole days).

    Each buys at a rate ``Gamma(r, alpha)`` and may drop out right after each repeat order with
    a chance ``Beta(a, b)``; the first order was 1 to ``max_age_days`` days ago. Order values are
    ``Gamma(p, nu)`` with ``nu ~ Gamma(q, v)``. Returns ``x``, ``t_x``, ``T`` (days), ``m`` (mean
    repeat-order value, 0 without repeats) and ``first_value`` (the first order's value).
    """
    rng = np.random.default_rng(seed)
    T = rng.integers(1, max_age_days + 1, n).astype(np.float64)
    rate = rng.gamma(bgnbd.r, 1.0 / bgnbd.alpha, n)
    dropout = rng.beta(bgnbd.a, bgnbd.b, n)
    orders_before_dropout = rng.geometric(dropout)  # the last order before dropping out
    orders_in_window = rng.poisson(rate * T)
    x = np.minimum(orders_before_dropout, orders_in_window).astype(np.float64)
    # The x-th of k uniform order times in (0, T) is T * Beta(x, k - x + 1).
    repeat = x > 0
    t_x = np.zeros(n)
    t_x[repeat] = np.ceil(
        T[repeat] * rng.beta(x[repeat], orders_in_window[repeat] - x[repeat] + 1.0)
    )
    t_x = np.minimum(t_x, T)
    nu = rng.gamma(gamma_gamma.q, 1.0 / gamma_gamma.v, n)
    p = gamma_gamma.p
    first_value = np.maximum(np.round(rng.gamma(p, 1.0 / nu), 2), 0.01)
    mean_value = np.zeros(n)
    # The mean of x Gamma(p, nu) values is Gamma(p x, nu x).
    mean_value[repeat] = np.maximum(
        np.round(rng.gamma(p * x[repeat], 1.0 / (nu[repeat] * x[repeat])), 2), 0.01
    )
    return {"x": x, "t_x": t_x, "T": T, "m": mean_value, "first_value": first_value}
