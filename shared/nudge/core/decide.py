"""decide: pure function from (profile, event, config, now) to decisions (docs/reference.md#decisions).

No AWS, no clock, no I/O. Triggers are indexed by event type, so an event only costs the
triggers that listen to it. Whether a trigger may message the customer now (active, audience,
cooldown, channel) is :mod:`nudge.core.gate`; its names are importable from here too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from nudge.core.clock import iso
from nudge.core.decisions import Decision, Message, Plan, Wait, stable_id
from nudge.core.durations import seconds
from nudge.core.events import ENGAGEMENT_TYPES, Event, envelope_doc
from nudge.core.gate import (
    SUPPRESS,
    TRANSACTIONAL,
    address_detail,
    audience_detail,
    audience_ok,
    blocked,
    cap_scope,
    channel_block,
    choose_channel,
    decision,
    in_cooldown,
    inactive,
    lane_of,
)
from nudge.core.journey import admit, enter, on_event, on_wake
from nudge.core.profile import history_id, same_event
from nudge.core.rules import Ctx
from nudge.core.timed import wait_due

if TYPE_CHECKING:  # the config package is heavy to import; decide only needs its types
    from nudge.config import CompiledConfig, CompiledTrigger
    from nudge.config.compiled import CancelTest

# the gate's names stay importable from here (flows, campaigns and the verdict import them so)
__all__ = [
    "SUPPRESS",
    "address_detail",
    "audience_detail",
    "audience_ok",
    "blocked",
    "cancels",
    "channel_block",
    "choose_channel",
    "compute_segments",
    "decide",
    "decide_wake",
    "decision",
    "deliver",
    "in_cooldown",
    "inactive",
    "message_chain",
    "wait_message",
]


def compute_segments(view: dict[str, Any], config: CompiledConfig, now: float) -> list[str]:
    """Names of the segments the customer is in now."""
    ctx = Ctx(view, view.get("history") or (), now)
    return [name for name, check in config.segments.items() if check(ctx)]


def _count_matches(trigger: CompiledTrigger, event: Event, history: list[dict[str, Any]]) -> int:
    assert trigger.count is not None
    _, window, same = trigger.count
    target = same(event.as_doc())[0] if same else None
    since = event.ts - window
    n = 0
    for entry in reversed(history):
        if entry["ts"] > event.ts:
            continue
        if entry["ts"] < since:
            break
        if entry["type"] != event.type:
            continue
        doc = {"type": entry["type"], "properties": entry.get("properties") or {}}
        if not trigger.where(Ctx(doc)):
            continue
        if same is not None and same(doc)[0] != target:
            continue
        n += 1
    return n


def message_chain(trigger_id: str, firing: dict[str, Any] | None) -> list[str]:
    """The triggers whose messages led to a message of ``trigger_id``, oldest first, ending
    with ``trigger_id``; ``firing`` is the envelope of the event that fired it.

    A message fired by an engagement event continues that event's chain; any other starts one.
    Engagement events about the message carry it (``properties.chain``), and no trigger fires
    on an engagement event whose chain already holds it, so triggers reacting to each other's
    messages can never loop (docs/config.md, "Engagement events").
    """
    doc = envelope_doc(firing)
    chain: list[str] = []
    if doc.get("type") in ENGAGEMENT_TYPES:
        props = doc.get("properties") or {}
        chain = [str(t) for t in props.get("chain") or [props.get("trigger")] if t]
    return [t for t in chain if t != trigger_id] + [trigger_id]


def _chain(event: Event) -> frozenset[str]:
    """Triggers an engagement event must not fire (its message's chain); empty otherwise."""
    if event.type not in ENGAGEMENT_TYPES:
        return frozenset()
    props = event.properties
    return frozenset(str(t) for t in [*(props.get("chain") or ()), props.get("trigger")] if t)


def wait_message(wait: dict[str, Any]) -> str | None:
    """The message a wait is about: ``properties.message_id`` of the engagement event that
    started it (None when it was started by any other event)."""
    doc = envelope_doc(wait.get("event"))
    if doc.get("type") not in ENGAGEMENT_TYPES:
        return None
    mid = (doc.get("properties") or {}).get("message_id")
    return str(mid) if mid else None


def cancels(test: CancelTest, doc: dict[str, Any], wait: dict[str, Any]) -> bool:
    """Does the event ``doc`` (type and properties) meet this ``cancel_if`` item for ``wait``?

    ``same_message`` also asks that the event is about the wait's own message: its
    ``properties.message_id`` equals the one of the engagement event that started the wait.
    """
    if doc.get("type") != test.event or not test.where(Ctx(doc)):
        return False
    if not test.same_message:
        return True
    mine = wait_message(wait)
    theirs = (doc.get("properties") or {}).get("message_id")
    return mine is not None and theirs is not None and str(theirs) == mine


def deliver(
    profile: dict[str, Any],
    view: dict[str, Any],
    trigger: CompiledTrigger,
    event_env: dict[str, Any],
    config: CompiledConfig,
    now: datetime,
    plan: Plan,
    key: str,
    send_at: datetime | None = None,
) -> None:
    """Last step of a firing: channel, consent, address, then a message for the outbox (due
    after the arbitration window, or at ``send_at``: a broadcast's time)."""
    channel, reason, detail = choose_channel(trigger, view, config)
    if channel is None:
        plan.decisions.append(
            decision(
                profile["customer_id"], trigger.id, now, SUPPRESS, reason, event_env, detail=detail
            )
        )
        return
    message_id = stable_id(profile["customer_id"], trigger.id, key)
    # the message waits out the arbitration window, so a higher-priority message for the same
    # customer decided meanwhile can win under the caps; quiet hours and caps apply at dispatch
    arbitration = seconds(config.settings.arbitration_window)
    start = send_at or now  # a broadcast's message expires counting from when it is due
    expires = iso(start + timedelta(seconds=trigger.expires)) if trigger.expires else None
    plan.messages.append(
        Message(
            message_id=message_id,
            customer_id=profile["customer_id"],
            trigger=trigger.id,
            channel=channel,
            created_at=iso(now),
            send_at=iso(send_at or now + timedelta(seconds=arbitration)),
            priority=trigger.priority,
            event=event_env,
            expires_at=expires,
            kind=trigger.kind,
            variant=trigger.variant,
        )
    )
    entry = {
        "trigger": trigger.id,
        "channel": channel,
        "ts": now.timestamp(),
        "mid": message_id,
        "state": "queued",
    }
    if lane_of(trigger) == TRANSACTIONAL:
        entry["lane"] = TRANSACTIONAL  # never counted by the frequency caps
    entry.update(cap_scope(trigger))  # what topic and cap group caps count it under
    plan.sends.append(entry)


def decide(
    profile: dict[str, Any],
    view: dict[str, Any],
    event: Event,
    config: CompiledConfig,
    now: datetime,
) -> Plan:
    """Decisions for one event already applied to ``profile`` (``view`` is its derived view)."""
    plan = Plan()
    waits = profile.get("waits") or {}
    if waits and event.type in config.cancel_types:
        doc = event.as_doc()
        for wait_id, wait in sorted(waits.items()):
            trigger = config.triggers.get(wait["trigger"])
            if trigger is None:
                continue
            for test in trigger.cancel_if:
                if cancels(test, doc, wait):
                    plan.cancelled_waits.append(wait_id)
                    plan.decisions.append(
                        decision(
                            profile["customer_id"],
                            trigger.id,
                            now,
                            "cancelled",
                            None,
                            event,
                            detail=_cancel_detail(test, event.type, wait_id, wait),
                        )
                    )
                    break
    if event.type in config.journey_types and profile.get("journeys"):
        on_event(profile, view, event, config, now, plan)  # before entering: a new run ignores it
    triggers = config.by_event.get(event.type)
    if not triggers:
        return plan
    envelope: dict[str, Any] | None = None
    doc = event.as_doc()
    ctx = Ctx(doc)
    history = profile.get("history") or []
    chain = _chain(event)
    for trigger in triggers:
        if trigger.id in chain or not trigger.where(ctx):
            continue  # a trigger never reacts to engagement with its own (or its chain's) messages
        # a counted trigger fires when the count reaches the threshold, not on every event after
        if (
            trigger.count is not None
            and _count_matches(trigger, event, history) != trigger.count[0]
        ):
            continue
        age = now.timestamp() - event.ts
        if age > trigger.stale_after:  # a replayed archive, a stuck queue: too late to act on
            detail = {"age": f"{age / 3600:.1f}h", "max_age": f"{trigger.stale_after / 3600:g}h"}
            plan.decisions.append(
                decision(
                    profile["customer_id"], trigger.id, now, SUPPRESS, "stale", event, detail=detail
                )
            )
            continue
        envelope = envelope or event.to_envelope()
        if trigger.journey is not None and not admit(profile, trigger, envelope, now, plan):
            continue  # already walking it, or inside its reentry window
        stop = blocked(profile, view, trigger.id, trigger, event, now)
        if stop is not None:
            plan.decisions.append(stop)
            continue
        if trigger.journey is not None:
            enter(profile, view, trigger, event, envelope, config, now, plan)
            continue
        if trigger.wait or trigger.at_local is not None:
            channel, reason, detail = choose_channel(trigger, view, config)
            if channel is None:
                plan.decisions.append(
                    decision(
                        profile["customer_id"],
                        trigger.id,
                        now,
                        SUPPRESS,
                        reason,
                        event,
                        detail=detail,
                    )
                )
                continue
            for wait_id, wait in sorted(waits.items()):
                if wait["trigger"] == trigger.id and wait_id not in plan.cancelled_waits:
                    plan.cancelled_waits.append(wait_id)  # the newer event restarts the wait
                    plan.decisions.append(
                        decision(
                            profile["customer_id"],
                            trigger.id,
                            now,
                            SUPPRESS,
                            "superseded",
                            wait["event"],
                            detail={"replaced_by": event.id},
                        )
                    )
            wait_id = stable_id(profile["customer_id"], trigger.id, event.id)
            due = wait_due(trigger, view, config, now)  # wait, then at_local_time if set
            plan.waits.append(Wait(wait_id, trigger.id, iso(now), iso(due), envelope))
            plan.decisions.append(
                decision(
                    profile["customer_id"],
                    trigger.id,
                    now,
                    "scheduled",
                    None,
                    event,
                    detail={
                        "wait": getattr(trigger.model, "wait", None),
                        "due_at": iso(due),
                        **_at_local(trigger),
                    },
                )
            )
            continue
        deliver(profile, view, trigger, envelope, config, now, plan, event.id)
    return plan


def decide_wake(
    profile: dict[str, Any],
    view: dict[str, Any],
    wait_id: str,
    config: CompiledConfig,
    now: datetime,
) -> Plan:
    """A wait has ended: re-check cancel_if, activity, audience and cooldown, then deliver."""
    plan = Plan()
    wait = (profile.get("waits") or {}).get(wait_id)
    if wait is None:
        return plan  # already handled (cancelled, superseded, or a repeated wake-up)
    # its one-time schedule fired and deleted itself (ActionAfterCompletion: DELETE): the wait
    # leaves the profile, and no DeleteSchedule follows
    plan.ended_waits.append(wait_id)
    trigger = config.triggers.get(wait["trigger"])
    removed_journey = trigger is None and wait["trigger"] in (profile.get("journeys") or {})
    if removed_journey or (trigger is not None and trigger.journey is not None):
        on_wake(profile, view, wait_id, wait, config, now, plan)
        return plan
    event_env = wait["event"]
    if trigger is not None and inactive(trigger, now) is None:
        cancel = _cancelled_meanwhile(profile, trigger, wait_id, wait, now)
        if cancel is not None:
            plan.decisions.append(cancel)
            return plan
    stop = blocked(profile, view, wait["trigger"], trigger, event_env, now)
    if stop is not None:
        plan.decisions.append(stop)
        return plan
    assert trigger is not None  # a removed trigger is blocked as inactive
    deliver(profile, view, trigger, event_env, config, now, plan, wait_id)
    return plan


def _cancelled_meanwhile(
    profile: dict[str, Any],
    trigger: CompiledTrigger,
    wait_id: str,
    wait: dict[str, Any],
    now: datetime,
) -> Decision | None:
    """The ``cancelled`` decision if an event since the wait started meets its ``cancel_if``."""
    created = _parse_ts(wait["created_at"])
    event_env = wait["event"]
    own = (event_env.get("detail") or {}).get("event_id")
    own_id = history_id(str(own)) if own else ""  # entries keep a short id
    for entry in profile.get("history") or ():
        if entry["ts"] < created or entry["ts"] > now.timestamp():
            continue
        if own and (entry.get("id") == own or same_event(entry.get("id"), own_id)):
            continue
        doc = {"type": entry["type"], "properties": entry.get("properties") or {}}
        for test in trigger.cancel_if:
            if cancels(test, doc, wait):
                detail = _cancel_detail(test, entry["type"], wait_id, wait)
                return decision(
                    profile["customer_id"],
                    trigger.id,
                    now,
                    "cancelled",
                    None,
                    event_env,
                    detail=detail,
                )
    return None


def _cancel_detail(
    test: CancelTest, cancelled_by: str, wait_id: str, wait: dict[str, Any]
) -> dict[str, Any]:
    detail: dict[str, Any] = {"cancelled_by": cancelled_by, "wait_id": wait_id}
    if test.same_message:
        detail["same_message"] = wait_message(wait)
    return detail


def _at_local(trigger: CompiledTrigger) -> dict[str, Any]:
    at = getattr(trigger.model, "at_local_time", None)
    return {"at_local_time": at} if at else {}


def _parse_ts(value: str) -> float:
    from nudge.core.clock import parse_time

    return parse_time(value).timestamp()
