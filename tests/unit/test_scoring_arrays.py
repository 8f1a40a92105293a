"""Row de-duplication and the numeric helpers the fits are built on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from nudge.scoring._arrays import (
    _unique_rows_by_bytes,
    codes_of,
    inner,
    softplus_and_sigmoid,
    unique_rows,
)

numbers = st.integers(0, 40).map(float) | st.floats(-1e6, 1e6, allow_nan=False, width=32)
rows = st.lists(st.tuples(numbers, numbers, numbers), min_size=1, max_size=200)


def check_dedup(result, columns) -> None:
    uniques, inverse, counts = result
    for unique, column in zip(uniques, columns, strict=True):
        np.testing.assert_array_equal(unique[inverse], column)
    assert counts.sum() == columns[0].size
    assert np.all(counts >= 1)
    np.testing.assert_array_equal(np.bincount(inverse, minlength=counts.size), counts)
    as_tuples = list(zip(*(u.tolist() for u in uniques), strict=True))
    assert len(set(as_tuples)) == len(as_tuples)


@settings(deadline=None)
@given(rows)
def test_unique_rows_rebuild_every_column_and_count_each_row_once(data) -> None:
    columns = [np.array(c, dtype=float) for c in zip(*data, strict=True)]
    check_dedup(unique_rows(*columns), columns)
    check_dedup(_unique_rows_by_bytes(*columns), columns)


def test_unique_rows_come_sorted_by_the_first_column() -> None:
    x = np.array([3.0, 1, 2, 1, 3, 0])
    T = np.array([5.0, 7, 1, 7, 2, 9])
    (ux, uT), _, counts = unique_rows(x, T)
    assert ux.tolist() == [0, 1, 2, 3, 3] and uT.tolist() == [9, 7, 1, 2, 5]
    assert counts.tolist() == [1, 2, 1, 1, 1]


@pytest.mark.parametrize("column", [np.array([5.0, 2, 9, 2]), np.array([0.5, -1.25, 0.5, 3])])
def test_codes_map_back_to_the_values(column) -> None:
    codes, values = codes_of(column)
    np.testing.assert_array_equal(values[codes], column)


def test_negative_zero_equals_zero() -> None:
    _, _, counts = unique_rows(np.array([0.0, -0.0, 1.5]))
    assert counts.tolist() == [2, 1]


@given(st.lists(st.floats(-800, 800), min_size=1, max_size=50))
def test_softplus_and_sigmoid_match_the_reference_functions(values) -> None:
    z = np.array(values)
    softplus, sigmoid = softplus_and_sigmoid(z)
    np.testing.assert_allclose(softplus, np.logaddexp(0.0, z), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(sigmoid, expit(z), rtol=1e-12, atol=1e-300)


def test_inner_is_the_dot_product() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.random(1000), rng.random(1000)
    assert inner(a, b) == pytest.approx(float(np.dot(a, b)), rel=1e-12)
