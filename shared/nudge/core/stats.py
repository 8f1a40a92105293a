"""Interval statistics for lift: Wilson score intervals and Newcombe's hybrid interval.

Pure Python (no numpy), so both the CLI-side lift report and a journey split's winner rule can
use them. Newcombe (1998), "Interval estimation for the difference between independent
proportions", method 10: the hybrid score interval built from the two Wilson intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal


@dataclass(frozen=True)
class Interval:
    """A point estimate with its lower and upper bound."""

    estimate: float
    low: float
    high: float

    def spans_zero(self) -> bool:
        """True when the interval cannot tell a positive effect from a negative one."""
        return self.low <= 0.0 <= self.high


def wilson(successes: int, n: int, z: float = Z95) -> Interval:
    """Wilson score interval for a proportion; (0, 0, 1) when there are no trials."""
    if n <= 0:
        return Interval(0.0, 0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes {successes} outside 0..{n}")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Interval:
    """Newcombe's hybrid Wilson interval for p1 - p2 (group 1 treated, group 2 control)."""
    a = wilson(x1, n1, z)
    b = wilson(x2, n2, z)
    diff = a.estimate - b.estimate
    low = diff - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = diff + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(diff, low, high)
