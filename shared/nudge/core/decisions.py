"""What decide produces: decisions for the log, messages for the outbox, waits to schedule."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

# a journey's own steps (docs/config.md#journeys); its sends use the outcomes of triggers
JOURNEY_OUTCOMES = ("entered", "waiting", "branched", "split", "exited", "completed")
OUTCOMES = (
    "sent",
    "scheduled",
    "cancelled",
    "held_out",
    "deferred",
    "suppressed",
    "failed",
    *JOURNEY_OUTCOMES,
)

# Every reason a decision can carry, in the words `nudge explain` and `nudge simulate --report`
# print; docs/reference.md#decisions lists the same (a test keeps the two in step).
REASONS = {
    "global": "in the global control group (measured, never messaged)",
    "trigger": "in this trigger's or campaign's control group",
    "quiet_hours": "inside quiet hours in the customer's time zone; sent when they end",
    "frequency_cap": "a frequency cap was full; tried again when the window frees (or dropped "
    "for a higher-priority message)",
    "inactive": "the trigger or campaign was outside its active window, disabled or removed",
    "audience": "not in the trigger's audience (who) at that moment",
    "cooldown": "the trigger already messaged them within its cooldown",
    "no_consent": "no recorded consent for the channel, or the customer left the message's topic",
    "no_address": "no usable address for the channel (none, or it bounced or complained)",
    "expired": "still held back when the trigger's expires ran out",
    "superseded": "a newer message of the same trigger replaced it",
    "duplicate": "the same event was delivered twice; the copy changed nothing",
    "template_error": (
        "the template could not be rendered (a name it reads is missing), or a webhook body "
        "did not render to a JSON object"
    ),
    "provider_error": "SES/SNS refused the message or the outcome is unknown",
    "provider_unavailable": (
        "SES/SNS (or the bus, for a webhook) throttled or could not be reached; tried again "
        "minutes later"
    ),
    "stale": "the event was older than the trigger's window when it arrived (when.max_age, or "
    "wait + 24h)",
    "step": "in this journey send step's control group (send.holdout)",
    "in_journey": "already in this journey; a customer walks one journey once at a time",
    "reentry": "went through this journey before, inside its reentry window (or reentry: once)",
    "exit_if": "an event of the journey's exit_if happened; the journey ended there",
    "exit_step": "the journey reached an exit step",
    "journey_changed": "the journey was edited and the step the customer was at is gone",
}


# An event's log entry is kept in the profile under MISSES rather than as an item while it fits
# in what the profile's write pays for (``aws.store.decisions.fold_log``), the newest
# MISSES_MAX; audience misses that no longer fit are dropped and counted, other entries leave
# together as one log item.
MISSES = "misses"
MISSES_MAX = 20


def misses_gone(profile: dict[str, Any] | None) -> tuple[int, str | None]:
    """How many audience-only log entries the profile dropped for its bound (``MISSES_MAX``),
    and when the latest of them was decided."""
    held = (profile or {}).get(MISSES) or {}
    return int(held.get("gone") or 0), held.get("gone_at")


def reason_words(reason: str | None) -> str:
    """A decision reason in words (``cooldown`` -> "the trigger already messaged them...")."""
    if not reason:
        return ""
    return REASONS.get(reason, reason)


@dataclass(slots=True)
class Decision:
    """One step a trigger or campaign went through for one customer (docs/reference.md#decisions)."""

    customer_id: str
    trigger: str | None
    at: str
    outcome: str
    reason: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    channel: str | None = None
    message_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for storage and output."""
        return asdict(self)


@dataclass(slots=True)
class Message:
    """A message to send: the outbox item dispatch picks up."""

    message_id: str
    customer_id: str
    trigger: str
    channel: str
    created_at: str
    send_at: str
    priority: int
    event: dict[str, Any]  # the envelope of the event that fired it
    expires_at: str | None = None
    kind: str = "trigger"  # or "campaign"
    variant: int | None = None  # campaigns: index of the variant chosen
    step: str | None = None  # journeys: the send step (``offer`` or ``offer:ten``)
    split: str | None = None  # journeys: the split variants so far (``offer_test=ten``)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for storage (a trigger's or campaign's message has no journey keys)."""
        out = asdict(self)
        for key in ("step", "split"):
            if out[key] is None:
                del out[key]
        return out


@dataclass(slots=True)
class Wait:
    """A trigger waiting (``wait: 1h``) before it re-checks and sends."""

    wait_id: str
    trigger: str
    created_at: str
    due_at: str
    event: dict[str, Any]


@dataclass(slots=True)
class Plan:
    """Everything one event (or one wake-up) changes besides the profile itself."""

    decisions: list[Decision] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    waits: list[Wait] = field(default_factory=list)
    cancelled_waits: list[str] = field(default_factory=list)  # their schedules are deleted
    ended_waits: list[str] = field(default_factory=list)  # fired: the schedule deleted itself
    sends: list[dict[str, Any]] = field(default_factory=list)  # ledger entries (cooldown, caps)
    emit: list[dict[str, Any]] = field(default_factory=list)  # nudge events for the bus

    def merge(self, other: Plan) -> None:
        """Add another plan's work to this one."""
        self.decisions += other.decisions
        self.messages += other.messages
        self.waits += other.waits
        self.cancelled_waits += [w for w in other.cancelled_waits if w not in self.cancelled_waits]
        self.ended_waits += [w for w in other.ended_waits if w not in self.ended_waits]
        self.sends += other.sends
        self.emit += other.emit

    def __bool__(self) -> bool:
        return bool(
            self.decisions
            or self.messages
            or self.waits
            or self.cancelled_waits
            or self.ended_waits
        )


def stable_id(*parts: str, length: int = 20) -> str:
    """A short deterministic id: the same inputs give the same id on every retry."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:length]
