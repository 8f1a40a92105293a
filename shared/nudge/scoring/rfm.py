"""RFM: recency, frequency and monetary scores (1-5 by quintile) and the segment names they map to.

Scores rank each customer against the whole customer base. Recency scores 5 for the most recent
buyers (fewest days since the last order); frequency and monetary score 5 for the most orders and
the most spend. Equal values always get equal scores: a group of tied customers is placed at the
middle of the ranks it spans, so the score depends on the value alone, never on row order, and a
large tie (say every one-order customer) lands in the quintile its middle falls in.

Segments follow the CRAN ``rfm`` package's map (R/F/M score ranges), checked in order, first match
wins, anything unmatched is "Others". The ranges overlap, so the default order puts the narrower
rule first; pass your own rules (``{name, r: [lo, hi], f: [lo, hi], m: [lo, hi]}``) to change it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nudge.scoring._arrays import as_float_array, codes_of

OTHERS = "Others"
_SCORES = range(1, 6)


@dataclass(frozen=True)
class RfmRule:
    """One segment: inclusive score ranges for R, F and M (1-5)."""

    name: str
    r: tuple[int, int] = (1, 5)
    f: tuple[int, int] = (1, 5)
    m: tuple[int, int] = (1, 5)

    def matches(self, r: int, f: int, m: int) -> bool:
        """Whether the scores fall in all three ranges."""
        return all(lo <= s <= hi for s, (lo, hi) in ((r, self.r), (f, self.f), (m, self.m)))


# CRAN rfm ranges, reordered so narrower rules win; Lost is narrowed to R = 1 so that the
# popular "Hibernating" (low everything, R = 2) can exist. A test checks every name is reachable.
DEFAULT_RULES: tuple[RfmRule, ...] = (
    RfmRule("Champions", (4, 5), (4, 5), (4, 5)),
    RfmRule("Can't Lose Them", (1, 1), (4, 5), (4, 5)),
    RfmRule("At Risk", (1, 2), (2, 5), (2, 5)),
    RfmRule("Loyal Customers", (2, 5), (3, 5), (3, 5)),
    RfmRule("New Customers", (4, 5), (1, 1), (1, 1)),
    RfmRule("Promising", (3, 4), (1, 1), (1, 1)),
    RfmRule("Need Attention", (2, 3), (2, 3), (2, 3)),
    RfmRule("Lost", (1, 1), (1, 2), (1, 2)),
    RfmRule("Hibernating", (1, 2), (1, 2), (1, 2)),
    RfmRule("About To Sleep", (2, 3), (1, 2), (1, 2)),
    RfmRule("Potential Loyalist", (3, 5), (1, 3), (1, 3)),
)


def rules_from_config(items: Iterable[Mapping[str, Any]]) -> tuple[RfmRule, ...]:
    """Build rules from ``[{name, r: [lo, hi], f: [lo, hi], m: [lo, hi]}, ...]`` (a missing
    score means any); raise ValueError saying which rule is wrong."""
    rules = []
    for position, item in enumerate(items, start=1):
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"rfm rule {position}: name must be a non-empty string")
        ranges: dict[str, tuple[int, int]] = {}
        for key in ("r", "f", "m"):
            value = item.get(key, (1, 5))
            if (
                not isinstance(value, Sequence)
                or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                or not 1 <= value[0] <= value[1] <= 5
            ):
                raise ValueError(
                    f"rfm rule {position} ({name}): {key} must be [lo, hi] with 1 <= lo <= hi <= 5"
                )
            ranges[key] = (int(value[0]), int(value[1]))
        unknown = set(item) - {"name", "r", "f", "m"}
        if unknown:
            raise ValueError(f"rfm rule {position} ({name}): unknown keys {sorted(unknown)}")
        rules.append(RfmRule(name, ranges["r"], ranges["f"], ranges["m"]))
    return tuple(rules)


def quintile_scores(values: ArrayLike, *, higher_is_better: bool = True) -> NDArray[np.int8]:
    """Score each value 1-5 by its quintile in ``values`` (5 = best).

    Ties share the score of their group's middle rank, so equal values score equally, scores never
    decrease as values improve, and with distinct values each score holds a fifth (+-1) of them.
    """
    array = as_float_array(values, "values")
    if array.size == 0:
        return np.zeros(0, dtype=np.int8)
    codes, values = codes_of(array if higher_is_better else -array)
    counts = np.bincount(codes, minlength=values.size)  # codes follow the order of values
    ends = np.cumsum(counts)
    middle_rank = ends - counts / 2.0  # middle of the group's ranks, in (0, n]
    score_per_value = np.floor(5.0 * middle_rank / array.size) + 1.0
    scores = np.clip(score_per_value, 1, 5).astype(np.int8)
    return scores[codes]


def rfm_scores(
    recency_days: ArrayLike, frequency: ArrayLike, monetary: ArrayLike
) -> tuple[NDArray[np.int8], NDArray[np.int8], NDArray[np.int8]]:
    """R, F, M scores for customers with orders: fewer days since the last order, more orders and
    more spend score higher."""
    r = quintile_scores(recency_days, higher_is_better=False)
    f = quintile_scores(frequency)
    m = quintile_scores(monetary)
    if not r.shape == f.shape == m.shape:
        raise ValueError("recency_days, frequency and monetary must have the same length")
    return r, f, m


def segment_table(rules: Sequence[RfmRule] = DEFAULT_RULES) -> NDArray[np.int16]:
    """Segment index for every (r, f, m) score triple, indexed ``[r-1, f-1, m-1]``; the index
    ``len(rules)`` means "Others"."""
    table = np.full((5, 5, 5), len(rules), dtype=np.int16)
    for r in _SCORES:
        for f in _SCORES:
            for m in _SCORES:
                for index, rule in enumerate(rules):
                    if rule.matches(r, f, m):
                        table[r - 1, f - 1, m - 1] = index
                        break
    return table


def rfm_segments(
    r: ArrayLike, f: ArrayLike, m: ArrayLike, rules: Sequence[RfmRule] = DEFAULT_RULES
) -> NDArray[np.object_]:
    """Segment name for each customer's scores (1-5): first matching rule, else "Others"."""
    rs, fs, ms = (np.asarray(s, dtype=np.int64) for s in (r, f, m))
    if not rs.shape == fs.shape == ms.shape:
        raise ValueError("r, f and m must have the same length")
    for label, s in (("r", rs), ("f", fs), ("m", ms)):
        if s.size and (s.min() < 1 or s.max() > 5):
            raise ValueError(f"{label} scores must be between 1 and 5")
    names = np.array([rule.name for rule in rules] + [OTHERS], dtype=object)
    codes = segment_table(rules)[rs - 1, fs - 1, ms - 1]
    return np.asarray(names[codes], dtype=object)


def score_cuts(values: ArrayLike, *, higher_is_better: bool = True) -> list[float | None]:
    """Where the quintile score of ``values`` steps up to 2, 3, 4 and 5: four cut points.

    ``scores_from_cuts(v, score_cuts(values))`` equals ``quintile_scores(values)`` for every value
    of the base, and places any other value where it falls between them, so a run can fit the
    cut points on the whole base once and score customers page by page later. Cut points are on
    ``values`` themselves, or on ``-values`` when lower is better (recency); None means no value
    reached that score (a big tie can leave a score empty).
    """
    array = as_float_array(values, "values")
    keyed = array if higher_is_better else -array
    if array.size == 0:
        return [None] * 4
    scores = quintile_scores(array, higher_is_better=higher_is_better)
    cuts: list[float | None] = []
    for score in range(2, 6):
        reached = scores >= score
        cuts.append(float(keyed[reached].min()) if reached.any() else None)
    return cuts


def scores_from_cuts(
    values: ArrayLike, cuts: Sequence[float | None], *, higher_is_better: bool = True
) -> NDArray[np.int8]:
    """Score values 1-5 against cut points from :func:`score_cuts` (same ``higher_is_better``)."""
    array = as_float_array(values, "values")
    keyed = array if higher_is_better else -array
    scores = np.ones(array.shape, dtype=np.int8)
    for cut in cuts:
        if cut is not None:
            scores += (keyed >= cut).astype(np.int8)
    return scores
