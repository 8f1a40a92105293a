"""React to an event: refresh segments and tier, decide on the event and on every change it made.

Pure: the profile document, the compiled config and ``now`` in; the profile updated in place and
a ``Plan`` out. Segment and tier changes become nudge's own events (``segment_entered``,
``segment_exited``, ``value_tier_changed``), applied to the profile and decided on in the same
pass, so nudge never reads its own events back from the bus.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nudge.core.decide import compute_segments, decide
from nudge.core.decisions import Plan, stable_id
from nudge.core.events import NUDGE_SOURCE, Event
from nudge.core.milestones import crossings
from nudge.core.profile import apply_event, is_duplicate, profile_view

if TYPE_CHECKING:
    from nudge.config import CompiledConfig


def refresh_view(profile: dict[str, Any], config: CompiledConfig, now: datetime) -> dict[str, Any]:
    """Derived view with segments recomputed; the profile keeps the segment list too."""
    view = profile_view(profile, now, config.value_tiers)
    segments = compute_segments(view, config, now.timestamp())
    profile["segments"] = view["segments"] = segments
    profile["value_tier"] = view["value_tier"]
    return view


def derived_events(
    profile: dict[str, Any],
    before: tuple[set[str], str | None],
    view: dict[str, Any],
    cause: str,
    now: datetime,
) -> list[Event]:
    """``segment_entered``/``segment_exited``/``value_tier_changed`` for what just changed."""
    segments, tier = before
    after = set(view.get("segments") or [])
    changes: list[tuple[str, dict[str, Any]]] = []
    changes += [("segment_entered", {"segment": s}) for s in sorted(after - segments)]
    changes += [("segment_exited", {"segment": s}) for s in sorted(segments - after)]
    if view.get("value_tier") != tier:
        changes.append(("value_tier_changed", {"from": tier, "to": view.get("value_tier")}))
    return [
        Event(
            id=stable_id(cause, profile["customer_id"], kind, json.dumps(props, sort_keys=True)),
            type=kind,
            source=NUDGE_SOURCE,
            time=now,
            customer_id=profile["customer_id"],
            properties=props,
        )
        for kind, props in changes
    ]


def milestone_events(
    profile: dict[str, Any], view: dict[str, Any], config: CompiledConfig, cause: str, now: datetime
) -> list[Event]:
    """``milestone_reached`` for each milestone the profile crossed (``nudge.core.milestones``)."""
    return [
        Event(
            id=stable_id(cause, profile["customer_id"], "milestone_reached", props["milestone"]),
            type="milestone_reached",
            source=NUDGE_SOURCE,
            time=now,
            customer_id=profile["customer_id"],
            properties=props,
        )
        for props in crossings(profile, view, config.milestones)
    ]


def react(
    profile: dict[str, Any],
    config: CompiledConfig,
    now: datetime,
    event: Event | None = None,
    cause: str | None = None,
) -> Plan:
    """Refresh segments and tier, decide on ``event`` and on every change it caused.

    Changes are applied to the profile like events (so ``did: segment_entered`` works), decided
    on in the same pass, and announced on the bus after the write (``Plan.emit``).
    """
    before = (set(profile.get("segments") or []), profile.get("value_tier"))
    view = refresh_view(profile, config, now)
    plan = decide(profile, view, event, config, now) if event is not None else Plan()
    changes = derived_events(profile, before, view, cause or (event.id if event else ""), now)
    changes += milestone_events(profile, view, config, cause or (event.id if event else ""), now)
    for change in changes:
        if is_duplicate(profile, change):
            continue
        apply_event(profile, change, config.history, now)
        view["history"] = profile.get("history")
        plan.merge(decide(profile, view, change, config, now))
        plan.emit.append(change.to_envelope())
    return plan
