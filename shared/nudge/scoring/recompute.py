"""The numeric half of the daily recompute: fit the base once, then score profiles page by page.

The score pipeline (``nudge.flows.score``, pure Python) summarises each profile into one row of
:data:`COLUMNS` (times in whole days) and hands them here in two steps:

1. :func:`fit_base` on every row of the base: BG/NBD on all buyers, Gamma-Gamma on repeat buyers,
   and the RFM quintile cut points. The result is a small JSON-ready dict (the "model") that the
   run keeps in its checkpoint, so a resumed run scores with the very same numbers.
2. :func:`score_rows` on each page of rows: ``rfm``, ``p_alive``, ``expected_orders_90d`` and
   ``pltv`` per row, from the model alone.

With fewer than ``min_repeat_buyers`` repeat buyers the models are not fitted (their parameters
would be noise): ``p_alive``, ``expected_orders_90d`` and ``pltv`` are then None, RFM still works.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from nudge.scoring.rfm import DEFAULT_RULES, RfmRule, rfm_segments, score_cuts, scores_from_cuts

# x: repeat orders, t_x: days first -> last order, T: days first order -> as_of, m: mean repeat
# order value; recency: days since the last order, frequency: orders, monetary: orders - refunds
COLUMNS = ("x", "t_x", "T", "m", "recency", "frequency", "monetary")
CHURN_CUTS = (0.3, 0.7)  # p_alive below 0.3: high churn risk, below 0.7: medium, else low
NEXT_ORDER_PROBABILITY = 0.5  # next_order_expected_at: when P(an order by then) reaches this
NEXT_ORDER_HORIZON_DAYS = 3650  # further than this: no date
MIN_REPEAT_BUYERS = 20
HORIZON_DAYS = 90
PLTV_MONTHS = 12


def as_matrix(rows: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Rows as an ``(n, 7)`` float array: a sequence of 7-tuples, or a flat buffer of floats."""
    if isinstance(rows, bytes | bytearray | memoryview) or hasattr(rows, "typecode"):
        flat = np.frombuffer(rows, dtype=np.float64)  # array('d') or its bytes: no copy
        return flat.reshape(-1, len(COLUMNS))
    matrix = np.asarray(rows, dtype=np.float64)
    return matrix.reshape(-1, len(COLUMNS))


def fit_base(rows: Any, *, min_repeat_buyers: int = MIN_REPEAT_BUYERS) -> dict[str, Any]:
    """Fit the models on the whole base; returns the JSON-ready model for :func:`score_rows`."""
    from nudge.scoring._arrays import limited_blas_threads

    data = as_matrix(rows)
    x, t_x, T, m, recency, frequency, monetary = data.T
    repeat = x > 0
    model: dict[str, Any] = {
        "n_customers": int(data.shape[0]),
        "n_repeat_buyers": int(repeat.sum()),
        "bgnbd": None,
        "gamma_gamma": None,
        "rfm_cuts": {
            "r": score_cuts(recency, higher_is_better=False),
            "f": score_cuts(frequency),
            "m": score_cuts(monetary),
        },
        "notes": [],
    }
    if model["n_repeat_buyers"] < min_repeat_buyers:
        model["notes"].append(
            f"{model['n_repeat_buyers']} repeat buyers (< {min_repeat_buyers}): BG/NBD and "
            "Gamma-Gamma not fitted; p_alive, expected_orders_90d and pltv are left empty"
        )
        return model
    from nudge.scoring.bgnbd import fit_bgnbd
    from nudge.scoring.gammagamma import fit_gamma_gamma

    with limited_blas_threads():
        try:
            bg = fit_bgnbd(x, t_x, T)
        except (ValueError, FloatingPointError) as exc:
            model["notes"].append(f"BG/NBD fit failed: {exc}")
            return model
        params = asdict(bg.params)
        if not all(math.isfinite(v) and v > 0 for v in params.values()):
            model["notes"].append(f"BG/NBD fit failed ({bg.message}): not used")
            return model
        if bg.params.a + bg.params.b >= 1e4:
            # the optimiser stops at its bound with a "line search" message: expected here
            model["notes"].append(
                "BG/NBD: a and b ran off together, so every customer gets the same drop-out "
                f"chance after an order (a/(a+b) = {bg.params.a / (bg.params.a + bg.params.b):.3f})"
                "; common with few customers"
            )
        elif not bg.converged:
            model["notes"].append(f"BG/NBD: the optimiser stopped with {bg.message!r}")
        model["bgnbd"] = {**params, "log_likelihood": bg.log_likelihood}
        usable = repeat & (m > 0)
        if int(usable.sum()) < min_repeat_buyers:
            model["notes"].append("too few repeat buyers with a value: Gamma-Gamma not fitted")
            return model
        try:
            gg = fit_gamma_gamma(x[usable], m[usable])
        except (ValueError, FloatingPointError) as exc:
            model["notes"].append(f"Gamma-Gamma fit failed: {exc}")
            return model
    gparams = asdict(gg.params)
    if gg.params.q <= 1.0 or not all(math.isfinite(v) and v > 0 for v in gparams.values()):
        model["notes"].append("Gamma-Gamma q <= 1 (infinite mean order value): pltv left empty")
        return model
    model["gamma_gamma"] = {**gparams, "log_likelihood": gg.log_likelihood}
    return model


def _rules(rules: Sequence[RfmRule] | None) -> Sequence[RfmRule]:
    return DEFAULT_RULES if rules is None else rules


def _finite(value: float, digits: int) -> float | None:
    return round(float(value), digits) if math.isfinite(value) else None


def churn_band(p: float | None, cuts: Sequence[float] = CHURN_CUTS) -> str | None:
    """``high`` / ``medium`` / ``low`` churn risk of a ``p_alive`` under the two cut points."""
    if p is None:
        return None
    return "high" if p < cuts[0] else "medium" if p < cuts[1] else "low"


def _next_order_at(as_of: str | None, days: float) -> str | None:
    if as_of is None or not math.isfinite(days) or days > NEXT_ORDER_HORIZON_DAYS:
        return None
    from datetime import timedelta

    from nudge.core.clock import iso, parse_time

    return iso((parse_time(as_of) + timedelta(days=days)).replace(second=0))


def score_rows(
    model: dict[str, Any],
    rows: Any,
    rules: Sequence[RfmRule] | None = None,
    churn_cuts: Sequence[float] = CHURN_CUTS,
) -> list[dict[str, Any]]:
    """Scores of each row under a model from :func:`fit_base`: ``rfm`` ({r, f, m, segment}),
    ``p_alive`` (3 decimals), ``churn_risk`` (its band under ``churn_cuts``),
    ``expected_orders_90d`` (3 decimals), ``next_order_expected_at`` (when the chance of another
    order reaches 50%, counted from the model's ``as_of``; None if it never does) and ``pltv``
    (money, 12 months); None where a model was not fitted."""
    from nudge.scoring.bgnbd import (
        BgNbdParams,
        conditional_expected_purchases,
        p_alive,
        time_to_purchase_probability,
    )
    from nudge.scoring.gammagamma import GammaGammaParams
    from nudge.scoring.pltv import pltv

    data = as_matrix(rows)
    n = data.shape[0]
    if n == 0:
        return []
    x, t_x, T, m, recency, frequency, monetary = data.T
    cuts = model["rfm_cuts"]
    r = scores_from_cuts(recency, cuts["r"], higher_is_better=False)
    f = scores_from_cuts(frequency, cuts["f"])
    mon = scores_from_cuts(monetary, cuts["m"])
    names = rfm_segments(r, f, mon, _rules(rules))
    alive: list[float | None] = [None] * n
    orders: list[float | None] = [None] * n
    value: list[float | None] = [None] * n
    upcoming: list[str | None] = [None] * n
    if model.get("bgnbd"):
        bg = BgNbdParams(**{k: model["bgnbd"][k] for k in ("r", "alpha", "a", "b")})
        alive = [_finite(v, 3) for v in p_alive(bg, x, t_x, T).tolist()]
        wait = time_to_purchase_probability(bg, NEXT_ORDER_PROBABILITY, x, t_x, T)
        upcoming = [_next_order_at(model.get("as_of"), v) for v in wait.tolist()]
        expected = conditional_expected_purchases(bg, float(HORIZON_DAYS), x, t_x, T)
        orders = [_finite(v, 3) for v in expected.tolist()]
        if model.get("gamma_gamma"):
            gg = GammaGammaParams(**{k: model["gamma_gamma"][k] for k in ("p", "q", "v")})
            worth = pltv(bg, gg, x, t_x, T, m, months=PLTV_MONTHS, days_per_unit=1.0)
            value = [_finite(v, 2) for v in worth.tolist()]
    return [
        {
            "rfm": {"r": int(r[i]), "f": int(f[i]), "m": int(mon[i]), "segment": str(names[i])},
            "p_alive": alive[i],
            "churn_risk": churn_band(alive[i], churn_cuts),
            "expected_orders_90d": orders[i],
            "next_order_expected_at": upcoming[i],
            "pltv": value[i],
        }
        for i in range(n)
    ]
