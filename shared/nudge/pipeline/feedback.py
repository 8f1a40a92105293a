"""Feedback: what mailbox providers and phones tell us, turned into profile facts.

- SES events (configuration set -> EventBridge): a permanent bounce marks the address
  undeliverable; a complaint withdraws email consent; delivery/open/click are noted.
- Inbound SMS (two-way SMS -> SNS topic -> this function): STOP (and the usual synonyms)
  withdraws SMS consent; START/UNSTOP grants it again; any other reply is ``sms_replied``.
Each fact is applied like an event (``consent_updated`` with source ``nudge.feedback``, or an
engagement event: ``email_delivered``, ``email_opened``, ``email_clicked``, ``email_bounced``,
``email_complained``, ``sms_replied``), so it shows in the customer's history and in ``nudge
explain``, and triggers decide on it in the same write (docs/config.md, "Engagement events").
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from nudge import store
from nudge.clock import now as clock_now
from nudge.clock import parse_time
from nudge.model.decision import stable_id
from nudge.model.events import Event
from nudge.pipeline.common import current_config, engagement_properties, record_event
from nudge.send import untag

log = logging.getLogger("nudge.feedback")
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "ARRET"}
START_WORDS = {"START", "UNSTOP", "YES"}
ENGAGEMENT = {"Delivery": "delivered_at", "Open": "opened_at", "Click": "clicked_at"}
# SES eventType -> (engagement event, key of the SES object that holds its details)
SES_EVENTS = {
    "Delivery": ("email_delivered", "delivery"),
    "Open": ("email_opened", "open"),
    "Click": ("email_clicked", "click"),
    "Bounce": ("email_bounced", "bounce"),
    "Complaint": ("email_complained", "complaint"),
}


def record(
    customer_id: str,
    kind: str,
    key: str,
    properties: dict[str, Any],
    flags: dict[str, Any] | None = None,
    at: str | None = None,
) -> bool:
    """Apply a feedback fact to the customer as an event, deciding on it in the same write;
    False if already applied. ``at`` is when it happened, if the provider says (else now)."""
    event = Event(
        id=stable_id("feedback", key),
        type=kind,
        source="nudge.feedback",
        time=_when(at),
        customer_id=customer_id,
        properties=properties,
    )
    return record_event(customer_id, event, current_config(), flags) is not None


def _when(at: str | None) -> datetime:
    """The provider's time of the fact, never later than now (clocks differ); else now."""
    now = clock_now()
    try:
        return min(parse_time(at), now) if at else now
    except (ValueError, TypeError, AttributeError):
        return now


def _message(
    customer_id: str, message_id: str | None, trigger: str | None, channel: str
) -> dict[str, Any]:
    """``message_id``/``trigger``/``channel``/``chain`` of the message a fact is about: from our
    outbox item while it is kept, else from what the provider echoed back (SES tags)."""
    stored = store.get_message(customer_id, message_id) if message_id else None
    if stored is not None:
        return engagement_properties(stored)
    out: dict[str, Any] = {"message_id": message_id, "trigger": trigger, "channel": channel}
    if trigger:
        out["chain"] = [trigger]
    return out


def _link(url: Any) -> str | None:
    """A clicked link without its query and fragment: they may hold a customer's tokens."""
    if not isinstance(url, str) or not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def ses_event(detail: dict[str, Any]) -> str:
    """One SES event (``detail`` of an EventBridge ``aws.ses`` event)."""
    kind = detail.get("eventType") or detail.get("notificationType") or ""
    mail = detail.get("mail") or {}
    tags = mail.get("tags") or {}
    customer = (tags.get("customer") or [None])[0]
    if not customer:
        return "ignored: no customer tag"
    customer = untag(customer)
    if kind not in SES_EVENTS:
        return f"ignored: {kind or 'unknown event'}"
    name, section = SES_EVENTS[kind]
    info = detail.get(section) or {}
    at = info.get("timestamp")
    key = f"{mail.get('messageId')}:{kind}"
    if kind == "Bounce":
        bounce = detail.get("bounce") or {}
        if bounce.get("bounceType") != "Permanent":
            return "ignored: transient bounce"
        props = {**_about(customer, mail), "bounce_type": "Permanent"}
        props["sub_type"] = bounce.get("bounceSubType")
        record(customer, name, key, props, {"email_undeliverable": True}, at)
        return "undeliverable"
    if kind == "Complaint":
        record(customer, "consent_updated", key,
               {"channel": "email", "granted": False, "source": "complaint"})  # fmt: skip
        props = _about(customer, mail)
        if info.get("complaintFeedbackType"):
            props["feedback_type"] = info["complaintFeedbackType"]
        record(customer, name, f"{key}:{name}", props, at=at)
        return "email consent withdrawn"
    props = _about(customer, mail)
    if kind == "Click":
        key = f"{key}:{info.get('link')}"  # the first click on each link
        props["link"] = _link(info.get("link"))
        if info.get("linkTags"):
            props["link_tags"] = info["linkTags"]
    record(customer, name, key, props, {ENGAGEMENT[kind]: clock_now().isoformat()}, at)
    return f"noted {kind.lower()}"


def _about(customer_id: str, mail: dict[str, Any]) -> dict[str, Any]:
    """The engagement properties of the email an SES event is about (our tags on it)."""
    tags = mail.get("tags") or {}
    mid, trigger = ((tags.get(name) or [None])[0] for name in ("message", "trigger"))
    message_id = untag(mid) if mid else None
    props = _message(customer_id, message_id, untag(trigger) if trigger else None, "email")
    return props


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
    last = _last_sms(customer)
    props = _message(customer, last["mid"], last["trigger"], "sms") if last else {"channel": "sms"}
    record(customer, "sms_replied", key, {**props, "keyword": keyword})
    return "noted reply"


def _last_sms(customer_id: str) -> dict[str, Any] | None:
    """The last SMS nudge sent this customer (its ledger entry): the one a reply answers."""
    profile = store.get_profile(customer_id).doc or {}
    sends = profile.get("sends") or ()
    sent = [s for s in sends if s.get("channel") == "sms" and s.get("state") == "sent"]
    return sent[-1] if sent else None


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
