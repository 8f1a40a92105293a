"""Value tiers: a customer's place on the longevity x recency grid of ``segments.yaml``.

``value_tiers: {longevity: [90, 365], recency: [30, 90, 180], grid: [[...], ...]}`` (CONTRACT
section 3). Cut points split days into bands: with ``[90, 365]``, band 0 is < 90 days, band 1 is
90-364 and band 2 is >= 365 (a value equal to a cut point belongs to the band above it). The grid's
row is the longevity band (days since the first order), its column the recency band (days since
the last order). Customers with no order have no tier (None).

:func:`tier_for` is pure Python, for one profile on the event path; :func:`value_tiers` is the
numpy version for the daily recompute and imports numpy only when called.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class TierGrid:
    """Validated ``value_tiers`` config: cut points per axis and the grid of tier names."""

    longevity: tuple[float, ...]
    recency: tuple[float, ...]
    grid: tuple[tuple[str, ...], ...]

    @classmethod
    def from_config(cls, config: Any) -> TierGrid:
        """Accept the YAML mapping or any object with ``longevity``, ``recency`` and ``grid``
        attributes (such as the config model); raise ValueError if the shape is wrong."""
        if isinstance(config, TierGrid):
            return config

        def get(key: str) -> Any:
            return config.get(key) if isinstance(config, Mapping) else getattr(config, key, None)

        longevity, recency, grid = get("longevity"), get("recency"), get("grid")
        for name, cuts in (("longevity", longevity), ("recency", recency)):
            if not isinstance(cuts, Sequence) or isinstance(cuts, str):
                raise ValueError(f"value_tiers.{name} must be a list of cut points in days")
            if list(cuts) != sorted(cuts):
                raise ValueError(f"value_tiers.{name} cut points must be in increasing order")
        assert isinstance(longevity, Sequence) and isinstance(recency, Sequence)
        rows, cols = len(longevity) + 1, len(recency) + 1
        if (
            not isinstance(grid, Sequence)
            or len(grid) != rows
            or any(not isinstance(row, Sequence) or len(row) != cols for row in grid)
        ):
            raise ValueError(
                f"value_tiers.grid must have {rows} rows (longevity bands) of {cols} names "
                "(recency bands)"
            )
        return cls(
            longevity=tuple(float(c) for c in longevity),
            recency=tuple(float(c) for c in recency),
            grid=tuple(tuple(str(name) for name in row) for row in grid),
        )


def _missing(days: float | None) -> bool:
    return days is None or math.isnan(days)


def tier_for(longevity_days: float | None, recency_days: float | None, config: Any) -> str | None:
    """Tier name of one customer, or None when they have no order (either value None or NaN)."""
    if _missing(longevity_days) or _missing(recency_days):
        return None
    assert longevity_days is not None and recency_days is not None
    tiers = TierGrid.from_config(config)
    row = bisect_right(tiers.longevity, longevity_days)
    col = bisect_right(tiers.recency, recency_days)
    return tiers.grid[row][col]


def value_tiers(
    longevity_days: ArrayLike, recency_days: ArrayLike, config: Any
) -> NDArray[np.object_]:
    """Tier names for many customers at once (object array; None where either value is NaN)."""
    import numpy as np

    tiers = TierGrid.from_config(config)
    longevity = np.asarray(longevity_days, dtype=np.float64).ravel()
    recency = np.asarray(recency_days, dtype=np.float64).ravel()
    if longevity.shape != recency.shape:
        raise ValueError("longevity_days and recency_days must have the same length")
    row = np.searchsorted(np.asarray(tiers.longevity), longevity, side="right")
    col = np.searchsorted(np.asarray(tiers.recency), recency, side="right")
    names = np.array([name for line in tiers.grid for name in line] + [None], dtype=object)
    flat = row * (len(tiers.recency) + 1) + col
    flat[np.isnan(longevity) | np.isnan(recency)] = names.size - 1
    return np.asarray(names[flat], dtype=object)
