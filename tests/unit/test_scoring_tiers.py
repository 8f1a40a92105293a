"""Value tiers: longevity x recency bands on the segments.yaml grid; no order, no tier."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nudge
from nudge.scoring.tiers import TierGrid, tier_for, value_tiers

CONFIG = {  # CONTRACT section 3
    "longevity": [90, 365],
    "recency": [30, 90, 180],
    "grid": [
        ["rising", "steady", "fading", "lost"],
        ["loyal", "steady", "fading", "lost"],
        ["champion", "loyal", "fading", "lost"],
    ],
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
        (5, 500, "lost"),
    ],
)
def test_contract_grid(longevity: float, recency: float, tier: str) -> None:
    assert tier_for(longevity, recency, CONFIG) == tier
    assert value_tiers([longevity], [recency], CONFIG).tolist() == [tier]


def test_customers_without_orders_have_no_tier() -> None:
    assert tier_for(None, None, CONFIG) is None
    assert tier_for(math.nan, 3, CONFIG) is None
    tiers = value_tiers([np.nan, 400, 20], [np.nan, 10, np.nan], CONFIG)
    assert tiers.tolist() == [None, "champion", None]


days = st.floats(0, 5000, allow_nan=False) | st.just(math.nan)


@settings(deadline=None)
@given(st.lists(st.tuples(days, days), max_size=50))
def test_vectorised_tiers_agree_with_one_at_a_time(pairs: list[tuple[float, float]]) -> None:
    longevity = np.array([p[0] for p in pairs], dtype=float)
    recency = np.array([p[1] for p in pairs], dtype=float)
    assert value_tiers(longevity, recency, CONFIG).tolist() == [
        tier_for(lo, re, CONFIG) for lo, re in pairs
    ]


def test_config_objects_with_attributes_are_accepted() -> None:
    model = SimpleNamespace(**CONFIG)  # as the parsed segments.yaml model carries it
    assert tier_for(400, 10, model) == "champion"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grid": [["a", "b", "c", "d"]] * 2}, "3 rows"),
        ({"grid": [["a", "b"]] * 3}, "4 names"),
        ({"longevity": [365, 90]}, "increasing"),
        ({"recency": "30"}, "list of cut points"),
    ],
)
def test_misshapen_grids_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TierGrid.from_config({**CONFIG, **change})


def test_the_one_profile_version_does_not_import_numpy() -> None:
    # The event path computes a tier per event; numpy must stay off it.
    code = (
        "import sys; from nudge.scoring.tiers import tier_for; "
        "assert tier_for(400, 10, {'longevity': [90], 'recency': [30], "
        "'grid': [['a', 'b'], ['c', 'd']]}) == 'c'; "
        "assert 'numpy' not in sys.modules, 'numpy imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(nudge.__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
