"""BG/NBD: the fit finds the truth, the gradient is right, predictions behave."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import hyp2f1

from nudge.scoring.bgnbd import (
    BgNbdParams,
    _Likelihood,
    conditional_expected_purchases,
    fit_bgnbd,
    log_likelihood,
    p_alive,
)
from nudge.scoring.synthetic import TRUE_BGNBD, synthetic_customers

CDNOW = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


@pytest.fixture(scope="module")
def customers() -> dict[str, np.ndarray]:
    return synthetic_customers(200_000, seed=11)


def test_fit_recovers_the_parameters_customers_were_drawn_from(customers) -> None:
    fit = fit_bgnbd(customers["x"], customers["t_x"], customers["T"])
    assert fit.converged
    truth = TRUE_BGNBD
    assert fit.params.r == pytest.approx(truth.r, rel=0.05)
    assert fit.params.alpha == pytest.approx(truth.alpha, rel=0.08)
    assert fit.params.a == pytest.approx(truth.a, rel=0.1)
    assert fit.params.b == pytest.approx(truth.b, rel=0.1)
    # Fitting on the unique rows with weights is what keeps a million customers fast.
    assert fit.n_rows < 0.5 * fit.n_customers


def test_weights_are_the_same_as_repeating_rows(customers) -> None:
    x, t_x, T = customers["x"][:3000], customers["t_x"][:3000], customers["T"][:3000]
    doubled = fit_bgnbd(np.tile(x, 2), np.tile(t_x, 2), np.tile(T, 2))
    weighted = fit_bgnbd(x, t_x, T, weights=np.full(x.size, 2.0))
    assert weighted.params.r == pytest.approx(doubled.params.r, rel=1e-5)
    assert weighted.params.b == pytest.approx(doubled.params.b, rel=1e-5)
    assert weighted.log_likelihood == pytest.approx(doubled.log_likelihood, rel=1e-8)


def test_time_unit_changes_alpha_only(customers) -> None:
    # Given the same customers in days and in weeks
    x, t_x, T = customers["x"][:20000], customers["t_x"][:20000], customers["T"][:20000]
    days = fit_bgnbd(x, t_x, T)
    weeks = fit_bgnbd(x, t_x / 7, T / 7)
    # Then only alpha (a rate's scale) changes, by the factor 7
    assert weeks.params.alpha == pytest.approx(days.params.alpha / 7, rel=1e-4)
    assert weeks.params.r == pytest.approx(days.params.r, rel=1e-4)
    assert weeks.params.a == pytest.approx(days.params.a, rel=1e-4)
    # and the log-likelihood shifts by the density of each order time: sum(x) log 7
    shift = float(x.sum()) * np.log(7)
    assert weeks.log_likelihood == pytest.approx(days.log_likelihood + shift, rel=1e-7)
    assert log_likelihood(days.params, x, t_x, T) == pytest.approx(days.log_likelihood, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1.5, 1.5), min_size=4, max_size=4))
def test_analytic_gradient_matches_finite_differences(log_params: list[float]) -> None:
    data = synthetic_customers(400, seed=3)
    model = _Likelihood(data["x"], data["t_x"], data["T"], np.ones(400), time_scale=365.0)
    theta = np.array(log_params)
    _, grad = model.value_and_grad(theta)
    step = 1e-6
    for i in range(4):
        bump = np.zeros(4)
        bump[i] = step
        numeric = model.value_and_grad(theta + bump)[0] - model.value_and_grad(theta - bump)[0]
        assert grad[i] == pytest.approx(numeric / (2 * step), rel=1e-4, abs=1e-7)


@settings(deadline=None)
@given(
    x=st.integers(0, 300),
    t_x_share=st.floats(0.0, 1.0),
    T=st.floats(0.5, 500.0),
    gap=st.floats(0.0, 100.0),
)
def test_p_alive_is_a_probability_and_falls_as_the_silence_grows(
    x: int, t_x_share: float, T: float, gap: float
) -> None:
    t_x = 0.0 if x == 0 else t_x_share * T
    now = p_alive(CDNOW, [x], [t_x], [T])[0]
    later = p_alive(CDNOW, [x], [t_x], [T + gap])[0]
    assert 0.0 <= later <= now <= 1.0
    if x == 0:
        assert now == 1.0  # no repeat order yet: nothing to have dropped out after


@settings(deadline=None)
@given(x=st.integers(0, 500), T=st.floats(1.0, 400.0), t=st.floats(0.0, 400.0))
def test_expected_purchases_are_finite_and_grow_with_the_horizon(
    x: int, T: float, t: float
) -> None:
    t_x = 0.0 if x == 0 else 0.9 * T
    shorter = conditional_expected_purchases(CDNOW, t, [x], [t_x], [T])[0]
    longer = conditional_expected_purchases(CDNOW, t + 10.0, [x], [t_x], [T])[0]
    assert np.isfinite(shorter) and np.isfinite(longer)
    assert 0.0 <= shorter <= longer + 1e-9


def test_expected_purchases_match_the_papers_hypergeometric_form() -> None:
    # FHL eq. 10 as printed, for small x where the direct 2F1 does not overflow
    r, alpha, a, b = CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b
    x, t_x, T, t = np.array([0.0, 1, 3, 7]), np.array([0.0, 5, 20, 30]), np.full(4, 38.0), 52.0
    z = t / (alpha + T + t)
    direct = (
        (a + b + x - 1)
        / (a - 1)
        * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
        / (1 + (x > 0) * a / (b + np.maximum(x, 1) - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    )
    ours = conditional_expected_purchases(CDNOW, t, x, t_x, T)
    np.testing.assert_allclose(ours, direct, rtol=1e-9)


def test_no_time_means_no_purchases() -> None:
    assert conditional_expected_purchases(CDNOW, 0.0, [3], [10.0], [20.0])[0] == pytest.approx(0)


@pytest.mark.parametrize(
    ("x", "t_x", "T", "message"),
    [
        ([1.5], [1.0], [2.0], "whole numbers"),
        ([-1], [0.0], [2.0], "whole numbers"),
        ([1], [3.0], [2.0], "t_x"),
        ([0], [1.0], [2.0], "must be 0"),
        ([1], [float("nan")], [2.0], "finite"),
        ([1, 2], [1.0], [2.0], "same length"),
    ],
)
def test_bad_summaries_are_refused_with_a_reason(x, t_x, T, message) -> None:
    with pytest.raises(ValueError, match=message):
        fit_bgnbd(x, t_x, T)
