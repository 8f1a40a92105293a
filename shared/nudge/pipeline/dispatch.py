"""Dispatch: an outbox message -> re-checked, rendered, sent through SES or SNS, recorded.

Idempotent per message id: the item is claimed (``pending`` -> ``sending``) before the provider
is called and marked ``sent`` after. If we crash in between, a retry finds it ``sending``; once
the claim is older than any Lambda run could be, it is recorded ``failed`` rather than sent again
(never two, never silence).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from nudge import schedule, store
from nudge.clock import iso, parse_time
from nudge.clock import now as clock_now
from nudge.decide import channel_block
from nudge.model.decision import Decision
from nudge.model.events import envelope_doc
from nudge.pipeline.common import current_config, refresh_view
from nudge.rules import Ctx
from nudge.send import ProviderError, send_email, send_sms
from nudge.templates import TemplateError, compile_template, render, template_context
from nudge.unsubscribe import unsubscribe_url

if TYPE_CHECKING:
    from nudge.config import CompiledConfig
    from nudge.config.compiled import Content

log = logging.getLogger("nudge.dispatch")
STALE_CLAIM = timedelta(minutes=15)  # longer than the function's timeout


def _content(config: CompiledConfig, message: dict[str, Any]) -> Content | None:
    trigger = config.triggers.get(message["trigger"])
    if trigger is not None:
        return trigger.email if message["channel"] == "email" else trigger.sms
    return None


def _render(
    content: Content, channel: str, context: dict[str, Any]
) -> tuple[str | None, str | None, str | None]:
    subject = html = text = None
    if channel == "email":
        subject = render(compile_template(content.subject or ""), context).strip()
        if content.html:
            html = render(compile_template(content.html, html=True), context)
    if content.text:
        text = render(compile_template(content.text), context)
    return subject, html, text


def _finish(message: dict[str, Any], outcome: str, reason: str | None, status: str,
            now: datetime, provider_id: str | None = None, **detail: Any) -> str:  # fmt: skip
    decision = Decision(
        customer_id=message["customer_id"], trigger=message["trigger"], at=iso(now),
        outcome=outcome, reason=reason,
        event_id=(message.get("event") or {}).get("detail", {}).get("event_id"),
        event_type=(message.get("event") or {}).get("detail-type"),
        channel=message["channel"], message_id=message["message_id"], detail=detail,
    )  # fmt: skip
    store.finish_message(
        message["customer_id"], message["message_id"], status, decision, provider_id
    )
    return outcome


def dispatch_message(customer_id: str, message_id: str) -> str:
    """Send one outbox message if it is due and still wanted; returns what happened."""
    now = clock_now()
    current = store.get_message(customer_id, message_id)
    if current is None:
        return "missing"
    if current["status"] == "sending":
        claimed = current.get("claimed_at")
        if claimed and now - datetime.fromisoformat(claimed) >= STALE_CLAIM:
            return _finish(
                current,
                "failed",
                "provider_error",
                "failed",
                now,
                error="interrupted while sending; not retried to avoid a duplicate",
            )
        raise RuntimeError("message is being sent by another attempt; retry later")
    if current["status"] != "pending":
        return current["status"]
    send_at = parse_time(current["send_at"])
    if send_at > now:
        schedule.create_wake(
            "send", message_id, send_at, {"customer_id": customer_id, "message_id": message_id}
        )
        return "waiting"
    message = store.claim_message(customer_id, message_id)
    if message is None:
        return "claimed-elsewhere"
    config = current_config()
    profile = store.get_profile(customer_id).doc
    if profile is None:
        return _finish(message, "suppressed", "audience", "suppressed", now, error="no profile")
    view = refresh_view(profile, config, now)
    channel = message["channel"]
    blocked = channel_block(channel, view, config)
    if blocked:
        return _finish(
            message,
            "suppressed",
            blocked,
            "suppressed",
            now,
            at_send_time=True,
            **{f"consent.{channel}": view["consent"].get(channel)},
        )
    content = _content(config, message)
    if content is None:
        return _finish(
            message,
            "suppressed",
            "inactive",
            "suppressed",
            now,
            error="trigger no longer in config",
        )
    settings = config.settings
    unsub = unsubscribe_url(
        settings.unsubscribe.url if settings.unsubscribe else "https://example.invalid/unsubscribe",
        customer_id,
    )
    from nudge.config.compiled import evaluate_content

    blocks = evaluate_content(config, Ctx(view, view.get("history") or (), now.timestamp()))
    context = template_context(view, envelope_doc(message.get("event")), blocks, unsub)
    try:
        subject, html, text = _render(content, channel, context)
    except TemplateError as exc:
        return _finish(message, "failed", "template_error", "failed", now, error=str(exc))
    try:
        if channel == "email":
            headers = {
                "List-Unsubscribe": f"<{unsub}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "X-Nudge-Message-Id": message_id,
                "X-Nudge-Trigger": message["trigger"],
            }
            provider_id = send_email(
                settings.sender.email or "", view["email"], subject or "", html, text, headers
            )
        else:
            provider_id = send_sms(settings.sender.sms, view["phone"], text or "")
    except ProviderError as exc:
        return _finish(message, "failed", "provider_error", "failed", now, error=str(exc)[:300])
    return _finish(message, "sent", None, "sent", now, provider_id=provider_id)


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: DynamoDB stream records of new outbox items."""
    failures = []
    for record in event.get("Records", []):
        image = (record.get("dynamodb") or {}).get("NewImage") or {}
        if record.get("eventName") != "INSERT" or image.get("kind", {}).get("S") != "outbox":
            continue
        try:
            dispatch_message(image["customer_id"]["S"], image["message_id"]["S"])
        except Exception:
            log.exception("dispatch failed; the stream will retry this record")
            failures.append(
                {"itemIdentifier": (record.get("dynamodb") or {}).get("SequenceNumber")}
            )
    return {"batchItemFailures": failures}
