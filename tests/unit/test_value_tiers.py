"""Value tiers: longevity x recency bands on the segments.yaml grid; no order, no tier.

One implementation (``nudge.core.profile.value_tier``), used by the event path, the API, the
simulator and the daily recompute alike (each through ``profile_view``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

import nudge
from nudge.config.schema import ValueTiers
from nudge.core.clock import iso, parse_time
from nudge.core.profile import profile_view, value_tier

TIERS = ValueTiers(  # docs/config.md §5
    longevity=[90, 365],
    recency=[30, 90, 180],
    grid=[
        ["rising", "steady", "fading", "lost"],
        ["loyal", "steady", "fading", "lost"],
        ["champion", "loyal", "fading", "lost"],
    ],
)
NOW = parse_time("2027-06-01T00:00:00Z")


def _profile(first_days_ago: float, last_days_ago: float) -> dict:
    return {
        "customer_id": "c1",
        "orders_count": 2,
        "lifetime_value": 120.0,
        "first_order_at": iso(NOW - timedelta(days=first_days_ago)),
        "last_order_at": iso(NOW - timedelta(days=last_days_ago)),
    }


@pytest.mark.parametrize(
    ("longevity", "recency", "tier"),
    [
        (10, 5, "rising"),
        (89, 29, "rising"),
        (90, 29, "loyal"),  # a cut point belongs to the band above it
        (90, 30, "steady"),
        (364, 89, "steady"),
        (365, 10, "champion"),
        (400, 60, "loyal"),
        (1000, 120, "fading"),
        (1000, 180, "lost"),
        (500, 500, "lost"),
    ],
)
def test_contract_grid(longevity: float, recency: float, tier: str) -> None:
    assert profile_view(_profile(longevity, recency), NOW, TIERS)["value_tier"] == tier


def test_customers_without_orders_or_without_a_grid_have_no_tier() -> None:
    assert profile_view({"customer_id": "c2"}, NOW, TIERS)["value_tier"] is None
    assert profile_view(_profile(400, 10), NOW, None)["value_tier"] is None
    assert value_tier({"orders_count": 1, "days_since_first_order": None}, TIERS) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grid": [["a", "b", "c", "d"]] * 2}, "3 rows"),
        ({"grid": [["a", "b"]] * 3}, "4 names"),
        ({"longevity": [365, 90]}, "increasing"),
    ],
)
def test_misshapen_grids_are_refused_by_the_config(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ValueTiers(**{**TIERS.model_dump(), **change})


def test_the_event_path_tier_does_not_import_numpy() -> None:
    # The event path computes a tier per event; numpy must stay off it.
    code = (
        "import sys; from types import SimpleNamespace as N; from nudge.core.profile import value_tier; "
        "t = N(longevity=[90], recency=[30], grid=[['a', 'b'], ['c', 'd']]); "
        "assert value_tier({'orders_count': 1, 'days_since_first_order': 400, "
        "'days_since_last_order': 10}, t) == 'c'; "
        "assert 'numpy' not in sys.modules, 'numpy imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(nudge.__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
