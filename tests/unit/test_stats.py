"""Wilson and Newcombe intervals against the worked examples in Newcombe (1998)."""

import pytest

from nudge.core.stats import newcombe, wilson


def test_wilson_matches_newcombe_table_examples() -> None:
    # Newcombe 1998 (proportions paper, table I): 81/263 -> 0.2553 to 0.3662.
    got = wilson(81, 263)
    assert (round(got.low, 4), round(got.high, 4)) == (0.2553, 0.3662)
    assert wilson(0, 0).high == 1.0


def test_newcombe_hybrid_matches_worked_examples() -> None:
    # Newcombe 1998 (difference paper, method 10): 56/70 - 48/80 -> 0.0524 to 0.3339.
    got = newcombe(56, 70, 48, 80)
    assert (round(got.low, 4), round(got.high, 4)) == (0.0524, 0.3339)
    assert not got.spans_zero()
    # 9/10 - 3/10 -> 0.1705 to 0.8090.
    got = newcombe(9, 10, 3, 10)
    assert (round(got.low, 4), round(got.high, 4)) == (0.1705, 0.8090)


def test_equal_groups_span_zero_and_bad_counts_refused() -> None:
    assert newcombe(5, 50, 5, 50).spans_zero()
    with pytest.raises(ValueError):
        wilson(11, 10)
