"""Feedback: what mailbox providers and phones tell us, turned into profile facts.

- SES events (configuration set -> EventBridge): a permanent bounce marks the address
  undeliverable; a complaint withdraws email consent; delivery/open/click are noted.
- Inbound SMS (two-way SMS -> SNS topic -> this function): STOP (and the usual synonyms)
  withdraws SMS consent; START/UNSTOP grants it again.
Each change is applied like an event (``consent_updated`` with source ``nudge.feedback``), so it
shows in the customer's history and in ``nudge explain``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from nudge import store
from nudge.clock import now as clock_now
from nudge.model.decision import Plan, stable_id
from nudge.model.events import Event
from nudge.pipeline.common import current_config, react, update_customer
from nudge.profile import apply_event, is_duplicate
from nudge.send import untag

log = logging.getLogger("nudge.feedback")
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "ARRET"}
START_WORDS = {"START", "UNSTOP", "YES"}
ENGAGEMENT = {"Delivery": "delivered_at", "Open": "opened_at", "Click": "clicked_at"}


def record(customer_id: str, kind: str, key: str, properties: dict[str, Any],
           flags: dict[str, Any] | None = None) -> bool:  # fmt: skip
    """Apply a feedback fact to the customer as an event; False if already applied."""
    config = current_config()
    event = Event(
        id=stable_id("feedback", key), type=kind, source="nudge.feedback", time=clock_now(),
        customer_id=customer_id, properties=properties,
    )  # fmt: skip
    applied = False

    def change(profile: dict[str, Any], now: datetime) -> Plan | None:
        nonlocal applied
        if is_duplicate(profile, event):
            return None
        apply_event(profile, event, config.history_seconds)
        profile.update(flags or {})
        applied = True
        return react(profile, config, now, cause=event.id)

    update_customer(customer_id, change)
    return applied


def ses_event(detail: dict[str, Any]) -> str:
    """One SES event (``detail`` of an EventBridge ``aws.ses`` event)."""
    kind = detail.get("eventType") or detail.get("notificationType") or ""
    mail = detail.get("mail") or {}
    tags = mail.get("tags") or {}
    customer = (tags.get("customer") or [None])[0]
    if not customer:
        return "ignored: no customer tag"
    customer = untag(customer)
    key = f"{mail.get('messageId')}:{kind}"
    if kind == "Bounce":
        bounce = detail.get("bounce") or {}
        if bounce.get("bounceType") != "Permanent":
            return "ignored: transient bounce"
        record(customer, "email_bounced", key, {"bounce_type": "Permanent",
               "sub_type": bounce.get("bounceSubType")}, {"email_undeliverable": True})  # fmt: skip
        return "undeliverable"
    if kind == "Complaint":
        record(customer, "consent_updated", key,
               {"channel": "email", "granted": False, "source": "complaint"})  # fmt: skip
        return "email consent withdrawn"
    if kind in ENGAGEMENT:
        when = clock_now().isoformat()
        record(customer, f"email_{kind.lower()}", key, {"message_id": mail.get("messageId")},
               {ENGAGEMENT[kind]: when})  # fmt: skip
        return f"noted {kind.lower()}"
    return f"ignored: {kind or 'unknown event'}"


def sms_reply(message: dict[str, Any]) -> str:
    """One inbound SMS (End User Messaging / Pinpoint two-way SMS format)."""
    phone = message.get("originationNumber") or ""
    words = (message.get("messageBody") or "").strip().upper().split()
    keyword = words[0] if words else ""
    customer = store.customer_for_phone(phone) if phone else None
    if customer is None:
        return "ignored: number not known"
    key = message.get("inboundMessageId") or f"{phone}:{keyword}:{clock_now().isoformat()}"
    if keyword in STOP_WORDS:
        record(customer, "consent_updated", key,
               {"channel": "sms", "granted": False, "source": "sms_stop"})  # fmt: skip
        return "sms consent withdrawn"
    if keyword in START_WORDS:
        record(customer, "consent_updated", key,
               {"channel": "sms", "granted": True, "source": "sms_start"})  # fmt: skip
        return "sms consent granted"
    return "ignored: not a keyword"


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: an EventBridge SES event, or SNS records of inbound SMS."""
    results = []
    if "Records" in event:
        for rec in event["Records"]:
            try:
                body = json.loads((rec.get("Sns") or {}).get("Message") or "{}")
            except ValueError:
                results.append("ignored: not JSON")
                continue
            results.append(sms_reply(body))
    elif event.get("source") == "aws.ses" or "eventType" in (event.get("detail") or {}):
        results.append(ses_event(event.get("detail") or {}))
    else:
        results.append("ignored: not a feedback event")
    log.info("feedback: %s", results)
    return {"results": results}
