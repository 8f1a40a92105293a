"""RFM: quintile scores that ignore row order, and segment names by first matching rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nudge.scoring.rfm import (
    DEFAULT_RULES,
    OTHERS,
    RfmRule,
    quintile_scores,
    rfm_scores,
    rfm_segments,
    rules_from_config,
)

values = st.lists(st.integers(0, 30) | st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=300)


@settings(deadline=None)
@given(values)
def test_scores_are_1_to_5_and_never_fall_as_values_rise(data: list[float]) -> None:
    array = np.array(data, dtype=float)
    scores = quintile_scores(array)
    assert scores.min() >= 1 and scores.max() <= 5
    order = np.argsort(array, kind="stable")
    assert np.all(np.diff(scores[order]) >= 0)


@settings(deadline=None)
@given(values)
def test_equal_values_get_equal_scores(data: list[float]) -> None:
    array = np.array(data, dtype=float)
    scores = quintile_scores(array)
    for value in np.unique(array):
        assert len(set(scores[array == value].tolist())) == 1


@settings(deadline=None)
@given(values, st.randoms())
def test_scores_do_not_depend_on_row_order(data: list[float], random) -> None:
    array = np.array(data, dtype=float)
    permutation = np.array(random.sample(range(array.size), array.size))
    np.testing.assert_array_equal(
        quintile_scores(array)[permutation], quintile_scores(array[permutation])
    )


@settings(deadline=None)
@given(st.integers(5, 500))
def test_distinct_values_fill_each_quintile_equally(n: int) -> None:
    counts = np.bincount(quintile_scores(np.arange(n, dtype=float)), minlength=6)[1:]
    assert counts.max() - counts.min() <= 1


def test_recency_scores_the_most_recent_buyers_highest() -> None:
    r, f, m = rfm_scores([1, 400, 30, 90, 200], [9, 1, 3, 2, 1], [900, 20, 300, 100, 15])
    assert r.tolist() == [5, 1, 4, 3, 2]
    assert f[0] == 5 and m[0] == 5


def test_a_large_tie_lands_where_its_middle_falls() -> None:
    # 70% of customers with one order: all of them score the quintile of the group's middle
    scores = quintile_scores([1] * 7 + [2, 3, 4])
    assert scores.tolist() == [2] * 7 + [4, 5, 5]


def test_every_default_segment_can_be_reached() -> None:
    grid = np.array([(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)])
    names = set(rfm_segments(grid[:, 0], grid[:, 1], grid[:, 2]).tolist())
    assert names == {rule.name for rule in DEFAULT_RULES} | {OTHERS}


@pytest.mark.parametrize(
    ("scores", "segment"),
    [
        ((5, 5, 5), "Champions"),
        ((1, 5, 5), "Can't Lose Them"),  # not At Risk: the narrower rule wins
        ((2, 4, 4), "At Risk"),
        ((3, 4, 4), "Loyal Customers"),
        ((5, 1, 1), "New Customers"),  # not Potential Loyalist
        ((3, 1, 1), "Promising"),
        ((3, 2, 3), "Need Attention"),
        ((1, 1, 1), "Lost"),
        ((2, 1, 2), "Hibernating"),
        ((3, 1, 2), "About To Sleep"),
        ((5, 2, 3), "Potential Loyalist"),
        ((5, 1, 5), OTHERS),
    ],
)
def test_default_map(scores: tuple[int, int, int], segment: str) -> None:
    r, f, m = scores
    assert rfm_segments([r], [f], [m]).tolist() == [segment]


def test_vectorised_segments_agree_with_the_rules_one_by_one() -> None:
    rng = np.random.default_rng(0)
    r, f, m = (rng.integers(1, 6, 2000) for _ in range(3))
    got = rfm_segments(r, f, m)
    for i in range(2000):
        want = next((rule.name for rule in DEFAULT_RULES if rule.matches(r[i], f[i], m[i])), OTHERS)
        assert got[i] == want


def test_rule_order_is_configurable() -> None:
    rules = rules_from_config(
        [
            {"name": "Whales", "m": [5, 5]},
            {"name": "Champions", "r": [4, 5], "f": [4, 5], "m": [4, 5]},
        ]
    )
    assert rules[0] == RfmRule("Whales", (1, 5), (1, 5), (5, 5))
    assert rfm_segments([5, 5, 1], [5, 5, 1], [5, 4, 1], rules).tolist() == [
        "Whales",
        "Champions",
        OTHERS,
    ]


@pytest.mark.parametrize(
    "item",
    [
        {"r": [1, 5]},
        {"name": "x", "r": [0, 5]},
        {"name": "x", "f": [4, 2]},
        {"name": "x", "m": [1]},
        {"name": "x", "m": [1.5, 2]},
        {"name": "x", "monetary": [1, 2]},
    ],
)
def test_bad_rules_are_refused_with_their_position(item) -> None:
    with pytest.raises(ValueError, match="rfm rule 1"):
        rules_from_config([item])


def test_scores_outside_1_to_5_are_refused() -> None:
    with pytest.raises(ValueError, match="between 1 and 5"):
        rfm_segments([0], [1], [1])
