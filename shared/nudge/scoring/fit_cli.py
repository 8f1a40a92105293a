"""``nudge score fit --summary FILE.csv --out FILE.json``: fit BG/NBD and Gamma-Gamma on a summary.

The summary has one row per customer: ``customer_id,frequency,recency,T,monetary_value`` (times in
the file's own unit). lifetimes' own names are accepted too (``ID``, ``x``, ``t_x``, ``zbar``);
without an id column the row number is the id. Without a value column only BG/NBD is fitted.
Gamma-Gamma uses repeat buyers (frequency > 0) with a positive value.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from nudge.scoring.bgnbd import fit_bgnbd
from nudge.scoring.gammagamma import fit_gamma_gamma

_COLUMNS = {  # canonical name -> accepted header names (case-insensitive)
    "customer_id": ("customer_id", "id"),
    "frequency": ("frequency", "x"),
    "recency": ("recency", "t_x"),
    "T": ("t",),
    "monetary_value": ("monetary_value", "zbar", "monetary"),
}
_REQUIRED = ("frequency", "recency", "T")


class SummaryError(ValueError):
    """A summary file that cannot be used; the message names the file and line."""


def read_summary(path: str) -> dict[str, Any]:
    """Read a lifetimes-style summary CSV into float arrays (``monetary_value`` may be None)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise SummaryError(f"{path}: the file is empty")
            positions = _column_positions(path, header)
            values: dict[str, list[float]] = {n: [] for n in positions if n != "customer_id"}
            lines: list[int] = []
            ids: list[str] = []
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                lines.append(reader.line_num)
                id_at = positions.get("customer_id")
                ids.append(row[id_at].strip() if id_at is not None and id_at < len(row) else "")
                for name, values_of in values.items():
                    values_of.append(_number(path, reader.line_num, row, positions[name], name))
    except OSError as error:
        raise SummaryError(f"{path}: cannot read: {error.strerror or error}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise SummaryError(f"{path}: not a CSV file: {error}") from None
    if not values["frequency"]:
        raise SummaryError(f"{path}: no customers (only a header)")
    summary: dict[str, Any] = {name: np.asarray(v, dtype=np.float64) for name, v in values.items()}
    summary.setdefault("monetary_value", None)
    # Without an id column a customer is known by its row number.
    summary["customer_id"] = [cid or str(n) for n, cid in enumerate(ids, start=1)]
    _check_rows(path, lines, summary)
    return summary


def _column_positions(path: str, header: list[str]) -> dict[str, int]:
    lowered = [cell.strip().lower() for cell in header]
    positions: dict[str, int] = {}
    for name, aliases in _COLUMNS.items():
        for alias in aliases:
            if alias in lowered:
                positions[name] = lowered.index(alias)
                break
    missing = [name for name in _REQUIRED if name not in positions]
    if missing:
        raise SummaryError(
            f"{path}:1: missing column(s) {', '.join(missing)}; expected "
            "customer_id,frequency,recency,T,monetary_value"
        )
    return positions


def _number(path: str, line: int, row: list[str], position: int, name: str) -> float:
    try:
        value = float(row[position])
    except IndexError:
        raise SummaryError(f"{path}:{line}: {name}: the row has no value for it") from None
    except ValueError:
        raise SummaryError(f"{path}:{line}: {name}: {row[position]!r} is not a number") from None
    if not math.isfinite(value):
        raise SummaryError(f"{path}:{line}: {name}: {row[position]!r} is not a finite number")
    return value


def _check_rows(path: str, lines: list[int], summary: dict[str, Any]) -> None:
    x, t_x, T = summary["frequency"], summary["recency"], summary["T"]
    problems = (
        ((x < 0) | (x != np.floor(x)), "frequency must be a whole number >= 0"),
        (T <= 0, "T must be > 0"),
        ((t_x < 0) | (t_x > T), "recency must be between 0 and T"),
        ((x == 0) & (t_x != 0), "recency must be 0 when frequency is 0"),
    )
    for bad, what in problems:
        if np.any(bad):
            index = int(np.argmax(bad))
            customer = summary["customer_id"][index]
            raise SummaryError(f"{path}:{lines[index]}: customer {customer}: {what}")


def fit_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """Fit both models on a summary from :func:`read_summary`; return the JSON-ready result."""
    x, t_x, T, m = (summary[k] for k in ("frequency", "recency", "T", "monetary_value"))
    bg = fit_bgnbd(x, t_x, T)
    result: dict[str, Any] = {
        "time_unit": "as in the summary file",
        "n_customers": int(x.size),
        "n_repeat_buyers": int((x > 0).sum()),
        "bgnbd": {
            **asdict(bg.params),
            "log_likelihood": bg.log_likelihood,
            "converged": bg.converged,
            "iterations": bg.iterations,
        },
        "gamma_gamma": None,
        "notes": [],
    }
    if m is None:
        result["notes"].append("no monetary_value column: Gamma-Gamma not fitted")
        return result
    repeat = x > 0
    usable = repeat & (m > 0)
    if int(repeat.sum() - usable.sum()):
        result["notes"].append(
            f"{int(repeat.sum() - usable.sum())} repeat buyers with monetary_value <= 0 left out "
            "of Gamma-Gamma"
        )
    if usable.sum() < 2:
        result["notes"].append("fewer than 2 repeat buyers with a value: Gamma-Gamma not fitted")
        return result
    gg = fit_gamma_gamma(x[usable], m[usable])
    result["gamma_gamma"] = {
        **asdict(gg.params),
        "log_likelihood": gg.log_likelihood,
        "n_customers": gg.n_customers,
        "converged": gg.converged,
        "iterations": gg.iterations,
    }
    if gg.params.q <= 1:
        result["notes"].append("Gamma-Gamma q <= 1: expected order values are not finite")
    return result


def describe(result: dict[str, Any]) -> str:
    """A few lines for people: the fitted parameters and anything to watch out for."""
    bg = result["bgnbd"]
    lines = [
        f"BG/NBD on {result['n_customers']} customers: r={bg['r']:.4g} alpha={bg['alpha']:.4g} "
        f"a={bg['a']:.4g} b={bg['b']:.4g}  log-likelihood {bg['log_likelihood']:.1f}"
    ]
    gg = result["gamma_gamma"]
    if gg is not None:
        lines.append(
            f"Gamma-Gamma on {gg['n_customers']} repeat buyers: p={gg['p']:.4g} q={gg['q']:.4g} "
            f"v={gg['v']:.4g}  log-likelihood {gg['log_likelihood']:.1f}"
        )
    for model in ("bgnbd", "gamma_gamma"):
        if result[model] is not None and not result[model]["converged"]:
            lines.append(f"warning: the {model} fit did not report convergence")
    lines.extend(f"note: {note}" for note in result["notes"])
    return "\n".join(lines)


def fit_command(summary: str, out: str) -> int:
    """Run ``nudge score fit``: read ``summary``, fit, print a summary, write JSON to ``out``.

    Returns the exit status: 0 on success, 1 (with a message on stderr, nothing written) when the
    file cannot be read or fitted.
    """
    try:
        data = read_summary(summary)
        result = fit_summary(data)
    except SummaryError as error:
        print(f"nudge score fit: {error}", file=sys.stderr)
        return 1
    except ValueError as error:  # a model refused the data; say so without a traceback
        print(f"nudge score fit: {summary}: {error}", file=sys.stderr)
        return 1
    result["summary"] = summary
    try:
        Path(out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        print(f"nudge score fit: {out}: cannot write: {error.strerror or error}", file=sys.stderr)
        return 1
    print(describe(result))
    print(f"wrote {out}")
    return 0
