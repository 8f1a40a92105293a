"""A journey split's results and its winner rule (docs/config.md#journeys, ``winner``).

Pure: ``split_tally`` counts, over customers' journey states, how many were given each variant and
how many of them ordered within the attribution window after entering; ``pick_winner`` applies a
split's ``winner: {metric: conversion, after, min_lift_ci}`` to such a tally with the intervals of
:mod:`nudge.core.stats` (Wilson per variant, Newcombe's hybrid interval for each difference).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nudge.core.stats import newcombe, wilson


@dataclass(slots=True)
class Arm:
    """One variant's customers and conversions."""

    entered: int = 0
    converted: int = 0


@dataclass(slots=True)
class Verdict:
    """The winner (None: not yet) and why, in numbers a report can print."""

    winner: str | None
    why: dict[str, Any] = field(default_factory=dict)


def split_tally(
    profiles: Iterable[dict[str, Any]], journey_id: str, split: str, window: float
) -> dict[str, Arm]:
    """Per variant of ``split`` in ``journey_id``: customers given it (running or finished
    walks) and those with an ``order_placed`` within ``window`` seconds after they entered."""
    arms: dict[str, Arm] = {}
    for profile in profiles:
        state = (profile.get("journeys") or {}).get(journey_id) or {}
        variant = (state.get("splits") or {}).get(split)
        if variant is None:
            continue
        arm = arms.setdefault(str(variant), Arm())
        arm.entered += 1
        start = float(state.get("entered") or 0)
        if any(
            h["type"] == "order_placed" and start <= h["ts"] <= start + window
            for h in profile.get("history") or ()
        ):
            arm.converted += 1
    return arms


def pick_winner(
    variants: Iterable[str], arms: dict[str, Arm], after: int, min_lift_ci: float
) -> Verdict:
    """The variant whose conversion beats every other one: each variant has at least ``after``
    customers, and the lower end of the 95% interval of its lift over each other variant
    (Newcombe) is above ``min_lift_ci``. Otherwise no winner, saying what is missing."""
    names = list(variants)
    tally = {v: arms.get(v, Arm()) for v in names}
    rates = {
        v: {
            "entered": a.entered,
            "converted": a.converted,
            "rate": round(wilson(a.converted, a.entered).estimate, 4),
        }
        for v, a in tally.items()
    }
    short = [v for v, a in tally.items() if a.entered < after]
    if short:
        return Verdict(None, {"waiting_for": short, "after": after, "variants": rates})
    best = max(names, key=lambda v: (tally[v].converted / tally[v].entered, v))
    lifts = {}
    for other in names:
        if other == best:
            continue
        a, b = tally[best], tally[other]
        lift = newcombe(a.converted, a.entered, b.converted, b.entered)
        lifts[other] = [round(lift.estimate, 4), round(lift.low, 4), round(lift.high, 4)]
    why = {"best": best, "lift_over": lifts, "min_lift_ci": min_lift_ci, "variants": rates}
    if all(low > min_lift_ci for _, low, _ in lifts.values()):
        return Verdict(best, why)
    return Verdict(None, why)


def add_to_tallies(
    tallies: dict[str, dict[str, list[int]]],
    profile: dict[str, Any],
    splits: Iterable[tuple[str, str]],
    window: float,
) -> None:
    """Count one customer into ``tallies`` (``"<journey>/<split>"`` -> variant -> [entered,
    converted], plain JSON for a resumable run's state) for each of ``splits``."""
    for journey_id, split in splits:
        arms = split_tally((profile,), journey_id, split, window)
        if not arms:
            continue
        into = tallies.setdefault(f"{journey_id}/{split}", {})
        for variant, arm in arms.items():
            counts = into.setdefault(variant, [0, 0])
            counts[0] += arm.entered
            counts[1] += arm.converted
