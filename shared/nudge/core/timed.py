"""Time-driven triggers: ``when: {event: daily}`` with ``at_local_time: "10:00"`` (docs/config.md,
"Time-driven triggers").

Pure. The daily recompute already reads every profile once a day; for each one it asks
:func:`due_daily` (no write) whether a time-driven trigger's ``who`` will hold at that trigger's
next ``at_local_time`` in the customer's own time zone (the shop's as a fallback). Only a
customer who is due costs a write: :func:`daily_plan` records one ``daily`` event per trigger and
local day (so a repeated run adds nothing) and schedules the message as a wait ending at that
local time, when everything (``who``, cooldown, consent, caps) is checked again, as after any
``wait``.

``at_local_time`` on an event-driven trigger makes the message wait for the next such local time
(after its ``wait``, if it has one): see :func:`wait_due`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from nudge.core.clock import iso
from nudge.core.decisions import Plan, Wait, stable_id
from nudge.core.delivery import customer_zone
from nudge.core.durations import seconds
from nudge.core.events import NUDGE_SOURCE, Event
from nudge.core.gate import SUPPRESS, audience_ok, choose_channel, decision, inactive
from nudge.core.localtime import next_local_time
from nudge.core.profile import apply_event, is_duplicate, profile_view, remembers
from nudge.core.replenish import due_reminders
from nudge.core.rules import Ctx

if TYPE_CHECKING:
    from nudge.config import CompiledConfig, CompiledTrigger

DAILY = "daily"
REPLENISHMENT = "replenishment_due"


def wait_due(
    trigger: CompiledTrigger, view: dict[str, Any], config: CompiledConfig, now: datetime
) -> datetime:
    """When a waiting message of ``trigger`` is due: ``now`` + its ``wait``, moved on to the
    next ``at_local_time`` in the customer's zone when it has one."""
    due = now + timedelta(seconds=trigger.wait or 0)
    if trigger.at_local is None:
        return due
    zone = customer_zone(view, config.settings.timezone)
    return next_local_time(due, zone, trigger.at_local, inclusive=True)


def due_daily(
    view: dict[str, Any], config: CompiledConfig, now: datetime
) -> list[tuple[CompiledTrigger, datetime]]:
    """The time-driven triggers this customer is due for, each with the UTC moment of its next
    ``at_local_time`` in the customer's zone; ``who`` is tested at that moment (a birthday is
    "today" on the day of the send, in the customer's calendar)."""
    triggers = config.by_event.get(DAILY)
    if not triggers:
        return []
    zone = customer_zone(view, config.settings.timezone)
    out = []
    for trigger in triggers:
        if trigger.at_local is None:
            continue
        at = next_local_time(now, zone, trigger.at_local, inclusive=True)
        if inactive(trigger, at) is None and audience_ok(trigger, view, at.timestamp()):
            out.append((trigger, at))
    return out


def daily_plan(
    profile: dict[str, Any], view: dict[str, Any], config: CompiledConfig, now: datetime
) -> Plan:
    """Record a ``daily`` event per due trigger and schedule its message for the local time;
    an event already recorded (the same trigger and local day) is skipped."""
    plan = Plan()
    zone = customer_zone(view, config.settings.timezone)
    customer_id = profile["customer_id"]
    for trigger, at in due_daily(view, config, now):
        local = at.astimezone(zone)
        event = Event(
            id=stable_id(customer_id, DAILY, trigger.id, local.date().isoformat()),
            type=DAILY,
            source=NUDGE_SOURCE,
            time=now,
            customer_id=customer_id,
            properties={
                "date": local.date().isoformat(),
                "at_local_time": local.strftime("%H:%M"),
            },
        )
        if is_duplicate(profile, event) or not trigger.where(Ctx(event.as_doc())):
            continue
        apply_event(profile, event, config.history_seconds, now)
        channel, reason, detail = choose_channel(trigger, view, config)
        if channel is None:
            plan.decisions.append(
                decision(customer_id, trigger.id, now, SUPPRESS, reason, event, detail=detail)
            )
            continue
        wait_id = stable_id(customer_id, trigger.id, event.id)
        plan.waits.append(Wait(wait_id, trigger.id, iso(now), iso(at), event.to_envelope()))
        plan.decisions.append(
            decision(
                customer_id,
                trigger.id,
                now,
                "scheduled",
                None,
                event,
                detail={"at_local_time": local.strftime("%H:%M"), "due_at": iso(at)},
            )
        )
    return plan


def replenishment_events(
    profile: dict[str, Any],
    config: CompiledConfig,
    now: datetime,
    intervals: Mapping[str, float],
) -> list[Event]:
    """The ``replenishment_due`` events the profile is due for now (``nudge.core.replenish``),
    already recorded ones included (the caller skips those)."""
    settings = config.settings.replenishment
    if settings is None or not profile.get("purchases"):
        return []
    zone = customer_zone(profile, config.settings.timezone)
    reminders = due_reminders(
        profile,
        intervals,
        default_days=seconds(settings.interval) / 86400,
        lead_days=seconds(settings.lead) / 86400,
        by=settings.by,
        now=now,
        zone=zone,
    )
    return [
        Event(
            id=stable_id(profile["customer_id"], REPLENISHMENT, key),
            type=REPLENISHMENT,
            source=NUDGE_SOURCE,
            time=now,
            customer_id=profile["customer_id"],
            properties=props,
        )
        for key, props in reminders
    ]


def nightly_due(
    doc: dict[str, Any],
    config: CompiledConfig,
    now: datetime,
    intervals: Mapping[str, float] | None = None,
) -> bool:
    """Has the daily recompute anything time-driven to do for this stored profile (a daily
    trigger, a replenishment reminder)? A dry run on the scanned document: no read, no write."""
    if doc.get("merged_into"):
        return False
    if any(
        not remembers(doc, e.id) for e in replenishment_events(doc, config, now, intervals or {})
    ):
        return True
    if not config.by_event.get(DAILY):
        return False
    view = profile_view(doc, now, config.value_tiers)
    zone = customer_zone(view, config.settings.timezone)
    for trigger, at in due_daily(view, config, now):
        day = at.astimezone(zone).date().isoformat()
        if not remembers(doc, stable_id(doc["customer_id"], DAILY, trigger.id, day)):
            return True
    return False


def nightly_plan(
    profile: dict[str, Any],
    config: CompiledConfig,
    now: datetime,
    intervals: Mapping[str, float] | None = None,
) -> Plan:
    """The time-driven work of the daily recompute for one profile read for its write:
    replenishment reminders recorded and decided on (and announced on the bus), then the
    daily triggers scheduled."""
    from nudge.core.decide import decide  # decide imports wait_due from here

    plan = Plan()
    view: dict[str, Any] | None = None
    for event in replenishment_events(profile, config, now, intervals or {}):
        if is_duplicate(profile, event):
            continue
        apply_event(profile, event, config.history_seconds, now)
        view = profile_view(profile, now, config.value_tiers)
        plan.merge(decide(profile, view, event, config, now))
        plan.emit.append(event.to_envelope())
    if config.by_event.get(DAILY):
        view = profile_view(profile, now, config.value_tiers)
        plan.merge(daily_plan(profile, view, config, now))
    return plan
