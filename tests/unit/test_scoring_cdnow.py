"""Acceptance: our BG/NBD and Gamma-Gamma reproduce the published CDNOW figures.

The CDNOW summaries ship inside the lifetimes package (installed with --no-deps by the Makefile);
we only read its CSV files, never import lifetimes. The tests skip only when lifetimes is not
installed at all; a lifetimes without the files is a failure.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from nudge.scoring.bgnbd import fit_bgnbd
from nudge.scoring.fit_cli import fit_command
from nudge.scoring.gammagamma import fit_gamma_gamma

_SPEC = importlib.util.find_spec("lifetimes")
if _SPEC is None or _SPEC.origin is None:
    pytest.skip("lifetimes is not installed (make test installs it)", allow_module_level=True)
DATASETS = Path(_SPEC.origin).parent / "datasets"
SUMMARY = DATASETS / "cdnow_customers_summary.csv"
WITH_VALUES = DATASETS / "cdnow_customers_summary_with_transactions.csv"


def _columns(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]}


def within(value: float, published: float, fraction: float = 0.01) -> bool:
    return abs(value - published) <= fraction * abs(published)


def test_bgnbd_reproduces_fader_hardie_lee_2005_on_cdnow() -> None:
    # Given the 2,357 CDNOW customers (weeks)
    data = _columns(SUMMARY)
    assert data["frequency"].size == 2357
    # When BG/NBD is fitted
    fit = fit_bgnbd(data["frequency"], data["recency"], data["T"])
    # Then the parameters and the summed log-likelihood match the paper within 1%
    p = fit.params
    assert fit.converged
    assert within(p.r, 0.243) and within(p.alpha, 4.414) and within(p.a, 0.793)
    assert within(p.b, 2.426)
    assert within(fit.log_likelihood, -9582.4)
    assert fit.n_customers == 2357


def test_bgnbd_predicts_the_papers_example_customer() -> None:
    data = _columns(SUMMARY)
    params = fit_bgnbd(data["frequency"], data["recency"], data["T"]).params
    # x = 2, t_x = 30.43, T = 38.86: 1.226 expected purchases in the next 39 weeks
    expected = params.conditional_expected_purchases(39.0, [2], [30.43], [38.86])
    assert abs(expected[0] - 1.226) <= 0.01


def test_gamma_gamma_reproduces_fader_hardie_2013_on_cdnow_repeat_buyers() -> None:
    # Given CDNOW's repeat buyers and their mean order values (zbar)
    data = _columns(WITH_VALUES)
    repeat = data["x"] > 0
    assert int(repeat.sum()) == 946
    # When Gamma-Gamma is fitted on them only
    fit = fit_gamma_gamma(data["x"][repeat], data["zbar"][repeat])
    # Then p, q, v match the note within 1%
    assert fit.converged
    assert within(fit.params.p, 6.25) and within(fit.params.q, 3.74)
    assert within(fit.params.v, 15.44)


def test_score_fit_command_on_the_cdnow_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given lifetimes' CDNOW file with values (columns ID, x, t_x, T, zbar)
    out = tmp_path / "fit.json"
    # When `nudge score fit` runs on it
    status = fit_command(str(WITH_VALUES), str(out))
    # Then it exits 0, says what it fitted, and writes both models
    assert status == 0
    printed = capsys.readouterr().out
    assert "BG/NBD on 2357 customers" in printed and "946 repeat buyers" in printed
    result = json.loads(out.read_text())
    assert within(result["bgnbd"]["r"], 0.243)
    assert within(result["bgnbd"]["log_likelihood"], -9582.4)
    assert within(result["gamma_gamma"]["p"], 6.25)
    assert result["n_customers"] == 2357 and result["gamma_gamma"]["n_customers"] == 946


def test_score_fit_command_without_values_fits_bgnbd_only(tmp_path: Path) -> None:
    out = tmp_path / "fit.json"
    assert fit_command(str(SUMMARY), str(out)) == 0
    result = json.loads(out.read_text())
    assert within(result["bgnbd"]["alpha"], 4.414)
    assert result["gamma_gamma"] is None
    assert any("monetary_value" in note for note in result["notes"])
