"""The typical re-order interval of every product and category, from the daily recompute's
gather pass (docs/scoring.md, "Replenishment"; the per-customer side is
``nudge.core.replenish``).

Pure Python, no numpy: each profile's ``purchases`` map adds its customer's own interval (in
whole days) to a per-key histogram; the histograms of all segments are merged and each
key with at least ``min_buyers`` buyers gets the median. A histogram is bounded by the number of
distinct intervals (at most ``MAX_DAYS``), not by the number of customers, so the run keeps it
in a few chunk items however large the base (``parts``: ``KEYS_PER_CHUNK`` keys each); at most
``MAX_KEYS`` keys are kept (those with the most buyers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nudge.core.replenish import own_interval

MAX_DAYS = 730  # intervals longer than two years are not re-orders
MAX_KEYS = 2000
KEYS_PER_CHUNK = 400  # ~30 KB compressed per chunk at 1M orders (bench/replenish.py)
Histograms = dict[str, dict[str, int]]  # key -> {interval in days as text: buyers}


def add_profile(hist: Histograms, doc: Mapping[str, Any]) -> None:
    """Add one profile's own intervals to ``hist``."""
    for key, entry in (doc.get("purchases") or {}).items():
        try:
            days = own_interval(entry)
        except (TypeError, ValueError, IndexError):
            continue
        if days is None or days > MAX_DAYS:
            continue
        bucket = hist.setdefault(key, {})
        label = str(round(days))
        bucket[label] = bucket.get(label, 0) + 1


def parts(hist: Histograms) -> list[Histograms]:
    """``hist`` cut into pieces of at most ``KEYS_PER_CHUNK`` keys (one chunk item each)."""
    keys = sorted(hist)
    return [
        {k: hist[k] for k in keys[i : i + KEYS_PER_CHUNK]}
        for i in range(0, len(keys), KEYS_PER_CHUNK)
    ]


def merge(parts: Iterable[Mapping[str, Mapping[str, int]]]) -> Histograms:
    """The sum of several histograms, cut to the ``MAX_KEYS`` keys with the most buyers."""
    out: Histograms = {}
    for part in parts:
        for key, bucket in part.items():
            mine = out.setdefault(key, {})
            for label, n in bucket.items():
                mine[label] = mine.get(label, 0) + int(n)
    if len(out) > MAX_KEYS:
        keep = sorted(out, key=lambda k: -sum(out[k].values()))[:MAX_KEYS]
        out = {k: out[k] for k in keep}
    return out


def median(bucket: Mapping[str, int]) -> float:
    """The median of a histogram (the mean of the two middle values for an even count)."""
    values = sorted((float(label), n) for label, n in bucket.items())
    total = sum(n for _, n in values)
    wanted = [(total - 1) // 2, total // 2]
    found: list[float] = []
    seen = 0
    for value, n in values:
        while len(found) < 2 and wanted[len(found)] < seen + n:
            found.append(value)
        seen += n
    return (found[0] + found[1]) / 2


def fit_intervals(hist: Mapping[str, Mapping[str, int]], min_buyers: int) -> dict[str, float]:
    """Typical interval (days, 1 decimal) of each key with at least ``min_buyers`` buyers."""
    return {
        key: round(median(bucket), 1)
        for key, bucket in sorted(hist.items())
        if sum(bucket.values()) >= min_buyers
    }
