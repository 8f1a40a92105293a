"""The send-time verdict, pure: may this outbox message go now, and if not, why (docs/reference.md#decisions).

``verdict(message, profile, config, now, pending)`` answers ``Send``, ``Defer``, ``Suppress`` or
``HoldOut`` from what dispatch read; no I/O, no clock, no AWS. The checks, in their order
(docs/delivery.md, "Order of checks"): expiry, trigger still live (``decide.inactive``),
superseded by a newer message of the same trigger, audience (incl. ``did_not``), consent and
address, quiet hours, frequency caps (higher priority first among the customer's ``pending``
messages), content for the channel, then the control group. Dispatch acts on the answer:
renders, calls the provider, records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from nudge.core.clock import parse_time
from nudge.core.decide import (
    address_detail,
    audience_detail,
    channel_block,
    compute_segments,
    inactive,
)
from nudge.core.delivery import (
    cap_block,
    customer_zone,
    holdout_reason,
    personal_caps,
    quiet_until,
)
from nudge.core.durations import seconds
from nudge.core.gate import TRANSACTIONAL, cap_scope, lane_of, topic_of
from nudge.core.profile import profile_view
from nudge.core.rules import Ctx

if TYPE_CHECKING:
    from nudge.config import CompiledConfig
    from nudge.config.compiled import CompiledTrigger, Content


@dataclass(frozen=True, slots=True)
class Send:
    """Go now: render ``content`` for the customer's ``view`` and call the provider."""

    trigger: CompiledTrigger
    content: Content
    view: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Defer:
    """Not now: try again at ``until`` (quiet hours end, a cap window frees)."""

    until: datetime
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Suppress:
    """Never: the message is dropped, with the reason and the values behind it."""

    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HoldOut:
    """The customer is in a control group (``global`` / ``trigger``): recorded where the
    message would have gone, using its cap slot; ``content`` and ``view`` as for ``Send``."""

    reason: str
    trigger: CompiledTrigger
    content: Content
    view: dict[str, Any] = field(repr=False)


Verdict = Send | Defer | Suppress | HoldOut


def send_view(profile: dict[str, Any], config: CompiledConfig, now: datetime) -> dict[str, Any]:
    """The profile's derived view at ``now``, segments recomputed (the profile is not changed)."""
    view = profile_view(profile, now, config.value_tiers)
    view["segments"] = compute_segments(view, config, now.timestamp())
    return view


def rank(message: dict[str, Any]) -> tuple[int, str, str]:
    """Arbitration order: higher ``priority`` first, then the older message, then by id."""
    return (
        -int(message.get("priority") or 50),
        str(message.get("created_at", "")),
        str(message["message_id"]),
    )


def outranking(
    message: dict[str, Any],
    view: dict[str, Any],
    pending: Sequence[dict[str, Any]],
    config: CompiledConfig,
    now: datetime,
) -> tuple[list[str], list[tuple[datetime, str]]]:
    """The customer's other pending messages that win the cap before this one (ranked ahead,
    still live, still reachable): the channels of those due now or within the arbitration
    window, and when each of the others is due, with its channel. A message another dispatch
    has claimed (``sending``) is weighed like the others; one it is already sending
    (``calling_at``) is not: its slot is in the ledger (``sends``) already."""
    horizon = now + timedelta(seconds=seconds(config.settings.arbitration_window))
    mine = rank(message)
    ahead: list[str] = []
    later: list[tuple[datetime, str]] = []
    for other in pending:
        if other["message_id"] == message["message_id"] or rank(other) >= mine:
            continue
        if other.get("calling_at"):  # reserved in the ledger with the call: counted there
            continue
        trigger = config.target(other["trigger"], other.get("variant"), other.get("step"))
        if (
            lane_of(trigger) != TRANSACTIONAL  # never counted by the caps
            and inactive(trigger, now) is None  # one that will be dropped as inactive cannot win
            and channel_block(other["channel"], view, config, "marketing", topic_of(trigger))
            is None
        ):
            due = parse_time(other["send_at"])
            if due <= horizon:
                ahead.append(other["channel"])
            else:
                later.append((due, other["channel"]))
    return ahead, later


def verdict(
    message: dict[str, Any],
    profile: dict[str, Any] | None,
    config: CompiledConfig,
    now: datetime,
    pending: Sequence[dict[str, Any]] = (),
) -> Verdict:
    """What to do with ``message`` at ``now``, given the customer's ``profile`` (its ``sends``
    ledger counts for the caps) and the customer's ``pending`` outbox messages."""
    channel = message["channel"]
    expires = message.get("expires_at")
    if expires and now >= parse_time(expires):
        return Suppress("expired", {"expires_at": expires})
    if profile is None:
        return Suppress("audience", {"error": "no profile"})
    trigger = config.target(message["trigger"], message.get("variant"), message.get("step"))
    why = inactive(trigger, now)  # the same check as when it fired, against the deployed config
    if trigger is None or why is not None:
        return Suppress("inactive", {"at_send_time": True, **(why or {})})
    created = parse_time(message["created_at"]).timestamp()
    newer = [
        s
        for s in profile.get("sends", [])
        if s["trigger"] == trigger.id
        and s.get("mid") != message["message_id"]
        and s.get("state") == "queued"
        and s["ts"] > created
    ]
    if newer:
        return Suppress("superseded", {"replaced_by": newer[-1]["mid"]})
    view = send_view(profile, config, now)
    if not trigger.who(Ctx(view, view.get("history") or (), now.timestamp())):
        return Suppress(
            "audience", {"at_send_time": True, **audience_detail(trigger, view, now.timestamp())}
        )
    lane, topic = lane_of(trigger), topic_of(trigger)
    blocked = channel_block(channel, view, config, lane, topic)
    if blocked:
        consent = {f"consent.{channel}": view["consent"].get(channel)}
        if topic is not None:
            chosen = (view.get("topics") or {}).get(topic, {}).get(channel)
            consent.update({"topic": topic, f"topics.{topic}.{channel}": chosen})
        return Suppress(blocked, {"at_send_time": True, **consent, **address_detail(channel, view)})
    content = getattr(trigger, channel, None)  # email, sms or webhook content
    if lane == TRANSACTIONAL:  # what the customer needs: no quiet hours, caps or control group
        return Send(trigger, content, view) if content else Suppress("inactive")
    settings = config.settings
    quiet = settings.quiet_hours
    if quiet and channel in quiet.channels:
        zone = customer_zone(view, settings.timezone)
        until = quiet_until(now, zone, quiet.start, quiet.end)
        if until is not None:
            local = now.astimezone(zone).strftime("%H:%M")
            shown = {"local_time": f"{local} {zone.key}", "quiet": f"{quiet.start}-{quiet.end}"}
            return Defer(until, "quiet_hours", shown)
    caps = [*settings.frequency_caps, *personal_caps(view, channel)]
    if caps:
        ahead, later = outranking(message, view, pending, config, now)
        block = cap_block(
            view.get("sends", []),
            caps,
            channel,
            now,
            ahead,
            timedelta(seconds=seconds(settings.arbitration_window)),
            cap_scope(trigger),
            later,
        )
        if block is not None:
            used = {"cap": block.cap, "sent_in_window": block.used, "outranked_by": block.ahead}
            return Defer(block.retry_at, "frequency_cap", used)
    if content is None:
        return Suppress("inactive")
    holdout = settings.holdout
    held = holdout_reason(
        message["customer_id"],
        trigger.id,
        holdout.percent if holdout else 0,
        holdout.salt if holdout else "",
        trigger.model.holdout,
    )
    if held:
        return HoldOut(held, trigger, content, view)
    return Send(trigger, content, view)
