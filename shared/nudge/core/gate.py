"""The gate: whether a trigger may message a customer now, and the decisions saying why not.

Pure, like :mod:`nudge.core.decide` (which fires triggers and keeps waits and re-exports these
names): ``inactive`` (removed, disabled, outside its window), ``audience`` (its ``who``),
``cooldown``, then the channel (consent, address, what feedback said about it). The send-time
verdict (:mod:`nudge.core.verdict`) asks the same questions again when a message is due.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from nudge.core.addresses import address_error, check_address
from nudge.core.clock import iso
from nudge.core.decisions import Decision
from nudge.core.events import Event
from nudge.core.profile import email_state
from nudge.core.rules import Ctx

if TYPE_CHECKING:  # the config package is heavy to import; the gate only needs its types
    from nudge.config import CompiledConfig, CompiledTrigger

SUPPRESS = "suppressed"
TRANSACTIONAL = "transactional"  # lane: messages the customer needs (docs/delivery.md, "Lanes")
WEBHOOK = "webhook"  # the channel posting a signed JSON body to the shop's endpoint


def lane_of(trigger: CompiledTrigger | None) -> str:
    """``marketing`` (the default) or ``transactional``: what caps, quiet hours, holdouts and
    marketing consent apply to. Campaigns are always marketing."""
    return getattr(getattr(trigger, "model", None), "lane", "marketing")


def cap_scope(trigger: CompiledTrigger | None) -> dict[str, str]:
    """``topic`` and ``group`` of a trigger's or campaign's messages, as its send-ledger entries
    carry them for the caps that count only one topic or one cap group."""
    model = getattr(trigger, "model", None)
    scope = {"topic": getattr(model, "topic", None), "group": getattr(model, "cap_group", None)}
    return {k: v for k, v in scope.items() if v}


def topic_of(trigger: CompiledTrigger | None) -> str | None:
    """The subscription topic a trigger or campaign sends under (settings.topics), if any."""
    return getattr(getattr(trigger, "model", None), "topic", None)


def topic_block(
    channel: str, view: dict[str, Any], config: CompiledConfig, topic: str | None
) -> bool:
    """True when the customer does not get ``topic`` on ``channel``: they said no to it, or the
    topic is ``opt_in`` and they never said yes (docs/config.md, "Topics")."""
    if topic is None:
        return False
    choice = ((view.get("topics") or {}).get(topic) or {}).get(channel)
    if choice is not None:
        return choice is False
    declared = config.settings.topics.get(topic)
    return declared is not None and declared.default == "opt_in"


def decision(
    customer_id: str,
    trigger: str | None,
    now: datetime,
    outcome: str,
    reason: str | None = None,
    event: Event | dict[str, Any] | None = None,
    **extra: Any,
) -> Decision:
    """A decision about ``customer_id`` at ``now``, naming the event it is about (a parsed
    ``Event`` or an envelope: a wait's, a message's); ``extra``: ``channel``, ``message_id``,
    ``detail``. The one way decisions are built, so the log reads the same everywhere."""
    event_id: str | None
    event_type: str | None
    if isinstance(event, Event):
        event_id, event_type = event.id, event.type
    elif event:
        event_id = (event.get("detail") or {}).get("event_id") or event.get("id")
        event_type = event.get("detail-type")
    else:
        event_id = event_type = None
    return Decision(
        customer_id=customer_id,
        trigger=trigger,
        at=iso(now),
        outcome=outcome,
        reason=reason,
        event_id=event_id,
        event_type=event_type,
        **extra,
    )


def in_cooldown(profile: dict[str, Any], trigger: CompiledTrigger, now: float) -> float | None:
    """When the last counted message of this trigger went out, if inside its cooldown."""
    if not trigger.cooldown:
        return None
    since = now - trigger.cooldown
    for send in reversed(profile.get("sends", ())):
        if send["trigger"] == trigger.id and send["ts"] >= since:
            return float(send["ts"])
    return None


def choose_channel(
    trigger: CompiledTrigger, view: dict[str, Any], config: CompiledConfig
) -> tuple[str | None, str | None, dict[str, Any]]:
    """Pick the channel; returns (channel, suppression reason, values that decided it)."""
    wanted = trigger.channel
    candidates = list(config.settings.channels) if wanted == "best" else [wanted]
    candidates = [c for c in candidates if getattr(trigger, c) is not None]
    first_reason: str | None = None
    detail: dict[str, Any] = {}
    lane, topic = lane_of(trigger), topic_of(trigger)
    for channel in candidates:
        reason = channel_block(channel, view, config, lane, topic)
        if reason is None:
            return channel, None, {"channel": channel}
        if first_reason is None:
            first_reason = reason
            detail = {f"consent.{channel}": view.get("consent", {}).get(channel)}
            if topic is not None:
                detail["topic"] = topic
                detail[f"topics.{topic}.{channel}"] = (
                    (view.get("topics") or {}).get(topic, {}).get(channel)
                )
            if reason == "no_address":
                detail = {"address": "email" if channel == "email" else "phone"}
            if channel == WEBHOOK:
                detail.pop("address", None)
            detail.update(address_detail(channel, view))
    return None, first_reason or "no_consent", detail


def address_detail(channel: str, view: dict[str, Any]) -> dict[str, Any]:
    """Decision detail for what feedback said about the address, or why the one given was not
    kept (``address_error``: ``invalid_email``/``invalid_phone``); never the address itself."""
    if channel == WEBHOOK:
        return {}  # the endpoint is the shop's own: the customer id is the address
    kind = "email" if channel == "email" else "phone"
    held = view.get(kind)
    error = check_address(kind, held).error if held else address_error(view, kind)
    if error is not None:
        return {"address_error": error}
    state = email_state(view) if channel == "email" else None
    if state is None:
        return {}
    return {
        "address_state": state.get("state"),
        "address_state_at": state.get("at"),
        "address_sub_type": state.get("sub_type"),
    }


def channel_block(
    channel: str,
    view: dict[str, Any],
    config: CompiledConfig,
    lane: str = "marketing",
    topic: str | None = None,
) -> str | None:
    """Why this channel cannot reach the customer (``no_consent``/``no_address``), or None.

    A marketing message needs the channel's consent (the master switch) and, if it names a
    ``topic``, the customer's choice for that topic. A transactional message needs no marketing
    consent; a text still respects an SMS opt-out (``consent.sms: false``: a STOP reply, which
    carriers enforce for every message)."""
    consent = (view.get("consent") or {}).get(channel)
    policy = config.settings.consent
    opt_out = (channel == "email" and policy.email == "opt_out") or (
        channel == WEBHOOK and policy.webhook == "opt_out"
    )
    if lane == TRANSACTIONAL:
        if channel == "sms" and consent is False:
            return "no_consent"
    elif (
        consent is False
        or (consent is None and not opt_out)
        or topic_block(channel, view, config, topic)
    ):
        return "no_consent"
    if channel == WEBHOOK:
        return None  # posted to the shop's endpoint about the customer id: no address needed
    kind = "email" if channel == "email" else "phone"
    address = view.get(kind)
    if not address or check_address(kind, address).error is not None:
        return "no_address"  # none, or not an address (one stored before addresses were checked)
    if channel == "email" and email_state(view) is not None:
        return "no_address"  # feedback said it bounced / complained (docs/delivery.md)
    return None


def inactive(trigger: CompiledTrigger | None, now: datetime) -> dict[str, Any] | None:
    """Why a trigger or campaign may not message anyone at ``now`` (the detail of an
    ``inactive`` decision), or None if it may: gone from the deployed config, ``enabled: false``,
    or outside its ``active`` window. Checked when it fires, after a ``wait``, and at sending."""
    if trigger is None:
        return {"trigger_removed": True}
    if not trigger.model.enabled:
        return {"enabled": False}
    active = getattr(trigger.model, "active", None)  # campaigns have none
    if active is not None and active.from_ and now < active.from_:
        return {"active_from": iso(active.from_)}
    if active is not None and active.until and now >= active.until:
        return {"active_until": iso(active.until)}
    return None


def audience_ok(trigger: CompiledTrigger, view: dict[str, Any], now: float) -> bool:
    """Does the customer belong to the trigger's audience (`who`) now?"""
    return trigger.who(Ctx(view, view.get("history") or (), now))


def audience_detail(trigger: CompiledTrigger, view: dict[str, Any], now: float) -> dict[str, Any]:
    """The detail of an ``audience`` decision: the customer's segments and, under ``because``,
    the first test of the ``who`` that failed with its value (``lifetime_value 320 < 500``)."""
    detail: dict[str, Any] = {"segments": view.get("segments") or []}
    if trigger.why_not is not None:
        because = trigger.why_not(Ctx(view, view.get("history") or (), now))
        if because:
            detail["because"] = because
    return detail


def blocked(
    profile: dict[str, Any],
    view: dict[str, Any],
    trigger_id: str,
    trigger: CompiledTrigger | None,
    event: Event | dict[str, Any],
    now: datetime,
) -> Decision | None:
    """Why ``trigger`` may not message the customer now, as a ``suppressed`` decision about
    ``event``: ``inactive`` (removed, disabled, outside its window), ``audience`` (not in its
    ``who``), ``cooldown`` (its last message is too recent); None if none of them holds.
    Checked in that order when it fires and again when its ``wait`` ends."""
    customer_id = profile["customer_id"]
    why = inactive(trigger, now)
    if trigger is None or why is not None:
        return decision(customer_id, trigger_id, now, SUPPRESS, "inactive", event, detail=why or {})
    ts = now.timestamp()
    if not audience_ok(trigger, view, ts):
        detail = audience_detail(trigger, view, ts)
        return decision(customer_id, trigger.id, now, SUPPRESS, "audience", event, detail=detail)
    last = in_cooldown(profile, trigger, ts)
    if last is not None:
        detail = {
            "last_sent_at": iso(_from_ts(last)),
            "cooldown": getattr(trigger.model, "cooldown", None),
        }
        return decision(customer_id, trigger.id, now, SUPPRESS, "cooldown", event, detail=detail)
    return None


def _from_ts(ts: float) -> datetime:
    from nudge.core.profile import now_utc

    return now_utc(ts)
