"""What decide produces: decisions for the log, messages for the outbox, waits to schedule."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

OUTCOMES = ("sent", "scheduled", "cancelled", "held_out", "deferred", "suppressed", "failed")


@dataclass(slots=True)
class Decision:
    """One step a trigger or campaign went through for one customer (CONTRACT §4)."""

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

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for storage."""
        return asdict(self)


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
    cancelled_waits: list[str] = field(default_factory=list)
    sends: list[dict[str, Any]] = field(default_factory=list)  # ledger entries (cooldown, caps)
    emit: list[dict[str, Any]] = field(default_factory=list)  # nudge events for the bus

    def merge(self, other: Plan) -> None:
        """Add another plan's work to this one."""
        self.decisions += other.decisions
        self.messages += other.messages
        self.waits += other.waits
        self.cancelled_waits += [w for w in other.cancelled_waits if w not in self.cancelled_waits]
        self.sends += other.sends
        self.emit += other.emit

    def __bool__(self) -> bool:
        return bool(self.decisions or self.messages or self.waits or self.cancelled_waits)


def stable_id(*parts: str, length: int = 20) -> str:
    """A short deterministic id: the same inputs give the same id on every retry."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:length]
