"""Milestones: a profile number crossing a threshold (``orders_count`` reaching 10,
``lifetime_value`` crossing 1000) announced once per customer as ``milestone_reached``
(docs/config.md, "Milestones").

Pure. Each milestone's state lives in the profile's ``milestones`` map: ``0`` while the customer
is below the threshold, ``1`` once reached. A crossing is a value at or above the threshold on a
profile last seen below it; it fires once, ever: a refund that takes the customer back below
does not make a second crossing fire. A customer first seen already past a milestone (an
imported history, a milestone added to config later) is marked reached without an event, so
adding a milestone never messages the whole base at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BELOW, REACHED = 0, 1


def crossings(
    profile: dict[str, Any], view: Mapping[str, Any], milestones: Mapping[str, tuple[str, float]]
) -> list[dict[str, Any]]:
    """Update ``profile["milestones"]`` from ``view`` and return the properties of each
    ``milestone_reached`` to announce now (``milestone``, ``field``, ``threshold``, ``value``)."""
    if not milestones:
        return []
    state = profile.setdefault("milestones", {})
    out = []
    for name, (field, threshold) in sorted(milestones.items()):
        value = view.get(field)
        number = (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
        )
        before = state.get(name)
        if before == REACHED:
            continue
        if number >= threshold:
            state[name] = REACHED
            if before == BELOW:
                out.append(
                    {"milestone": name, "field": field, "threshold": threshold, "value": value}
                )
        elif before is None:
            state[name] = BELOW
    return out


def merge_milestones(profile: dict[str, Any], other: Mapping[str, int]) -> None:
    """Fold another profile's milestone states into ``profile``'s: reached by either is
    reached, so a merged guest's milestone is never announced a second time."""
    if not other:
        return
    state = profile.setdefault("milestones", {})
    for name, value in other.items():
        state[name] = max(int(state.get(name, value)), int(value))
