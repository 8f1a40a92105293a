"""BG/NBD: how many more orders a customer will place, and whether they are still "alive".

Fader, Hardie and Lee (2005), "Counting Your Customers the Easy Way". Each customer buys at a rate
``lambda ~ Gamma(r, alpha)`` while alive and may drop out after any order with probability
``p ~ Beta(a, b)``. The data per customer are ``x`` (repeat orders), ``t_x`` (time of the last
order, counted from the first) and ``T`` (time since the first order), all in one time unit.

The fit is maximum likelihood on log-parameters with an analytic gradient, over the unique
``(x, t_x, T)`` rows with weights; every term that depends on ``x`` alone is computed once per
distinct ``x``. Predictions are vectorised numpy, in the same time unit as the fit.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln, hyp2f1, psi

from nudge.scoring._arrays import (
    FloatArray,
    as_float_array,
    codes_of,
    inner,
    limited_blas_threads,
    softplus_and_sigmoid,
    unique_rows,
)

_LOG_BOUND = 20.0  # |log parameter| limit: keeps exp() finite while the optimiser explores
_SAME_DROPOUT = 1e4  # a + b from which predictions use the same-drop-out limit (no hyp2f1)


@dataclass(frozen=True)
class BgNbdParams:
    """Fitted BG/NBD parameters (``alpha`` is in the data's time unit)."""

    r: float
    alpha: float
    a: float
    b: float

    def conditional_expected_purchases(
        self, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected repeat orders in the next ``t`` time units; see the module function."""
        return conditional_expected_purchases(self, t, x, t_x, T)

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability that each customer is still active; see the module function."""
        return p_alive(self, x, t_x, T)


@dataclass(frozen=True)
class BgNbdFit:
    """Result of :func:`fit_bgnbd`: parameters, summed log-likelihood and how the fit went."""

    params: BgNbdParams
    log_likelihood: float
    n_customers: int
    n_rows: int
    iterations: int
    evaluations: int
    converged: bool
    message: str


def check_summary(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> tuple[FloatArray, ...]:
    """Validate and return ``(x, t_x, T)`` as float arrays of one length.

    ``x`` must be whole numbers >= 0, ``0 <= t_x <= T``, ``T > 0`` and ``t_x == 0`` when ``x == 0``.
    """
    xs, txs, Ts = as_float_array(x, "x"), as_float_array(t_x, "t_x"), as_float_array(T, "T")
    if not xs.shape == txs.shape == Ts.shape:
        raise ValueError("x, t_x and T must have the same length")
    if np.any(xs < 0) or np.any(xs != np.floor(xs)):
        raise ValueError("x (frequency) must be whole numbers >= 0")
    if np.any(txs < 0) or np.any(txs > Ts) or np.any(Ts <= 0):
        raise ValueError("need 0 <= t_x (recency) <= T and T > 0")
    if np.any((xs == 0) & (txs != 0)):
        raise ValueError("t_x (recency) must be 0 for customers with x (frequency) = 0")
    return xs, txs, Ts


class _Likelihood:
    """Weighted BG/NBD log-likelihood and its gradient over de-duplicated rows.

    Rows are sorted by ``x`` so per-x sums are contiguous slices. Terms that depend on ``x`` alone
    are computed once per distinct ``x``, and logs and reciprocals of ``alpha + time`` once per
    distinct time, then gathered; only the mixture of the "alive" and "dropped" branches of repeat
    buyers is computed per row.
    """

    def __init__(
        self,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,
        w: FloatArray,
        time_scale: float = 1.0,
    ) -> None:
        if np.any(x[1:] < x[:-1]):  # unique_rows usually hands them over sorted already
            order = np.argsort(x, kind="stable")
            x, t_x, T, w = x[order], t_x[order], T[order], w[order]
        starts = np.concatenate([[0], np.flatnonzero(np.diff(x)) + 1])
        self.x_values = x[starts]
        self.weight_per_x = np.add.reduceat(w, starts)
        self.total_weight = float(w.sum())
        self.x_weight_sum = inner(w, x)
        # Codes from the caller's times (whole days need no sort), then divide by time_scale.
        time_index, times = codes_of(np.concatenate([T, t_x]))
        self.times = times / time_scale
        index_T, index_tx = time_index[: x.size], time_index[x.size :]
        # Sums over all rows of w log(alpha+T) and w x log(alpha+T), by distinct time.
        self.weight_per_T = np.bincount(index_T, weights=w, minlength=self.times.size)
        self.wx_per_T = np.bincount(index_T, weights=w * x, minlength=self.times.size)
        first_repeat = int(np.searchsorted(x, 0.0, side="right"))
        repeat = slice(first_repeat, x.size)
        has_repeat = self.x_values > 0
        self.repeat_x_values = self.x_values[has_repeat]
        self.repeat_starts = starts[has_repeat] - first_repeat
        self.repeat_counts = np.diff(np.append(starts, x.size))[has_repeat]
        self.x1, self.w1 = x[repeat], w[repeat]
        self.index_T1, self.index_tx1 = index_T[repeat], index_tx[repeat]

    def value_and_grad(self, log_params: FloatArray) -> tuple[float, FloatArray]:
        """Mean negative log-likelihood and its gradient with respect to the log-parameters."""
        r, alpha, a, b = np.exp(log_params)
        xv, wx, big_w = self.x_values, self.weight_per_x, self.total_weight
        psi_abx = psi(a + b + xv)
        ll = inner(wx, gammaln(r + xv) - gammaln(r) + betaln(a, b + xv) - betaln(a, b))
        g_r = inner(wx, psi(r + xv) - psi(r))
        g_a = inner(wx, psi(a + b) - psi_abx)
        g_b = inner(wx, psi(b + xv) - psi(b) + psi(a + b) - psi_abx)

        # r log(alpha) - (r+x) log(alpha+T): the "alive" branch, common to every row.
        log_time = np.log(alpha + self.times)
        inv_time = 1.0 / (alpha + self.times)
        wc_per_T = r * self.weight_per_T + self.wx_per_T
        ll += big_w * r * np.log(alpha) - inner(wc_per_T, log_time)
        g_r += big_w * np.log(alpha) - inner(self.weight_per_T, log_time)
        g_alpha = big_w * r / alpha - inner(wc_per_T, inv_time)

        # Repeat buyers add log(1 + exp(delta)): delta compares the "dropped after the last
        # order" branch, a/(b+x-1) (alpha+t_x)^-(r+x), with the "alive" one.
        if self.x1.size:
            log_gap = log_time[self.index_T1] - log_time[self.index_tx1]
            c = r + self.x1
            log_ratio = np.log(a) - np.log(b + self.repeat_x_values - 1.0)
            delta = np.repeat(log_ratio, self.repeat_counts) + c * log_gap
            softplus, w3 = softplus_and_sigmoid(delta)  # w3: weight of the "dropped" branch
            ww3 = self.w1 * w3
            ll += inner(self.w1, softplus)
            g_r += inner(ww3, log_gap)
            inv_gap = inv_time[self.index_tx1] - inv_time[self.index_T1]
            g_alpha -= inner(ww3 * c, inv_gap)
            ww3_per_x = np.add.reduceat(ww3, self.repeat_starts)
            g_a += float(ww3_per_x.sum()) / a
            g_b -= inner(ww3_per_x, 1.0 / (b + self.repeat_x_values - 1.0))

        grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
        return -ll / big_w, -grad / big_w


def log_likelihood(
    params: BgNbdParams,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """Summed BG/NBD log-likelihood of the customers under ``params`` (the paper's figure)."""
    xs, txs, Ts = check_summary(x, t_x, T)
    w = np.ones_like(xs) if weights is None else as_float_array(weights, "weights")
    with limited_blas_threads():
        model = _Likelihood(xs, txs, Ts, w)
        log_params = np.log([params.r, params.alpha, params.a, params.b])
        return float(-model.value_and_grad(log_params)[0] * model.total_weight)


def fit_bgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    limit_threads: bool = True,
) -> BgNbdFit:
    """Fit BG/NBD by maximum likelihood.

    ``x`` repeat orders, ``t_x`` time of the last order since the first, ``T`` time since the first
    order (lifetimes' frequency, recency and T); ``weights`` optionally counts customers per row.
    Times are rescaled internally so the optimiser sees numbers near 1; ``alpha`` and the
    log-likelihood are reported in the caller's unit. ``limit_threads=False`` lets BLAS use all
    its threads (slower for this work; there for measuring).
    """
    xs, txs, Ts = check_summary(x, t_x, T)
    w = np.ones_like(xs) if weights is None else as_float_array(weights, "weights")
    if w.shape != xs.shape or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be >= 0, one per customer, and not all zero")
    limiter = limited_blas_threads() if limit_threads else contextlib.nullcontext()
    with limiter:  # the dot products below are BLAS calls too
        (ux, utx, uT), inverse, _ = unique_rows(xs, txs, Ts)
        uw = np.bincount(inverse, weights=w, minlength=ux.size).astype(np.float64)
        scale = float(np.average(uT, weights=uw))
        model = _Likelihood(ux, utx, uT, uw, time_scale=scale)
        result = minimize(
            model.value_and_grad,
            np.zeros(4),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 4,
            options={"ftol": 1e-12, "gtol": 1e-8, "maxiter": 500},
        )
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    params = BgNbdParams(r=r, alpha=alpha * scale, a=a, b=b)
    # Undo the time scaling in the likelihood: each of the x order times contributes a density.
    ll = -float(result.fun) * model.total_weight - model.x_weight_sum * float(np.log(scale))
    return BgNbdFit(
        params=params,
        log_likelihood=ll,
        n_customers=round(model.total_weight),
        n_rows=int(ux.size),
        iterations=int(result.nit),
        evaluations=int(result.nfev),
        converged=bool(result.success),
        message=str(result.message),
    )


def _log_dropout_odds(
    params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """log of a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x); -inf for x = 0 (cannot have dropped)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    # Computed for every row (masking first costs more), then x = 0 rows are set to -inf.
    odds = (
        np.log(a)
        - np.log(np.maximum(b + x - 1.0, 1e-300))
        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )
    odds[x == 0] = -np.inf
    return np.asarray(odds, dtype=np.float64)


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(alive | x, t_x, T): probability each customer has not dropped out (1 for x = 0)."""
    xs, txs, Ts = check_summary(x, t_x, T)
    return np.asarray(expit(-_log_dropout_odds(params, xs, txs, Ts)), dtype=np.float64)


def conditional_expected_purchases(
    params: BgNbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected repeat orders in the next ``t`` time units (FHL eq. 10).

    ``t`` is a number or an array the length of ``x``. The Gauss hypergeometric term is taken
    through Euler's transformation, ``(1-z)^(r+x) 2F1(r+x, b+x; c; z) =
    (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z)`` with ``c = a+b+x-1``, whose arguments do not grow with
    ``x`` (the direct form overflows for frequent buyers), and it is evaluated once per distinct
    ``(x, T, t)``.
    """
    xs, txs, Ts = check_summary(x, t_x, T)
    ts = np.broadcast_to(np.asarray(t, dtype=np.float64), xs.shape).astype(np.float64)
    if not np.all(np.isfinite(ts)) or np.any(ts < 0):
        raise ValueError("t must be finite and >= 0")
    (ux, uT, ut), inverse, _ = unique_rows(xs, Ts, ts)
    if_alive = expected_purchases_if_alive(params, ut, ux, uT)
    return np.asarray(
        if_alive[inverse] * expit(-_log_dropout_odds(params, xs, txs, Ts)), dtype=np.float64
    )


def expected_purchases_if_alive(
    params: BgNbdParams, t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """Expected repeat orders in the next ``t`` for customers known to be alive (FHL eq. 10's
    numerator); element-wise over already validated arrays of one shape.

    Multiply by :func:`p_alive` to get :func:`conditional_expected_purchases`.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if a + b >= _SAME_DROPOUT:
        return _expected_if_alive_same_dropout(params, t, x, T)
    if abs(a - 1.0) < 1e-9:  # removable singularity of (a+b+x-1)/(a-1); step off it
        a += 1e-9
    z = t / (alpha + T + t)
    c = a + b + x - 1.0
    tail = np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
    out = np.asarray((c / (a - 1.0)) * (1.0 - tail), dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any() and a + b >= 100.0:  # hyp2f1 gives up first for x = 0 as a + b grows
        out[bad] = _expected_if_alive_same_dropout(params, t[bad], x[bad], T[bad])
    return out


def _expected_if_alive_same_dropout(
    params: BgNbdParams, t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """The limit of :func:`expected_purchases_if_alive` as ``a + b`` grows with ``a/(a+b) = p``
    fixed: every customer drops out with the same ``p`` after each order, and
    ``E = (1 - ((alpha+T) / (alpha+T+p t))^(r+x)) / p``.

    Small bases often fit that way (``a`` and ``b`` run off together: the data cannot tell
    customers' drop-out chances apart), and ``hyp2f1`` returns NaN there. At ``a + b = 10^4``
    the limit is within 0.03 % of the exact value.
    """
    r, alpha = params.r, params.alpha
    p = params.a / (params.a + params.b)
    ratio = (alpha + T) / (alpha + T + p * t)
    return np.asarray(-np.expm1((r + x) * np.log(ratio)) / p, dtype=np.float64)


def probability_of_purchase_by(
    params: BgNbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(at least one order in the next ``t`` | x, t_x, T).

    A customer drops out only right after an order, so one alive now places no order in the next
    ``t`` with probability ``E[exp(-lambda t)]`` under the posterior ``lambda ~ Gamma(r + x,
    alpha + T)`` of an alive customer, that is ``((alpha+T) / (alpha+T+t))^(r+x)``; hence
    ``P = P(alive) * (1 - ((alpha+T) / (alpha+T+t))^(r+x))``, which tends to ``P(alive)``.
    """
    xs, txs, Ts = check_summary(x, t_x, T)
    ts = np.broadcast_to(np.asarray(t, dtype=np.float64), xs.shape)
    alive = expit(-_log_dropout_odds(params, xs, txs, Ts))
    shape, scale = params.r + xs, params.alpha + Ts
    none_if_alive = np.exp(shape * (np.log(scale) - np.log(scale + ts)))
    return np.asarray(alive * -np.expm1(np.log(none_if_alive)), dtype=np.float64)


def time_to_purchase_probability(
    params: BgNbdParams,
    probability: float,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    """The ``t`` at which :func:`probability_of_purchase_by` reaches ``probability`` (0.5: the
    median time to the next order), in closed form: ``t = (alpha+T) * ((1 - q/P(alive))^(-1/(r+x))
    - 1)``; ``inf`` where ``P(alive) <= probability`` (the chance of another order never gets
    there)."""
    if not 0.0 < probability < 1.0:
        raise ValueError("probability must be between 0 and 1")
    xs, txs, Ts = check_summary(x, t_x, T)
    alive = expit(-_log_dropout_odds(params, xs, txs, Ts))
    out = np.full(xs.shape, np.inf)
    reach = alive > probability
    shape, scale = params.r + xs[reach], params.alpha + Ts[reach]
    left = 1.0 - probability / alive[reach]  # P(no order in t | alive) at the answer
    out[reach] = scale * np.expm1(-np.log(left) / shape)
    return np.asarray(out, dtype=np.float64)
