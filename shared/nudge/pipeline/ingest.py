"""Ingest: a storefront event -> profile updated once -> decisions, waits and outbox messages.

Accepts an SQS batch (the deployed path: bus -> rule -> queue -> ingest) or a single EventBridge
envelope (a direct rule target, ``sam local invoke -e events/x.json``). Malformed events go to
the DLQ with a reason and never fail the batch; anything transient is reported as a batch item
failure so SQS retries only that record.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from nudge import store
from nudge.aws import client
from nudge.decide import decide
from nudge.env import get_env
from nudge.model.decision import Decision, Plan
from nudge.model.events import Event, MalformedEvent, parse_event
from nudge.pipeline.common import current_config, refresh_view, update_customer
from nudge.profile import apply_event, is_duplicate

log = logging.getLogger("nudge.ingest")


def to_dlq(body: Any, reason: str) -> None:
    """Park an event we can never process, with the reason, in the dead-letter queue."""
    url = get_env().dlq_url
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    if not url:
        log.error("malformed event and no DLQ configured: %s", reason)
        return
    client("sqs").send_message(
        QueueUrl=url,
        MessageBody=text,
        MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1000]}},
    )
    log.warning("malformed event sent to DLQ: %s", reason)


def ingest_event(envelope: Any) -> dict[str, Any]:
    """Apply one event and act on its decisions; returns a short summary."""
    config = current_config()
    event: Event = parse_event(envelope, config.settings.sources)
    duplicate = False

    def change(profile: dict[str, Any], now: datetime) -> Plan | None:
        nonlocal duplicate
        if is_duplicate(profile, event):
            duplicate = True
            return None
        apply_event(profile, event, config.history_seconds)
        view = refresh_view(profile, config, now)
        return decide(profile, view, event, config, now)

    plan = update_customer(event.customer_id, change)
    if duplicate:
        from nudge.clock import iso, now

        store.put_decisions(
            [Decision(event.customer_id, None, iso(now()), "suppressed", "duplicate",
                      event.id, event.type)]
        )  # fmt: skip
        return {"customer_id": event.customer_id, "duplicate": True}
    outcomes = [f"{d.trigger}:{d.outcome}" for d in plan.decisions] if plan else []
    return {"customer_id": event.customer_id, "decisions": outcomes}


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: an SQS batch or one EventBridge envelope."""
    if "Records" not in event:
        try:
            return ingest_event(event)
        except MalformedEvent as exc:
            to_dlq(event, exc.reason)
            return {"malformed": exc.reason}
    failures = []
    for record in event["Records"]:
        body = record.get("body", "")
        try:
            ingest_event(body)
        except MalformedEvent as exc:
            to_dlq(body, exc.reason)
        except Exception:
            log.exception("event failed; SQS will retry it")
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures}
