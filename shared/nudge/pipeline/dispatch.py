"""Dispatch: an outbox message -> re-checked, rendered, sent through SES or SNS, recorded.

Order of checks at the moment of sending (CONTRACT §4: suppression is checked again then):
expiry, trigger still live (still in the deployed config, enabled, inside its ``active`` window:
``decide.inactive``, the check made when it fired), audience (incl. ``did_not``), consent and
address, quiet hours, frequency caps (highest priority first), rendering, then the control group.
A message held back by quiet hours or caps is ``deferred`` and retried by a one-time schedule.

Once the provider accepted a message, ``message_sent`` is recorded on the customer and decided on
in that write (triggers may fire on it; ``pipeline.common.record_message_sent``), then put on the
bus for other consumers.

Idempotent per message id: the item is claimed (``pending`` -> ``sending``) before anything is
decided and marked after. If we crash in between, a retry finds it ``sending``; once the claim is
older than any Lambda run could be, it is recorded ``failed`` rather than sent again: at most
once, and never silently (docs/delivery.md).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from nudge import schedule, store
from nudge.clock import iso, parse_time
from nudge.clock import now as clock_now
from nudge.decide import address_detail, channel_block, inactive
from nudge.delivery import cap_block, customer_zone, holdout_reason, quiet_until
from nudge.durations import seconds
from nudge.faults import checkpoint
from nudge.metrics import count_decisions
from nudge.model.decision import Decision, Plan
from nudge.model.events import envelope_doc
from nudge.pipeline.common import (
    current_config,
    record_message_sent,
    refresh_view,
    update_customer,
)
from nudge.rules import Ctx
from nudge.send import ProviderError, send_email, send_sms
from nudge.templates import TemplateError, compile_template, render, template_context
from nudge.unsubscribe import unsubscribe_url

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from nudge.config import CompiledConfig
    from nudge.config.compiled import CompiledTrigger, Content

log = logging.getLogger("nudge.dispatch")
STALE_CLAIM = timedelta(minutes=15)  # longer than the function's timeout


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


def _decision(
    message: dict[str, Any], now: datetime, outcome: str, reason: str | None, **detail: Any
) -> Decision:
    event = message.get("event") or {}
    return Decision(
        customer_id=message["customer_id"],
        trigger=message["trigger"],
        at=iso(now),
        outcome=outcome,
        reason=reason,
        event_id=(event.get("detail") or {}).get("event_id"),
        event_type=event.get("detail-type"),
        channel=message["channel"],
        message_id=message["message_id"],
        detail=detail,
    )


def _ledger(customer_id: str, message: dict[str, Any], state: str | None, now: datetime) -> None:
    """Record in the profile's send ledger what became of a message (None: it never counted)."""
    mid = message["message_id"]

    def change(profile: dict[str, Any], _now: datetime) -> Plan | None:
        sends = [s for s in profile.get("sends", []) if s.get("mid") != mid]
        if state is not None:
            sends.append(
                {
                    "trigger": message["trigger"],
                    "channel": message["channel"],
                    "ts": now.timestamp(),
                    "mid": mid,
                    "state": state,
                }
            )
        if sends == profile.get("sends", []):
            return None
        profile["sends"] = sends
        return Plan()

    update_customer(customer_id, change)


def _end(
    message: dict[str, Any],
    now: datetime,
    status: str,
    outcome: str,
    reason: str | None,
    provider_id: str | None = None,
    ledger: str | None = "keep",
    **detail: Any,
) -> str:
    """Finish a claimed message: outbox status and decision in one write, then the ledger."""
    decision = _decision(message, now, outcome, reason, **detail)
    try:
        store.finish_message(
            message["customer_id"], message["message_id"], status, decision, provider_id
        )
    except store.Gone:
        return "erased"
    count_decisions([decision])
    if ledger != "keep":
        _ledger(message["customer_id"], message, ledger, now)
    return outcome


def _defer(
    message: dict[str, Any], now: datetime, until: datetime, reason: str, **detail: Any
) -> str:
    """Put a claimed message back to ``pending`` with a later ``send_at`` and wake up then."""
    expires = message.get("expires_at")
    wake_at = until
    if expires and parse_time(expires) < until:
        wake_at = parse_time(expires)  # it will be dropped as expired then
    decision = _decision(message, now, "deferred", reason, until=iso(until), **detail)
    try:
        store.finish_message(
            message["customer_id"], message["message_id"], "pending", decision, send_at=iso(wake_at)
        )
    except store.Gone:
        return "erased"
    count_decisions([decision])
    schedule.create_wake(
        "send",
        message["message_id"],
        wake_at,
        {"customer_id": message["customer_id"], "message_id": message["message_id"]},
    )
    return "deferred"


def _content(trigger: CompiledTrigger, channel: str) -> Content | None:
    return trigger.email if channel == "email" else trigger.sms


def _outranking(
    message: dict[str, Any], view: dict[str, Any], config: CompiledConfig, now: datetime
) -> list[str]:
    """Channels of this customer's other messages that should win the cap before this one:
    higher priority, still reachable, and due now or within the arbitration window."""
    horizon = now + timedelta(seconds=seconds(config.settings.arbitration_window))
    mine = (
        -int(message.get("priority") or 50),
        message.get("created_at", ""),
        message["message_id"],
    )
    ahead = []
    for other in store.pending_messages(message["customer_id"]):
        if other["message_id"] == message["message_id"] or parse_time(other["send_at"]) > horizon:
            continue
        rank = (-int(other.get("priority") or 50), other.get("created_at", ""), other["message_id"])
        trigger = config.target(other["trigger"], other.get("variant"))
        if (
            rank < mine
            and inactive(trigger, now) is None  # one that will be dropped as inactive cannot win
            and channel_block(other["channel"], view, config) is None
        ):
            ahead.append(other["channel"])
    return ahead


def dispatch_message(customer_id: str, message_id: str) -> str:
    """Send one outbox message if it is due and still wanted; returns what happened."""
    now = clock_now()
    current = store.get_message(customer_id, message_id)
    if current is None:
        return "missing"
    if current["status"] == "sending":
        claimed = current.get("claimed_at")
        if not claimed or now - datetime.fromisoformat(claimed) < STALE_CLAIM:
            raise RuntimeError("message is being sent by another attempt; retry later")
        if current.get("calling_at"):
            # the provider may have accepted it: at most once, so record the failure instead
            return _end(
                current,
                now,
                "failed",
                "failed",
                "provider_error",
                ledger=None,
                error="interrupted after calling the provider; not retried, to never send twice",
            )
        retaken = store.unclaim(customer_id, message_id)  # crashed before the provider call
        return _deliver(retaken, now) if retaken else "claimed-elsewhere"
    if current["status"] == "sent":
        # a retry after recording message_sent failed: record it now (a duplicate is a no-op)
        record_message_sent(current)
    if current["status"] != "pending":
        return str(current["status"])
    send_at = parse_time(current["send_at"])
    if send_at > now:
        schedule.create_wake(
            "send", message_id, send_at, {"customer_id": customer_id, "message_id": message_id}
        )
        return "waiting"
    message = store.claim_message(customer_id, message_id)
    if message is None:
        return "claimed-elsewhere"
    checkpoint("dispatch.after_claim")
    return _deliver(message, now)


def _deliver(message: dict[str, Any], now: datetime) -> str:
    customer_id, channel = message["customer_id"], message["channel"]
    expires = message.get("expires_at")
    if expires and now >= parse_time(expires):
        return _end(
            message, now, "suppressed", "suppressed", "expired", ledger=None, expires_at=expires
        )
    config = current_config()
    profile = store.get_profile(customer_id).doc
    if profile is None:
        return _end(
            message, now, "suppressed", "suppressed", "audience", ledger=None, error="no profile"
        )
    trigger = config.target(message["trigger"], message.get("variant"))
    why = inactive(trigger, now)  # the same check as when it fired, against the deployed config
    if trigger is None or why is not None:
        detail = {"at_send_time": True, **(why or {})}
        return _end(message, now, "suppressed", "suppressed", "inactive", ledger=None, **detail)
    newer = [
        s
        for s in profile.get("sends", [])
        if s["trigger"] == trigger.id
        and s.get("mid") != message["message_id"]
        and s.get("state") == "queued"
        and s["ts"] > parse_time(message["created_at"]).timestamp()
    ]
    if newer:
        return _end(
            message,
            now,
            "suppressed",
            "suppressed",
            "superseded",
            ledger=None,
            replaced_by=newer[-1]["mid"],
        )
    view = refresh_view(profile, config, now)
    if not trigger.who(Ctx(view, view.get("history") or (), now.timestamp())):
        return _end(
            message,
            now,
            "suppressed",
            "suppressed",
            "audience",
            ledger=None,
            at_send_time=True,
            segments=view.get("segments") or [],
        )
    blocked = channel_block(channel, view, config)
    if blocked:
        return _end(
            message,
            now,
            "suppressed",
            "suppressed",
            blocked,
            ledger=None,
            at_send_time=True,
            **{f"consent.{channel}": view["consent"].get(channel)},
            **address_detail(channel, view),
        )
    settings = config.settings
    quiet = settings.quiet_hours
    if quiet and channel in quiet.channels:
        zone = customer_zone(view, settings.timezone)
        until = quiet_until(now, zone, quiet.start, quiet.end)
        if until is not None:
            local = now.astimezone(zone).strftime("%H:%M")
            return _defer(
                message,
                now,
                until,
                "quiet_hours",
                local_time=f"{local} {zone.key}",
                quiet=f"{quiet.start}-{quiet.end}",
            )
    if settings.frequency_caps:
        block = cap_block(
            view.get("sends", []),
            settings.frequency_caps,
            channel,
            now,
            _outranking(message, view, config, now),
            timedelta(seconds=seconds(settings.arbitration_window)),
        )
        if block is not None:
            return _defer(
                message,
                now,
                block.retry_at,
                "frequency_cap",
                cap=block.cap,
                sent_in_window=block.used,
                outranked_by=block.ahead,
            )
    content = _content(trigger, channel)
    if content is None:
        return _end(message, now, "suppressed", "suppressed", "inactive", ledger=None)
    base = settings.unsubscribe.url if settings.unsubscribe else "https://example.invalid/u"
    unsub = unsubscribe_url(base, customer_id, channel)  # a link in a text stops texts
    from nudge.config.compiled import evaluate_content

    blocks = evaluate_content(config, Ctx(view, view.get("history") or (), now.timestamp()))
    context = template_context(view, envelope_doc(message.get("event")), blocks, unsub)
    try:
        subject, html, text = _render(content, channel, context)
    except TemplateError as exc:
        return _end(message, now, "failed", "failed", "template_error", ledger=None, error=str(exc))
    holdout = settings.holdout
    held = holdout_reason(
        customer_id,
        trigger.id,
        holdout.percent if holdout else 0,
        holdout.salt if holdout else "",
        trigger.model.holdout,
    )
    if held:
        # the control group is recorded where the message would really have gone out, and
        # uses the same cap slot and cooldown, so treated and control groups stay comparable
        return _end(message, now, "held_out", "held_out", held, ledger="held_out")
    _ledger(customer_id, message, "sent", now)  # reserve the cap slot before sending
    checkpoint("dispatch.before_provider_call")
    store.mark_calling(customer_id, message["message_id"])
    try:
        if channel == "email":
            headers = {
                "List-Unsubscribe": f"<{unsub}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "X-Nudge-Message-Id": message["message_id"],
            }
            provider_id = send_email(
                settings.sender.email or "",
                view["email"],
                subject or "",
                html,
                text,
                headers,
                tags={
                    "customer": customer_id,
                    "message": message["message_id"],
                    "trigger": message["trigger"],
                },
            )
        else:
            provider_id = send_sms(settings.sender.sms, view["phone"], text or "")
            store.remember_phone(view["phone"], customer_id)
    except ProviderError as exc:
        return _end(
            message, now, "failed", "failed", "provider_error", ledger=None, error=str(exc)[:300]
        )
    checkpoint("dispatch.after_provider_accepted")
    outcome = _end(message, now, "sent", "sent", None, provider_id=provider_id)
    if outcome == "sent":
        record_message_sent(message)  # and triggers on it decide in that write
    return outcome


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: DynamoDB stream records of new outbox items (Powertools ``BatchProcessor``:
    a record that raises is a batch item failure, retried by the stream from that record)."""
    if not event.get("Records"):
        return {"batchItemFailures": []}
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    # a batch whose every record failed is still reported item by item, not raised
    processor = BatchProcessor(
        EventType.DynamoDBStreams, raise_on_entire_batch_failure=False, logger=log
    )
    return dict(process_partial_response(event, _outbox_record, processor, context))


def _outbox_record(record: DynamoDBRecord) -> None:
    """Send the outbox item of one INSERT record; other records (the filter lets none through
    in AWS) are skipped."""
    image = record.dynamodb.new_image if record.dynamodb else None
    if record.event_name is None or record.event_name.name != "INSERT" or not image:
        return
    if image.get("kind") != "outbox":
        return
    from nudge.observe import correlate

    correlate(str(image["message_id"]))
    dispatch_message(str(image["customer_id"]), str(image["message_id"]))
