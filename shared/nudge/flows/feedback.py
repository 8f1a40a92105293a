"""Feedback: what mailbox providers and phones tell us, turned into profile facts.

- SES events (configuration set -> EventBridge, or an SNS destination): a permanent bounce marks
  the address it names (``bounce.bouncedRecipients``, else ``mail.destination``) ``bounced``; a
  complaint marks it ``complained`` and withdraws email consent; a contact-list unsubscribe
  (``Subscription`` with ``unsubscribeAll``) withdraws email consent; delivery/open/click are
  recorded as ``email_delivered``/``email_opened``/``email_clicked``; every other type is
  ignored with the reason. A marked address is never mailed again; another address of the same
  customer is (docs/delivery.md, "Feedback").
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
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from nudge.aws import store
from nudge.aws.providers import untag
from nudge.core.clock import now as clock_now
from nudge.core.clock import parse_time
from nudge.core.decisions import stable_id
from nudge.core.events import Event
from nudge.core.profile import normal_address
from nudge.flows.common import current_config, engagement_properties, envelope_field, record_event

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sns_event import SNSEventRecord

log = logging.getLogger("nudge.feedback")
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "ARRET"}
START_WORDS = {"START", "UNSTOP", "YES"}


def record(
    customer_id: str,
    kind: str,
    key: str,
    properties: dict[str, Any],
    flags: dict[str, Any] | None = None,
    at: str | None = None,
    addresses: dict[str, dict[str, Any]] | None = None,
) -> bool:
    """Apply a feedback fact to the customer as an event, deciding on it in the same write;
    False if already applied. ``at`` is when it happened, if the provider says (else now);
    ``flags`` are set on the profile; ``addresses`` (normalised address -> state) are marked."""
    event = Event(
        id=stable_id("feedback", key),
        type=kind,
        source="nudge.feedback",
        time=_when(at),
        customer_id=customer_id,
        properties=properties,
    )
    plan = record_event(customer_id, event, current_config(), flags, addresses=addresses)
    return plan is not None


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
    tags = _object(mail.get("tags")) or {}
    customer = _first(tags, "customer")
    if not customer:
        return "ignored: no customer tag"  # not a message nudge sent
    provider_id = str(mail.get("messageId") or "")
    about = _message(customer, _first(tags, "message"), _first(tags, "trigger"), "email")
    about["provider_id"] = provider_id
    key = f"{provider_id}:{kind}"
    if kind == "Bounce":
        bounce = _object(detail.get("bounce")) or {}
        if bounce.get("bounceType") != "Permanent":
            return f"ignored: {str(bounce.get('bounceType') or 'unknown').lower()} bounce"
        marks = _marks(detail, kind)
        if not marks:
            return "ignored: bounce names no address"
        props = {
            **about,
            "bounce_type": "Permanent",
            "addresses": len(marks),
            "sub_type": bounce.get("bounceSubType"),
        }
        record(customer, "email_bounced", key, props, at=_at(bounce), addresses=marks)
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
        props = dict(about)
        if complaint.get("complaintFeedbackType"):
            props["feedback_type"] = complaint["complaintFeedbackType"]
        record(customer, "email_complained", f"{key}:email_complained", props, at=_at(complaint))
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
        when = _at(info)
        props = dict(about)
        if kind == "Click":
            props["link"] = _link(info.get("link"))
            if info.get("linkTags"):
                props["link_tags"] = info["linkTags"]
        if kind != "Delivery":  # every open and click counts, each once
            key = f"{key}:{when}:{info.get('link') or ''}"
        record(customer, name, key, props, {field: when or clock_now().isoformat()}, at=when)
        return f"noted {kind.lower()}"
    if kind in IGNORED:
        return f"ignored: {kind} ({IGNORED[kind]})"
    return f"ignored: unknown SES event type {kind!r}"


def _at(section: dict[str, Any]) -> str | None:
    """The provider's timestamp of an SES event section, if it gives one."""
    value = section.get("timestamp")
    return value if isinstance(value, str) else None


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
    last = _last_sms(customer)
    props = _message(customer, last["mid"], last["trigger"], "sms") if last else {"channel": "sms"}
    record(customer, "sms_replied", str(key), {**props, "keyword": keyword})
    return "noted reply"


def _last_sms(customer_id: str) -> dict[str, Any] | None:
    """The last SMS nudge sent this customer (its ledger entry): the one a reply answers."""
    profile = store.get_profile(customer_id).doc or {}
    sends = profile.get("sends") or ()
    sent = [s for s in sends if s.get("channel") == "sms" and s.get("state") == "sent"]
    return sent[-1] if sent else None


def _sns_message(rec: SNSEventRecord) -> dict[str, Any] | None:
    """The JSON object an SNS record carries, or None."""
    text = envelope_field(lambda: rec.sns.message)
    try:
        body = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return _object(body)


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: an EventBridge SES event, or SNS records (inbound SMS, or SES events from an
    SNS event destination). Never raises on bad input: each item gets ``ignored: <why>``."""
    # Imported here, not with the module: Powertools' data classes would add to cold start
    # import time, and the wrapper (nudge.observe) has loaded Powertools by the first invoke.
    from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, SNSEvent

    results = []
    if isinstance(event.get("Records"), list):
        for rec in SNSEvent(event).records:
            body = _sns_message(rec) if isinstance(rec.raw_event, dict) else None
            if body is None:
                results.append("ignored: not a JSON object")
            elif "eventType" in body or "notificationType" in body:
                results.append(ses_event(body))  # an SES event destination that is SNS
            else:
                results.append(sms_reply(body))
    else:
        bridge = EventBridgeEvent(event)
        detail = _object(envelope_field(lambda: bridge.detail))
        if detail is not None and (
            envelope_field(lambda: bridge.source) == "aws.ses" or "eventType" in detail
        ):
            results.append(ses_event(detail))
        else:
            results.append("ignored: not a feedback event")
    log.info("feedback: %s", results)
    return {"results": results}
