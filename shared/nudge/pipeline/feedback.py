"""Feedback: what mailbox providers and phones tell us, turned into profile facts.

- SES events (configuration set -> EventBridge, or an SNS destination): a permanent bounce marks
  the address it names (``bounce.bouncedRecipients``, else ``mail.destination``) ``bounced``; a
  complaint marks it ``complained`` and withdraws email consent; a contact-list unsubscribe
  (``Subscription`` with ``unsubscribeAll``) withdraws email consent; delivery/open/click are
  recorded as ``email_delivered``/``email_opened``/``email_clicked``; every other type is
  ignored with the reason. A marked address is never mailed again; another address of the same
  customer is (docs/delivery.md, "Feedback").
- Inbound SMS (two-way SMS -> SNS topic -> this function): STOP (and the usual synonyms)
  withdraws SMS consent; START/UNSTOP grants it again.
Each change is applied like an event (source ``nudge.feedback``), so it shows in the customer's
history and in ``nudge explain``.
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
from nudge.profile import apply_event, is_duplicate, mark_addresses, normal_address
from nudge.send import untag

log = logging.getLogger("nudge.feedback")
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "ARRET"}
START_WORDS = {"START", "UNSTOP", "YES"}


def record(
    customer_id: str,
    kind: str,
    key: str,
    properties: dict[str, Any],
    flags: dict[str, Any] | None = None,
    addresses: dict[str, dict[str, Any]] | None = None,
) -> bool:
    """Apply a feedback fact to the customer as an event; False if already applied.

    ``flags`` are set on the profile; ``addresses`` (normalised address -> state) are marked."""
    config = current_config()
    event = Event(
        id=stable_id("feedback", key),
        type=kind,
        source="nudge.feedback",
        time=clock_now(),
        customer_id=customer_id,
        properties=properties,
    )
    applied = False

    def change(profile: dict[str, Any], now: datetime) -> Plan | None:
        nonlocal applied
        if is_duplicate(profile, event):
            return None
        apply_event(profile, event, config.history_seconds)
        profile.update(flags or {})
        if addresses:
            mark_addresses(profile, addresses)
        applied = True
        return react(profile, config, now, cause=event.id)

    update_customer(customer_id, change)
    return applied


ENGAGEMENT = {  # SES eventType -> (event recorded, profile field, SES object with the details)
    "Delivery": ("email_delivered", "delivered_at", "delivery"),
    "Open": ("email_opened", "opened_at", "open"),
    "Click": ("email_clicked", "clicked_at", "click"),
}
IGNORED = {  # SES event types that say nothing nudge acts on, and why
    "Send": "nudge records its own sends",
    "Reject": "SES refused the content (virus); the address is fine",
    "Rendering Failure": "nudge renders its own content, not SES templates",
    "DeliveryDelay": "SES is still trying; a bounce follows if it gives up",
}
MARKS = {  # SES eventType -> (its object, recipient list, address state, sub-type field)
    "Bounce": ("bounce", "bouncedRecipients", "bounced", "bounceSubType"),
    "Complaint": ("complaint", "complainedRecipients", "complained", "complaintFeedbackType"),
}


def _first(tags: dict[str, Any], name: str) -> str | None:
    """The first value of an SES message tag (SES sends each as a list)."""
    values = tags.get(name)
    if isinstance(values, list) and values and isinstance(values[0], str) and values[0]:
        return untag(values[0])
    return None


def _marks(detail: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Address states for an SES bounce or complaint: one per address it is about (the
    recipients it names, else the message's destination), normalised."""
    section_name, field, state, sub_field = MARKS[kind]
    section = _object(detail.get(section_name)) or {}
    listed = section.get(field)
    named = (
        [r.get("emailAddress") for r in listed if isinstance(r, dict)]
        if isinstance(listed, list)
        else []
    )
    if not any(named):
        destination = (_object(detail.get("mail")) or {}).get("destination")
        named = destination if isinstance(destination, list) else []
    at = section.get("timestamp") if isinstance(section.get("timestamp"), str) else None
    mark = {"state": state, "at": at or clock_now().isoformat(), "sub_type": section.get(sub_field)}
    return {a: dict(mark) for a in sorted(set(map(normal_address, named))) if a}


def _object(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def ses_event(detail: dict[str, Any]) -> str:
    """One SES event record (the ``detail`` of an EventBridge ``aws.ses`` event); returns what
    was done, or ``ignored: <why>``."""
    kind = detail.get("eventType") or detail.get("notificationType") or ""
    mail = _object(detail.get("mail")) or {}
    customer = _first(_object(mail.get("tags")) or {}, "customer")
    if not customer:
        return "ignored: no customer tag"  # not a message nudge sent
    provider_id = str(mail.get("messageId") or "")
    message_id = _first(_object(mail.get("tags")) or {}, "message")
    key = f"{provider_id}:{kind}"
    if kind == "Bounce":
        bounce = _object(detail.get("bounce")) or {}
        if bounce.get("bounceType") != "Permanent":
            return f"ignored: {str(bounce.get('bounceType') or 'unknown').lower()} bounce"
        marks = _marks(detail, kind)
        if not marks:
            return "ignored: bounce names no address"
        props = {
            "channel": "email",
            "bounce_type": "Permanent",
            "addresses": len(marks),
            "sub_type": bounce.get("bounceSubType"),
        }
        record(customer, "email_bounced", key, props, addresses=marks)
        return "undeliverable"
    if kind == "Complaint":  # withdraws consent (the person's) and marks the address(es)
        complaint = _object(detail.get("complaint")) or {}
        marks = _marks(detail, kind)
        props = {
            "channel": "email",
            "granted": False,
            "source": "complaint",
            "addresses": len(marks),
            "sub_type": complaint.get("complaintFeedbackType"),
        }
        record(customer, "consent_updated", key, props, addresses=marks)
        return "email consent withdrawn"
    if kind == "Subscription":
        subscription = _object(detail.get("subscription")) or {}
        if (_object(subscription.get("newTopicPreferences")) or {}).get("unsubscribeAll") is True:
            record(
                customer,
                "consent_updated",
                key,
                {"channel": "email", "granted": False, "source": "ses_subscription"},
            )
            return "email consent withdrawn"
        return "ignored: Subscription (topic preferences only; nudge's own consent decides)"
    if kind in ENGAGEMENT:
        name, field, section = ENGAGEMENT[kind]
        info = _object(detail.get(section)) or {}
        when = info.get("timestamp") if isinstance(info.get("timestamp"), str) else None
        props = {"message_id": message_id, "provider_id": provider_id, "channel": "email"}
        if kind == "Click":
            props["link"] = info.get("link")
        if kind != "Delivery":  # every open and click counts, each once
            key = f"{key}:{when}:{info.get('link') or ''}"
        record(customer, name, key, props, {field: when or clock_now().isoformat()})
        return f"noted {kind.lower()}"
    if kind in IGNORED:
        return f"ignored: {kind} ({IGNORED[kind]})"
    return f"ignored: unknown SES event type {kind!r}"


def sms_reply(message: dict[str, Any]) -> str:
    """One inbound SMS (AWS End User Messaging two-way SMS payload). The customer's words are in
    ``messageBody``; ``messageKeyword`` is the keyword registered with our number, not theirs."""
    phone = message.get("originationNumber")
    body = message.get("messageBody")
    words = body.strip().upper().split() if isinstance(body, str) else []
    keyword = words[0] if words else ""
    customer = store.customer_for_phone(phone) if isinstance(phone, str) and phone else None
    if customer is None:
        return "ignored: number not known"
    key = message.get("inboundMessageId") or f"{phone}:{keyword}:{clock_now().isoformat()}"
    if keyword in STOP_WORDS:
        record(
            customer,
            "consent_updated",
            str(key),
            {"channel": "sms", "granted": False, "source": "sms_stop"},
        )
        return "sms consent withdrawn"
    if keyword in START_WORDS:
        record(
            customer,
            "consent_updated",
            str(key),
            {"channel": "sms", "granted": True, "source": "sms_start"},
        )
        return "sms consent granted"
    return "ignored: not a keyword"


def _sns_message(rec: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON object an SNS record carries, or None."""
    text = (_object(rec.get("Sns")) or {}).get("Message")
    try:
        body = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return _object(body)


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: an EventBridge SES event, or SNS records (inbound SMS, or SES events from an
    SNS event destination). Never raises on bad input: each item gets ``ignored: <why>``."""
    results = []
    detail = _object(event.get("detail"))
    if isinstance(event.get("Records"), list):
        for rec in event["Records"]:
            body = _sns_message(rec) if isinstance(rec, dict) else None
            if body is None:
                results.append("ignored: not a JSON object")
            elif "eventType" in body or "notificationType" in body:
                results.append(ses_event(body))  # an SES event destination that is SNS
            else:
                results.append(sms_reply(body))
    elif detail is not None and (event.get("source") == "aws.ses" or "eventType" in detail):
        results.append(ses_event(detail))
    else:
        results.append("ignored: not a feedback event")
    log.info("feedback: %s", results)
    return {"results": results}
