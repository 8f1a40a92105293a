"""Gamma-Gamma: what a customer's future orders will be worth on average.

Fader and Hardie (2013), "The Gamma-Gamma Model of Monetary Value". Each order's value is
``Gamma(p, nu)`` around the customer's own mean and ``nu ~ Gamma(q, v)`` across customers. The data
per repeat buyer are ``x`` (repeat orders) and ``m`` (their mean value, lifetimes'
``monetary_value``); customers with no repeat order carry no information and are left out.

The fit is maximum likelihood on log-parameters with an analytic gradient; values are rescaled
internally so the optimiser sees numbers near 1, and ``v`` and the log-likelihood are reported in
the caller's currency.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import gammaln, psi

from nudge.scoring._arrays import (
    FloatArray,
    as_float_array,
    codes_of,
    inner,
    limited_blas_threads,
)

_LOG_BOUND = 20.0


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters (``v`` is in the data's currency)."""

    p: float
    q: float
    v: float

    def conditional_expected_average_value(self, x: ArrayLike, m: ArrayLike) -> FloatArray:
        """Expected value of each customer's future orders; see the module function."""
        return conditional_expected_average_value(self, x, m)


@dataclass(frozen=True)
class GammaGammaFit:
    """Result of :func:`fit_gamma_gamma`: parameters, summed log-likelihood and fit details."""

    params: GammaGammaParams
    log_likelihood: float
    n_customers: int
    n_rows: int
    iterations: int
    evaluations: int
    converged: bool
    message: str


def _check_repeat_buyers(x: ArrayLike, m: ArrayLike) -> tuple[FloatArray, FloatArray]:
    xs, ms = as_float_array(x, "x"), as_float_array(m, "m")
    if xs.shape != ms.shape:
        raise ValueError("x and m must have the same length")
    if np.any(xs <= 0) or np.any(xs != np.floor(xs)):
        raise ValueError("Gamma-Gamma uses repeat buyers only: x must be whole numbers > 0")
    if np.any(ms <= 0):
        raise ValueError("m (monetary_value) must be > 0 for repeat buyers")
    return xs, ms


class _Likelihood:
    """Weighted Gamma-Gamma log-likelihood and gradient; x-only terms once per distinct x."""

    def __init__(self, x: FloatArray, m: FloatArray, w: FloatArray) -> None:
        x_index, self.x_values = codes_of(x)
        self.weight_per_x = np.bincount(x_index, weights=w, minlength=self.x_values.size)
        present = self.weight_per_x > 0  # drop codes of x values nobody has
        self.x_values, self.weight_per_x = self.x_values[present], self.weight_per_x[present]
        self.total_weight = float(w.sum())
        self.x, self.m, self.w = x, m, w
        self.xm = x * m
        self.wx_log_xm = inner(w * x, np.log(self.xm))
        self.w_log_m = inner(w, np.log(m))

    def value_and_grad(self, log_params: FloatArray) -> tuple[float, FloatArray]:
        """Mean negative log-likelihood and its gradient with respect to the log-parameters."""
        p, q, v = np.exp(log_params)
        xv, wx, big_w = self.x_values, self.weight_per_x, self.total_weight
        px = p * xv
        # ll = lnG(px+q) - lnG(px) - lnG(q) + q ln v + px ln(x m) - ln m - (px+q) ln(x m + v)
        ll = inner(wx, gammaln(px + q) - gammaln(px)) - big_w * float(gammaln(q))
        ll += big_w * q * np.log(v) + p * self.wx_log_xm - self.w_log_m
        log_xm_v = np.log(self.xm + v)
        c = p * self.x + q
        ll -= inner(self.w, c * log_xm_v)
        psi_pxq = psi(px + q)
        g_p = inner(wx * xv, psi_pxq - psi(px)) + self.wx_log_xm
        g_p -= inner(self.w * self.x, log_xm_v)
        g_q = inner(wx, psi_pxq) - big_w * float(psi(q)) + big_w * np.log(v)
        g_q -= inner(self.w, log_xm_v)
        g_v = big_w * q / v - inner(self.w, c / (self.xm + v))
        grad = np.array([g_p * p, g_q * q, g_v * v])
        return -ll / big_w, -grad / big_w


def log_likelihood(
    params: GammaGammaParams, x: ArrayLike, m: ArrayLike, weights: ArrayLike | None = None
) -> float:
    """Summed Gamma-Gamma log-likelihood of the repeat buyers under ``params``."""
    xs, ms = _check_repeat_buyers(x, m)
    w = np.ones_like(xs) if weights is None else as_float_array(weights, "weights")
    with limited_blas_threads():
        model = _Likelihood(xs, ms, w)
        value, _ = model.value_and_grad(np.log([params.p, params.q, params.v]))
    return float(-value * model.total_weight)


def fit_gamma_gamma(
    x: ArrayLike, m: ArrayLike, weights: ArrayLike | None = None, *, limit_threads: bool = True
) -> GammaGammaFit:
    """Fit Gamma-Gamma by maximum likelihood on repeat buyers (``x > 0``, mean value ``m > 0``)."""
    xs, ms = _check_repeat_buyers(x, m)
    w = np.ones_like(xs) if weights is None else as_float_array(weights, "weights")
    if w.shape != xs.shape or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be >= 0, one per customer, and not all zero")
    limiter = limited_blas_threads() if limit_threads else contextlib.nullcontext()
    with limiter:  # the dot products below are BLAS calls too
        # Values are rarely repeated exactly: de-duplicating rows would cost more than it saves.
        scale = float(np.average(ms, weights=w))
        model = _Likelihood(xs, ms / scale, w)
        result = minimize(
            model.value_and_grad,
            np.zeros(3),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 3,
            options={"ftol": 1e-12, "gtol": 1e-8, "maxiter": 500},
        )
    p, q, v = (float(value) for value in np.exp(result.x))
    # Rescaling values by 1/scale multiplies each density by scale: undo it per customer.
    ll = -float(result.fun) * model.total_weight - model.total_weight * float(np.log(scale))
    return GammaGammaFit(
        params=GammaGammaParams(p=p, q=q, v=v * scale),
        log_likelihood=ll,
        n_customers=round(model.total_weight),
        n_rows=int(xs.size),
        iterations=int(result.nit),
        evaluations=int(result.nfev),
        converged=bool(result.success),
        message=str(result.message),
    )


def conditional_expected_average_value(
    params: GammaGammaParams, x: ArrayLike, m: ArrayLike
) -> FloatArray:
    """E[M | x, m]: expected value of a customer's future orders.

    A weighted mean of the population mean ``p v / (q - 1)`` and the customer's own mean ``m``,
    the weight on ``m`` growing with ``x``. Customers with ``x = 0`` get the population mean
    (their ``m`` is ignored). Needs ``q > 1`` (otherwise the population mean is infinite).
    """
    xs, ms = as_float_array(x, "x"), as_float_array(m, "m")
    if xs.shape != ms.shape:
        raise ValueError("x and m must have the same length")
    if params.q <= 1.0:
        raise ValueError(f"q = {params.q:.4g} <= 1: the expected order value is not finite")
    p, q, v = params.p, params.q, params.v
    spend = np.where(xs > 0, xs * ms, 0.0)
    return np.asarray(p * (v + spend) / (p * xs + q - 1.0), dtype=np.float64)
