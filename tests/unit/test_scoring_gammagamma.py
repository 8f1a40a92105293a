"""Gamma-Gamma: the fit finds the truth, the likelihood is the real density, predictions shrink."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from nudge.scoring.gammagamma import (
    GammaGammaParams,
    conditional_expected_average_value,
    fit_gamma_gamma,
    log_likelihood,
)
from nudge.scoring.synthetic import TRUE_GAMMA_GAMMA, synthetic_customers

CDNOW = GammaGammaParams(p=6.25, q=3.74, v=15.44)


def test_fit_recovers_the_parameters_values_were_drawn_from() -> None:
    data = synthetic_customers(200_000, seed=5)
    repeat = data["x"] > 0
    fit = fit_gamma_gamma(data["x"][repeat], data["m"][repeat])
    assert fit.converged
    assert fit.params.p == pytest.approx(TRUE_GAMMA_GAMMA.p, rel=0.05)
    assert fit.params.q == pytest.approx(TRUE_GAMMA_GAMMA.q, rel=0.08)
    assert fit.params.v == pytest.approx(TRUE_GAMMA_GAMMA.v, rel=0.1)
    assert fit.log_likelihood == pytest.approx(
        log_likelihood(fit.params, data["x"][repeat], data["m"][repeat]), rel=1e-9
    )


def test_log_likelihood_is_the_density_of_the_mean_order_value() -> None:
    # Integrate the model's story directly: mean of x Gamma(p, nu) values, nu ~ Gamma(q, v)
    p, q, v, x, m = CDNOW.p, CDNOW.q, CDNOW.v, 3, 22.0

    def joint(nu: float) -> float:
        mean_density = stats.gamma.pdf(m, a=p * x, scale=1 / (nu * x))
        return float(mean_density * stats.gamma.pdf(nu, a=q, scale=1 / v))

    density, _ = integrate.quad(joint, 0, np.inf, limit=200)
    assert log_likelihood(CDNOW, [x], [m]) == pytest.approx(np.log(density), rel=1e-9)


@settings(deadline=None)
@given(x=st.integers(1, 200), m=st.floats(0.01, 10_000.0))
def test_expected_value_lies_between_the_population_mean_and_the_customers_own(
    x: int, m: float
) -> None:
    population = CDNOW.p * CDNOW.v / (CDNOW.q - 1)
    expected = conditional_expected_average_value(CDNOW, [x], [m])[0]
    low, high = min(population, m), max(population, m)
    assert low - 1e-9 <= expected <= high + 1e-9


def test_customers_without_repeat_orders_get_the_population_mean() -> None:
    population = CDNOW.p * CDNOW.v / (CDNOW.q - 1)
    values = conditional_expected_average_value(CDNOW, [0, 0], [0.0, 999.0])
    np.testing.assert_allclose(values, population)


def test_more_orders_pull_the_estimate_towards_the_customers_own_mean() -> None:
    values = conditional_expected_average_value(CDNOW, [1, 5, 50], [200.0, 200.0, 200.0])
    assert values[0] < values[1] < values[2] < 200.0


def test_infinite_population_mean_is_refused() -> None:
    with pytest.raises(ValueError, match="q"):
        conditional_expected_average_value(GammaGammaParams(p=2, q=0.9, v=10), [1], [5.0])


def test_one_time_buyers_are_refused_by_the_fit() -> None:
    with pytest.raises(ValueError, match="repeat buyers"):
        fit_gamma_gamma([0, 2], [0.0, 10.0])
    with pytest.raises(ValueError, match="> 0"):
        fit_gamma_gamma([1, 2], [0.0, 10.0])
