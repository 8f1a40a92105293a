"""Ingest: an event -> profile updated once -> decisions, waits and outbox messages.

Accepts an SQS batch (the deployed path: bus -> rule -> queue -> ingest) or a single EventBridge
envelope (a direct rule target, ``sam local invoke -e events/x.json``). Partner events (Shopify,
Segment) are first mapped to native ones by ``nudge.adapters``; one they deliberately skip (a
completed checkout, an unmapped topic) is logged and counted, not dead-lettered. Every partner
event is counted per topic (``pipeline.source_counts``, shown by ``nudge sources``). Malformed events
go to the DLQ with a reason and never fail the batch; anything transient is reported as a batch
item failure so SQS retries only that record, and parked with the error as its reason on its last
receive (``MAX_RECEIVES``) rather than left for the queue's redrive, which keeps no reason.

What is malformed is ``nudge.core.limits``'s to say, and ingest's for what needs ``now``: an event
dated more than ``settings.ingest.max_future`` after now (or before ``max_age``, when set) is
parked; one older than a trigger's window is applied but does not fire it (``suppressed/stale``).

The write (``store.commit``) is a PutItem of the profile followed by a PutItem of its decision log
entry and of these, when they go with it:

- ``order_placed`` records who placed the order (Shopify refunds name only the order);
- the attribution event (``settings.attribution.event``) stores its conversion on the decision
  log, credited to the message that touched the customer within the window (``core.attribution``);
- a product view of ``settings.catalog.watch`` records the watcher.

It is one TransactWriteItems instead when something must be stored if and only if the profile
change is: outbox messages, nudge events to announce, an ``identify`` linking an ``anon:``
visitor (it merges it and leaves a redirecting stub). A customer's first profile is written only
if the id was not erased (a tombstone check in the transaction, or a read of the tombstone
right after a plain put, undone if there is one; privacy.py).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nudge.adapters import adapt_with_reason
from nudge.aws import store
from nudge.aws.bus import park
from nudge.core.attribution import order_conversion
from nudge.core.clock import now as clock_now
from nudge.core.decide import SUPPRESS, decision
from nudge.core.decisions import Plan
from nudge.core.durations import seconds
from nudge.core.events import CATALOG_TYPES, Event, MalformedEvent, parse_event
from nudge.core.limits import MAX_TRAITS_BYTES, check_time, json_size
from nudge.core.profile import apply_event, is_duplicate
from nudge.core.react import react
from nudge.flows import catalog, identity, source_counts
from nudge.flows.common import Write, current_config, write_customer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from nudge.config import CompiledConfig

log = logging.getLogger("nudge.ingest")
# IngestQueue's RedrivePolicy.maxReceiveCount in template.yaml (tests/unit/test_limits.py checks)
MAX_RECEIVES = 5
PROFILE_TRAITS_BYTES = 2 * MAX_TRAITS_BYTES  # all traits kept on one profile, as JSON


def count(name: str, **dimensions: str) -> None:
    """One CloudWatch (EMF) count; Powertools is imported only when one is emitted."""
    if not os.environ.get("POWERTOOLS_METRICS_NAMESPACE"):
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name=name, unit=MetricUnit.Count, value=1) as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)


@dataclass(slots=True)
class Outcome:
    """What applying one native event did."""

    customer_id: str
    plan: Plan | None = None
    duplicate: bool = False
    erased: bool = False
    redirected_from: str | None = None
    merged: list[str] = dataclasses.field(default_factory=list)


def ingest_event(envelope: Any) -> dict[str, Any]:
    """Adapt, validate and apply one envelope (dict or JSON text); returns a short summary.

    Raises ``MalformedEvent`` for an event that can never be processed (the caller parks it).
    """
    config = current_config()
    adaptation = adapt_with_reason(envelope, order_owner=store.order_owner)
    if not adaptation.events:
        reason = adaptation.skipped or "mapped to no event"
        log.info("partner event skipped: %s", reason, extra={"partner": adaptation.partner})
        count("PartnerEventsSkipped", partner=adaptation.partner or "unknown")
        if adaptation.partner:
            outcome = "unmapped" if adaptation.unmapped else "skipped"
            source_counts.tally(adaptation.partner, adaptation.topic, outcome, reason)
        return {"skipped": reason, "partner": adaptation.partner}
    # all of them are validated before any is applied: a bad one leaves nothing half-done
    events = [parse_event(native, config.settings.sources) for native in adaptation.events]
    _check_times(events, config)
    summaries = [
        catalog.apply_product_update(event, config)  # about a product, not a customer
        if event.type in CATALOG_TYPES
        else _summary(apply_to_customer(event, config), event)
        for event in events
    ]
    if adaptation.partner:
        source_counts.tally(adaptation.partner, adaptation.topic, "mapped")
    return summaries[0] if len(summaries) == 1 else {"events": summaries}


def _check_times(events: list[Event], config: CompiledConfig) -> None:
    """Park events dated after now + ``settings.ingest.max_future`` (they would pass for the
    newest thing the customer did for as long as the clock takes to get there), or before 2000
    or ``settings.ingest.max_age``."""
    limits = config.settings.ingest
    max_future = seconds(limits.max_future)
    max_age = seconds(limits.max_age) if limits.max_age else None
    now = clock_now()
    for event in events:
        check_time(event.time, now, max_future, max_age)


def _summary(outcome: Outcome, event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {"customer_id": outcome.customer_id}
    if outcome.redirected_from:
        out["redirected_from"] = outcome.redirected_from
    if outcome.erased:
        log.info("event for an erased customer dropped", extra={"event_type": event.type})
        count("ErasedCustomerEventsDropped")
        out["erased"] = True
        return out
    if outcome.duplicate:
        store.put_decisions(
            [decision(outcome.customer_id, None, clock_now(), SUPPRESS, "duplicate", event)]
        )
        out["duplicate"] = True
        return out
    if outcome.merged:
        out["merged"] = outcome.merged
    plan = outcome.plan
    out["decisions"] = [f"{d.trigger}:{d.outcome}" for d in plan.decisions] if plan else []
    return out


def apply_to_customer(event: Event, config: CompiledConfig) -> Outcome:
    """Read the profile, apply the event, decide, and write it all in one call: the customer
    loop (``pipeline.common.write_customer``) with what only ingest needs. Merged aliases
    redirect to their customer; an erased customer stays erased unless the event opts in again
    (``identity.reopts_in``); an ``identify`` merges the aliases it links (their stubs in the
    same write, their waits unscheduled after it); an ``order_placed`` records who placed the
    order in the same write. nudge's own events (segment and tier changes) go on the bus after.
    """
    merged: list[str] = []
    duplicate = False

    def change(profile: dict[str, Any], now: datetime) -> Write | None:
        nonlocal merged, duplicate
        mine = dataclasses.replace(event, customer_id=profile["customer_id"])
        duplicate = is_duplicate(profile, mine)
        if duplicate:
            return None
        merge = identity.merge_aliases(profile, mine, config.history, now)
        merged = merge.merged
        applied = identity.apply_hints(profile, mine)  # `mine` keeps them for a retry
        apply_event(profile, applied, config.history, now)
        if applied.traits and json_size(profile.get("traits")) > PROFILE_TRAITS_BYTES:
            raise MalformedEvent(  # nothing is written: the profile stays as it was
                f"detail.traits: the profile's traits would exceed {PROFILE_TRAITS_BYTES} bytes"
            )
        plan = react(profile, config, now, applied)  # the event, and segment/tier changes it made
        after: list[dict[str, Any]] = []  # put surely after the profile (store.commit)
        if mine.type == "order_placed":
            after.append(store.order_index_put(str(mine.properties["order_id"]), mine.customer_id))
        rule = config.settings.attribution
        if mine.type == rule.event:  # credited to the message that touched them last (or first)
            credit = order_conversion(profile, applied, seconds(rule.window), rule.model)
            if credit is not None:
                after.append(store.conversion_put(credit))
        watch = catalog.watch_entry(mine, mine.customer_id, config)  # settings.catalog.watch
        if watch is not None:
            after.append(watch)
        return Write(plan, list(merge.items), merge.cancelled_waits, after, merge.drop)

    written = write_customer(
        event.customer_id, change, follow_aliases=True, reopens=identity.reopts_in(event)
    )
    return Outcome(
        written.customer_id,
        written.plan,
        duplicate=duplicate and not written.erased,
        erased=written.erased,
        redirected_from=written.redirected_from,
        merged=merged if written.plan is not None else [],
    )


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: an SQS batch (Powertools ``BatchProcessor``: a record that raises is a batch
    item failure, retried alone) or one EventBridge envelope (``sam local invoke``)."""
    try:
        if "Records" not in event:
            return _envelope(event)
        from aws_lambda_powertools.utilities.batch import (
            BatchProcessor,
            EventType,
            process_partial_response,
        )

        # a batch whose every record failed is still reported item by item, not raised
        processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False, logger=log)
        return dict(process_partial_response(event, _record, processor, context))
    finally:
        source_counts.flush()


def _envelope(envelope: dict[str, Any]) -> dict[str, Any]:
    """A bare EventBridge envelope (a direct rule target, or ``sam local invoke -e``)."""
    try:
        return ingest_event(envelope)
    except MalformedEvent as exc:
        park(envelope, exc.reason)
        return {"malformed": exc.reason}
    except RecursionError:
        park(envelope, TOO_DEEP)
        return {"malformed": TOO_DEEP}


TOO_DEEP = "event is nested too deeply to read"


def _record(record: SQSRecord) -> None:
    """One SQS message: malformed -> DLQ (never a failure); anything else that raises is retried,
    and on its last receive parked with the error as the reason (never redriven without one)."""
    from nudge.observe import correlate

    correlate(record.message_id)
    body = record.body or ""
    try:
        ingest_event(body)
    except MalformedEvent as exc:
        park(body, exc.reason)
    except RecursionError:
        park(body, TOO_DEEP)
    except Exception as exc:
        receives = _receives(record)
        if receives < MAX_RECEIVES:
            raise  # a batch item failure: SQS delivers it again
        log.error("event failed on its last delivery, parked: %s", _error_name(exc))
        park(body, f"failed on all {receives} deliveries: {_error_name(exc)}")


def _receives(record: SQSRecord) -> int:
    """How many times SQS has delivered this record (1 on the first delivery)."""
    try:
        return int(record.attributes.approximate_receive_count)
    except (KeyError, TypeError, ValueError):
        return 1


def _error_name(exc: Exception) -> str:
    """The error's class, and an AWS error's code (never its message: it may quote the item)."""
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return f"{type(exc).__name__} ({code})" if code else type(exc).__name__
