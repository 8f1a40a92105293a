"""The daily recompute's row maths, pure: a profile's summary row, packed rows, score moves.

``nudge.flows.score`` runs the recompute (scan, checkpoint, lease, writes); this module holds
what it computes per profile and needs no AWS: the ``(x, t_x, T, m, recency, frequency,
monetary)`` summary of a profile's live orders, the packing of rows into chunk items, and
whether new scores (or the segments and tier they imply) are worth a write.
"""

from __future__ import annotations

import math
import zlib
from array import array
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nudge.core.clock import parse_time
from nudge.core.decide import compute_segments
from nudge.core.profile import profile_view

if TYPE_CHECKING:
    from nudge.config import CompiledConfig

SCORE_KEYS = (
    "rfm",
    "p_alive",
    "churn_risk",
    "expected_orders_90d",
    "next_order_expected_at",
    "pltv",
)
# a score is rewritten when it moved by at least (absolute, relative to the stored value): time
# alone moves P(alive) and pLTV a little every day, and a write per customer per day would cost
# more than the precision is worth (docs/scoring.md, "What a run writes")
SCORE_TOLERANCE = {"p_alive": (0.02, 0.0), "expected_orders_90d": (0.02, 0.05), "pltv": (1.0, 0.05)}
_DAY = 86400.0
NEXT_ORDER_TOLERANCE_DAYS = 7


def _net(order: dict[str, Any]) -> float:
    return max(0.0, float(order.get("value") or 0) - float(order.get("refunded") or 0))


def summary(profile: dict[str, Any], as_of: datetime) -> tuple[float, ...] | None:
    """``(x, t_x, T, m, recency, frequency, monetary)`` of a profile at ``as_of``, times in whole
    days (as lifetimes summarises with ``freq="D"``); None without a live order.

    Void orders (refunded in full) are left out; partial refunds lower an order's value.
    ``T`` is at least one day, so a customer whose first order is hours old can still be scored.
    """
    live = [o for o in profile.get("orders") or () if not o.get("void")]
    if not live:
        return None
    live.sort(key=lambda o: o["at"])
    first, last = parse_time(live[0]["at"]), parse_time(live[-1]["at"])
    count = max(int(profile.get("orders_count") or 0), len(live))
    if count > len(live) and profile.get("first_order_at"):
        first = min(first, parse_time(profile["first_order_at"]))  # older orders were trimmed
    T = max(1.0, math.floor((as_of - first).total_seconds() / _DAY))
    x = float(count - 1)
    t_x = 0.0 if x == 0 else min(T, max(0.0, math.floor((last - first).total_seconds() / _DAY)))
    nets = [_net(o) for o in live]
    if len(nets) > 1:
        m = sum(nets[1:]) / (len(nets) - 1)
    else:
        m = float(profile.get("lifetime_value") or 0.0) / count if x > 0 else 0.0
    recency = max(0.0, math.floor((as_of - last).total_seconds() / _DAY))
    monetary = float(profile.get("lifetime_value") or 0.0)
    return (x, t_x, T, round(m, 2), recency, float(count), monetary)


UNREADABLE: tuple[float, ...] = ()
"""The row of a profile whose orders cannot be read (the run logs and counts it)."""


def pack(rows: list[tuple[float, ...]]) -> bytes:
    """Rows as one compressed chunk of float64s (what a run saves when it must stop)."""
    flat = array("d")
    for row in rows:
        flat.extend(row)
    return zlib.compress(flat.tobytes(), 1)


def unpack(chunks: list[bytes]) -> array[float]:
    """The flat float64 rows of ``pack``ed chunks, in order."""
    flat = array("d")
    for data in chunks:
        flat.frombytes(zlib.decompress(data))
    return flat


# -- which scores are worth a write -----------------------------------------------------------------------------


def _moved(key: str, old: Any, new: Any, scored_at: Any = None) -> bool:
    """Is the new score worth a write? RFM and the churn band on any change; the predicted next
    order when it moved by ``NEXT_ORDER_TOLERANCE_DAYS`` or a tenth of the wait it predicted
    (each silent day pushes it back by a day or more); the others when they moved by more than
    ``SCORE_TOLERANCE`` (absolute, or relative to the old value, whichever is larger)."""
    if old is None or new is None:
        return old is not new
    if key in ("rfm", "churn_risk"):
        return bool(old != new)
    if key == "next_order_expected_at":
        moved = abs((parse_time(new) - parse_time(old)).total_seconds())
        wait = (parse_time(old) - parse_time(scored_at)).total_seconds() if scored_at else 0.0
        return moved >= max(NEXT_ORDER_TOLERANCE_DAYS * _DAY, 0.1 * wait)
    absolute, relative = SCORE_TOLERANCE[key]
    return abs(float(new) - float(old)) >= max(absolute, relative * abs(float(old)))


def apply_scores(profile: dict[str, Any], scores: dict[str, Any] | None, scored_at: str) -> bool:
    """Put the run's scores on the profile if any of them moved enough (then all of them, as
    computed, with ``scored_at``); True if they did."""
    new = {key: scores.get(key) if scores else None for key in SCORE_KEYS}
    before = profile.get("scored_at")
    if not any(_moved(key, profile.get(key), new[key], before) for key in SCORE_KEYS):
        return False
    profile.update(new)
    profile["scored_at"] = scored_at
    return True


def _segments_and_tier(profile: dict[str, Any], config: CompiledConfig, now: datetime) -> Any:
    view = profile_view(profile, now, config.value_tiers)
    return set(compute_segments(view, config, now.timestamp())), view["value_tier"]


def would_change(
    doc: dict[str, Any], scores: dict[str, Any] | None, config: CompiledConfig, now: datetime
) -> bool:
    """Would this run change the profile (scores, segments or tier)? Read-only dry run, so that
    customers with nothing new cost neither a read nor a write."""
    probe = dict(doc)  # apply_scores and the view only set top-level keys
    if apply_scores(probe, scores, ""):
        return True
    segments, tier = _segments_and_tier(probe, config, now)
    return segments != set(doc.get("segments") or []) or tier != doc.get("value_tier")
