"""Wake: a one-time schedule fired. ``wait``: re-check and send; ``send``: a deferred message."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nudge.core.decide import decide_wake
from nudge.core.decisions import Plan
from nudge.core.react import react, refresh_view
from nudge.flows.common import current_config, update_customer


def wake_wait(customer_id: str, wait_id: str) -> list[str]:
    """A ``wait`` ended: decide again with everything that happened meanwhile."""
    config = current_config()

    def change(profile: dict[str, Any], now: datetime) -> Plan | None:
        if wait_id not in (profile.get("waits") or {}):
            return None
        plan = react(profile, config, now, cause=f"wake:{wait_id}")  # time may have moved tiers
        view = refresh_view(profile, config, now)
        plan.merge(decide_wake(profile, view, wait_id, config, now))
        return plan

    plan = update_customer(customer_id, change)
    return [f"{d.trigger}:{d.outcome}" for d in plan.decisions] if plan else []


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: the schedule's input ``{"kind", "customer_id", ...}``."""
    kind = event.get("kind")
    customer_id = str(event.get("customer_id") or "")
    if not customer_id:
        return {"error": "customer_id missing"}
    if kind == "wait":
        return {"decisions": wake_wait(customer_id, str(event.get("wait_id")))}
    if kind == "send":
        from nudge.flows.dispatch import dispatch_message, forget_companions

        forget_companions()
        return {"status": dispatch_message(customer_id, str(event.get("message_id")))}
    return {"error": f"unknown wake kind {kind!r}"}
