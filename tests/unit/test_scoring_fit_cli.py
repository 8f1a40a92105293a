"""`nudge score fit --summary FILE.csv --out FILE.json`, through the function the CLI calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nudge.scoring.fit_cli import fit_command
from nudge.scoring.synthetic import synthetic_customers

HEADER = "customer_id,frequency,recency,T,monetary_value\n"


def write_summary(path: Path, n: int = 5000) -> Path:
    data = synthetic_customers(n, seed=21)
    lines = [HEADER]
    for i in range(n):
        x, t_x, T, m = (data[k][i] for k in ("x", "t_x", "T", "m"))
        lines.append(f"c-{i},{int(x)},{t_x:g},{T:g},{m:.2f}\n")
    path.write_text("".join(lines))
    return path


def test_fit_writes_both_models_and_says_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a summary in the contract's columns (days)
    summary = write_summary(tmp_path / "summary.csv")
    out = tmp_path / "fit.json"
    # When the command runs
    status = fit_command(str(summary), str(out))
    # Then it exits 0, prints a short summary and writes parameters for both models
    assert status == 0
    printed = capsys.readouterr().out
    assert "BG/NBD on 5000 customers" in printed and "Gamma-Gamma on" in printed
    result = json.loads(out.read_text())
    assert set(result["bgnbd"]) >= {"r", "alpha", "a", "b", "log_likelihood", "converged"}
    assert set(result["gamma_gamma"]) >= {"p", "q", "v", "log_likelihood", "n_customers"}
    assert result["n_customers"] == 5000
    # Gamma-Gamma saw repeat buyers only
    data = synthetic_customers(5000, seed=21)
    assert result["gamma_gamma"]["n_customers"] == int((data["x"] > 0).sum())
    assert result["n_repeat_buyers"] == result["gamma_gamma"]["n_customers"]
    assert np.isfinite(result["bgnbd"]["log_likelihood"])


def test_repeat_buyers_without_a_value_are_left_out_with_a_note(tmp_path: Path) -> None:
    summary = tmp_path / "s.csv"
    rows = [HEADER, "a,0,0,10,0\n", "b,2,5,10,0\n", "c,1,3,9,12.5\n", "d,3,8,12,20\n"]
    rows += [f"e{i},{i % 4},{i % 4},{10 + i % 7},{5 + i % 9}\n" for i in range(60)]
    summary.write_text("".join(rows))
    out = tmp_path / "fit.json"
    assert fit_command(str(summary), str(out)) == 0
    result = json.loads(out.read_text())
    assert any("monetary_value <= 0" in note for note in result["notes"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        (HEADER, "no customers"),
        ("customer_id,frequency,T\nc,1,3\n", ":1: missing column(s) recency"),
        (HEADER + "c1,1,2,3,4\nc2,two,2,3,4\n", ":3: frequency: 'two' is not a number"),
        (HEADER + "c1,1,2,3,4\nc2,1,5,3,4\n", ":3: customer c2: recency must be between 0 and T"),
        (HEADER + "c1,1.5,2,3,4\n", ":2: customer c1: frequency must be a whole number"),
        (HEADER + "c1,0,2,3,4\n", "recency must be 0 when frequency is 0"),
        (HEADER + "c1,1,2\n", ":2: T: the row has no value"),
        (HEADER + "c1,1,2,inf,4\n", "not a finite number"),
    ],
)
def test_bad_files_exit_1_with_the_place_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    summary = tmp_path / "bad.csv"
    summary.write_text(content)
    out = tmp_path / "fit.json"
    assert fit_command(str(summary), str(out)) == 1
    error = capsys.readouterr().err
    assert message in error and str(summary) in error
    assert "Traceback" not in error
    assert not out.exists()


def test_missing_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fit_command(str(tmp_path / "nope.csv"), str(tmp_path / "o.json")) == 1
    assert "cannot read" in capsys.readouterr().err


def test_without_an_id_column_rows_are_numbered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "s.csv"
    summary.write_text("frequency,recency,T\n1,2,3\n1,5,3\n")
    assert fit_command(str(summary), str(tmp_path / "o.json")) == 1
    assert ":3: customer 2: recency" in capsys.readouterr().err


def test_unwritable_output_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = write_summary(tmp_path / "s.csv", n=500)
    assert fit_command(str(summary), str(tmp_path / "missing-dir" / "o.json")) == 1
    assert "cannot write" in capsys.readouterr().err
