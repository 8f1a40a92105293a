"""Dispatch: an outbox message -> re-checked, rendered, sent through SES or SNS, recorded.

Read -> verdict -> act. One strongly consistent Query reads the customer's profile and outbox
(``store.customer_outbox``); ``nudge.core.verdict`` decides, purely, whether the message goes now
(suppression is checked again at sending; the order of checks: docs/config.md §6 and
docs/delivery.md);
dispatch then acts: a suppression or a deferral is one write with its decision (a deferred
message is retried by a one-time schedule), a send is rendered, reserves its cap slot in the
profile and marks the provider call in one transaction, calls SES or SNS and is recorded.

Once the provider accepted a message, ``message_sent`` is recorded on the customer and decided on
in that write (triggers may fire on it; ``pipeline.common.record_message_sent``), then put on the
bus for other consumers.

Idempotent per message id: the item is claimed (``pending`` -> ``sending``) before anything is
decided and marked after. If we crash in between, the item stays ``sending``; once the claim is
older than any run of the functions that claim (``STALE_CLAIM``), a retry or the sweeper
(``nudge.flows.sweeper``) resolves it, exactly one of them (``resolve_claimed``): re-sent once if
the provider call was never marked, recorded ``sent`` if the provider's message id is known, else
``failed`` / ``provider_error`` with the evidence: at most once, and never silently
(docs/delivery.md).

Every write is conditional on the customer not being erased (no tombstone) and on the outbox item
still being there: an erasure that lands before the provider call is marked ends with nothing
sent; one that lands after leaves nothing behind either way.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from nudge.aws import scheduler as schedule
from nudge.aws import store
from nudge.aws.providers import (
    MessageError,
    ProviderError,
    ProviderUnavailable,
    build_email,
    send_email,
    send_sms,
    send_webhook,
)
from nudge.aws.secrets import signing_keys, webhook_key
from nudge.core.clock import iso, parse_time
from nudge.core.clock import now as clock_now
from nudge.core.decisions import Decision, Plan
from nudge.core.events import envelope_doc
from nudge.core.gate import TRANSACTIONAL, WEBHOOK, lane_of, topic_of
from nudge.core.rules import Ctx
from nudge.core.templates import TemplateError, compile_template, render, template_context
from nudge.core.tokens import make_token, unsubscribe_url
from nudge.core.verdict import Defer, HoldOut, Send, Suppress, verdict
from nudge.core.webhook import render_body
from nudge.faults import checkpoint
from nudge.flows.common import (
    MAX_ATTEMPTS,
    backoff,
    current_config,
    record_message_sent,
    update_customer,
)
from nudge.metrics import count_decisions

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from nudge.config import CompiledConfig
    from nudge.config.compiled import Content

log = logging.getLogger("nudge.dispatch")
# The longest a dispatch or wake run can last (their Timeout in template.yaml; a test checks).
FUNCTION_TIMEOUT = timedelta(seconds=30)
# A claim older than this belongs to a run that is over (it finished or Lambda stopped it): the
# timeout plus a margin for clock differences between Lambda hosts.
STALE_CLAIM = FUNCTION_TIMEOUT + timedelta(seconds=60)
# A provider that throttles or cannot be reached is tried again this much later, doubling, this
# many times; then the message is recorded failed / provider_error.
PROVIDER_RETRY = timedelta(minutes=1)
PROVIDER_RETRIES = 5
RECORD_ATTEMPTS = 5  # tries to record a message the provider accepted (throttling)
ENGAGEMENT = ("email_delivered", "email_opened", "email_clicked", "email_bounced")


def render_parts(
    content: Content, channel: str, context: dict[str, Any]
) -> tuple[str | None, str | None, str | None]:
    """Subject, HTML and text of ``content`` for ``channel`` (a webhook's text is its compact
    JSON body); raises ``TemplateError``."""
    subject = html = text = None
    if channel == WEBHOOK:
        return None, None, render_body(content.body or "{}", context)
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
    if message.get("step"):  # a journey's send step, and its split variants (docs/reference.md)
        step = {"step": str(message["step"]).partition(":")[0]}
        detail = {
            **step,
            **({"variant": message["split"]} if message.get("split") else {}),
            **detail,
        }
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


def with_ledger(
    profile: dict[str, Any], message: dict[str, Any], state: str | None, now: datetime
) -> list[dict[str, Any]]:
    """The profile's send ledger once ``message`` is in ``state`` (None: it never counted)."""
    mid = message["message_id"]
    before = profile.get("sends", [])
    sends = [s for s in before if s.get("mid") != mid]
    if state is not None:
        entry = {
            "trigger": message["trigger"],
            "channel": message["channel"],
            "ts": now.timestamp(),
            "mid": mid,
            "state": state,
        }
        queued: dict[str, Any] = next((s for s in before if s.get("mid") == mid), {})
        for key in ("lane", "topic", "group"):  # what the caps count it under
            if key in queued:
                entry[key] = queued[key]
        sends.append(entry)
    return sends


def _ledger(customer_id: str, message: dict[str, Any], state: str | None, now: datetime) -> None:
    """Record in the profile's send ledger what became of a message (None: it never counted)."""

    def change(profile: dict[str, Any], _now: datetime) -> Plan | None:
        sends = with_ledger(profile, message, state, now)
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
    message: dict[str, Any],
    now: datetime,
    until: datetime,
    reason: str,
    retries: int | None = None,
    **detail: Any,
) -> str:
    """Put a claimed message back to ``pending`` with a later ``send_at`` and wake up then
    (``retries``: the provider tries so far, kept on the item)."""
    expires = message.get("expires_at")
    wake_at = until
    if expires and parse_time(expires) < until:
        wake_at = parse_time(expires)  # it will be dropped as expired then
    decision = _decision(message, now, "deferred", reason, until=iso(until), **detail)
    try:
        store.finish_message(
            message["customer_id"],
            message["message_id"],
            "pending",
            decision,
            send_at=iso(wake_at),
            provider_retries=retries,
        )
    except store.Gone:
        return "erased"
    count_decisions([decision])
    schedule.wake_message(message["customer_id"], message["message_id"], wake_at)
    return "deferred"


def dispatch_message(customer_id: str, message_id: str) -> str:
    """Send one outbox message if it is due and still wanted; returns what happened."""
    now = clock_now()
    stored, outbox = store.customer_outbox(customer_id)
    current = outbox.get(message_id)
    if current is None:
        return "missing"
    if current["status"] == "sending":
        return resolve_claimed(current, now, stored, outbox)
    if current["status"] == "sent":
        # a retry after recording message_sent failed: record it now (a duplicate is a no-op)
        record_message_sent(current)
    if current["status"] != "pending":
        return str(current["status"])
    send_at = parse_time(current["send_at"])
    if send_at > now:
        schedule.wake_message(customer_id, message_id, send_at)  # no-op if it exists
        return "waiting"
    message = store.claim_message(customer_id, message_id)
    if message is None:
        return "claimed-elsewhere"
    checkpoint("dispatch.after_claim")
    return _deliver(message, now, stored, outbox)


def resolve_claimed(
    current: dict[str, Any],
    now: datetime,
    stored: store.Stored,
    outbox: dict[str, dict[str, Any]],
) -> str:
    """A message found ``sending``. While the claim is fresh another run is sending it:
    ``in-flight`` (if that run died, the sweeper comes back once the claim is stale). A stale
    claim ends exactly one way: the provider call was never marked -> retaken (conditional on
    the very claim read, so of a retry and the sweeper only one retakes it) and sent once; the
    provider's message id is known (on the item, or an SES event about it came back) ->
    recorded ``sent``; else ``failed`` / ``provider_error`` with what is known."""
    customer_id, message_id = current["customer_id"], current["message_id"]
    claimed = current.get("claimed_at") or ""
    if claimed and now - datetime.fromisoformat(claimed) < STALE_CLAIM:
        return "in-flight"
    if not current.get("calling_at"):
        retaken = store.unclaim(customer_id, message_id, claimed)
        return _deliver(retaken, now, stored, outbox) if retaken else "claimed-elsewhere"
    provider_id = current.get("provider_id") or _provider_id_seen(stored.doc, message_id)
    if provider_id:
        outcome = _end(current, now, "sent", "sent", None, provider_id=provider_id)
        if outcome == "sent":
            record_message_sent(current)
        return outcome
    return _end(
        current,
        now,
        "failed",
        "failed",
        "provider_error",
        ledger=None,
        error="interrupted after calling the provider; not retried, to never send twice",
        claimed_at=claimed,
        calling_at=current["calling_at"],
    )


def _provider_id_seen(profile: dict[str, Any] | None, message_id: str) -> str | None:
    """The provider's id of ``message_id`` if an SES event about it came back (feedback)."""
    for entry in (profile or {}).get("history") or ():
        props = entry.get("properties") or {}
        seen = entry.get("type") in ENGAGEMENT and props.get("message_id") == message_id
        if seen and props.get("provider_id"):
            return str(props["provider_id"])
    return None


def _deliver(
    message: dict[str, Any],
    now: datetime,
    stored: store.Stored,
    outbox: dict[str, dict[str, Any]],
) -> str:
    """Act on the verdict for a claimed message; ``stored`` and ``outbox`` as read before."""
    customer_id, channel = message["customer_id"], message["channel"]
    config = current_config()
    target = config.target(message["trigger"], message.get("variant"))
    if getattr(getattr(target, "model", None), "at", None) is not None:
        stopped = store.broadcast_cancelled(message["trigger"])  # nudge broadcast cancel
        if stopped:
            detail = {"broadcast_cancelled": stopped}
            return _end(message, now, "suppressed", "suppressed", "inactive", ledger=None, **detail)
    for attempt in range(MAX_ATTEMPTS):
        # waiting, or claimed by another dispatch that has not called yet (one that has is in
        # the ledger already: verdict.outranking)
        pending = [m for m in outbox.values() if m["status"] in ("pending", "sending")]
        answer = verdict(message, stored.doc, config, now, pending)
        if isinstance(answer, Suppress):
            return _end(
                message,
                now,
                "suppressed",
                "suppressed",
                answer.reason,
                ledger=None,
                **answer.detail,
            )
        if isinstance(answer, Defer):
            return _defer(message, now, answer.until, answer.reason, **answer.detail)
        unsub = _unsubscribe(config, customer_id, channel, now, topic_of(answer.trigger))
        try:
            locale = (answer.view.get("traits") or {}).get("locale")
            _tag, content = answer.content.for_locale(locale)
            context = _context(answer, message, config, unsub, now, content)
            rendered = render_parts(content, channel, context)
            outgoing = _compose(message, answer, config, unsub, rendered)
        except (TemplateError, MessageError) as exc:
            return _end(
                message, now, "failed", "failed", "template_error", ledger=None, error=str(exc)
            )
        if isinstance(answer, HoldOut):
            # the control group is recorded where the message would really have gone out, and
            # uses the same cap slot and cooldown, so treated and control groups stay comparable
            return _end(message, now, "held_out", "held_out", answer.reason, ledger="held_out")
        checkpoint("dispatch.before_provider_call")
        assert stored.doc is not None  # a verdict to send needs a profile
        doc = copy.copy(stored.doc)
        doc["sends"] = with_ledger(doc, message, "sent", now)
        try:
            # reserve the cap slot and mark the call in one write, if nobody wrote meanwhile
            store.reserve_and_call(
                customer_id, doc, stored.version, message["message_id"], stored.pending
            )
        except store.VersionConflict:
            backoff(attempt + 1)
            stored, outbox = store.customer_outbox(customer_id)  # decide again on what changed
            continue
        except store.Gone:
            return "erased"  # nothing was sent, and nothing is written back
        checkpoint("dispatch.after_calling_marked")
        return _call_provider(message, now, answer, config, outgoing)
    raise RuntimeError(f"profile kept changing under us after {MAX_ATTEMPTS} attempts")


def _unsubscribe(
    config: CompiledConfig, customer_id: str, channel: str, now: datetime, topic: str | None
) -> str:
    """The message's signed unsubscribe link (a link in a text stops texts; a message with a
    topic names it, so one click leaves that topic only), issued now."""
    settings = config.settings
    base = settings.unsubscribe.url if settings.unsubscribe else "https://example.invalid/u"
    token = make_token(customer_id, channel, now, signing_keys(), topic)
    return unsubscribe_url(base, token)


# Each product's stored companions (``recommendations.bought_together``), read once per
# invocation: a batch of messages about the same products reads them once, and the next
# invocation sees what the latest daily recompute wrote.
_companions: dict[str, list[dict[str, Any]]] = {}


def forget_companions() -> None:
    """Start a new invocation's cache of bought-together lists."""
    _companions.clear()


def companions_of(products: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The stored bought-together list of each product (one read for those not yet cached)."""
    missing = [p for p in products if p not in _companions]
    if missing:
        found = store.bought_together(missing)
        for product in missing:
            _companions[product] = found.get(product) or []
    return {p: _companions[p] for p in products}


def _context(
    answer: Send | HoldOut,
    message: dict[str, Any],
    config: CompiledConfig,
    unsub: str,
    now: datetime,
    content: Content | None = None,
) -> dict[str, Any]:
    from nudge.config.compiled import evaluate_content

    view = answer.view
    blocks = evaluate_content(config, Ctx(view, view.get("history") or (), now.timestamp()))
    event = envelope_doc(message.get("event"))
    together = None
    settings = config.settings.recommendations.bought_together
    texts = (
        "".join(t or "" for t in (content.subject, content.html, content.text)) if content else ""
    )
    if settings is not None and "bought_together" in texts:  # read only for templates that show it
        from nudge.core.together import anchors, bought_together

        about = anchors(view, event)
        if about:
            together = bought_together(view, about, companions_of(about), settings.show)
    return template_context(view, event, blocks, unsub, together)


@dataclass(frozen=True, slots=True)
class WebhookOut:
    """A webhook message ready to sign and put on the bus."""

    endpoint: str
    body: str
    key: bytes = field(repr=False)


def _compose(
    message: dict[str, Any],
    answer: Send | HoldOut,
    config: CompiledConfig,
    unsub: str,
    rendered: tuple[str | None, str | None, str | None],
) -> bytes | str | WebhookOut:
    """What goes to the provider: the raw MIME message for an email (built before the call is
    marked, so a message that cannot be built ends ``failed``/``template_error``), the text of
    an SMS, a webhook's body and endpoint with the signing key. Raises ``MessageError``."""
    subject, html, text = rendered
    if message["channel"] == WEBHOOK:
        return WebhookOut(answer.content.endpoint or "", text or "{}", webhook_key())
    if message["channel"] != "email":
        return text or ""
    headers = {
        "List-Unsubscribe": f"<{unsub}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Nudge-Message-Id": message["message_id"],
    }
    sender = config.settings.sender.email or ""
    return build_email(sender, answer.view["email"], subject or "", html, text, headers)


def _call_provider(
    message: dict[str, Any],
    now: datetime,
    answer: Send,
    config: CompiledConfig,
    outgoing: bytes | str | WebhookOut,
) -> str:
    """Call SES, SNS or the bus (a webhook) for a message whose call is marked; record what
    came of it."""
    customer_id, channel, view = message["customer_id"], message["channel"], answer.view
    settings = config.settings
    transactional = lane_of(answer.trigger) == TRANSACTIONAL
    try:
        if isinstance(outgoing, WebhookOut):
            # the message id is the webhook-id: the same on every retry of this message
            provider_id = send_webhook(
                outgoing.endpoint, message["message_id"], outgoing.body, outgoing.key
            )
        elif isinstance(outgoing, bytes):
            provider_id = send_email(
                settings.sender.email or "",
                view["email"],
                outgoing,
                tags={
                    "customer": customer_id,
                    "message": message["message_id"],
                    "trigger": message["trigger"],
                },
                transactional=transactional,
            )
        else:
            provider_id = send_sms(
                settings.sender.sms, view["phone"], outgoing, transactional=transactional
            )
    except ProviderUnavailable as exc:
        return _provider_later(message, now, str(exc))
    except ProviderError as exc:
        return _end(
            message, now, "failed", "failed", "provider_error", ledger=None, error=str(exc)[:300]
        )
    checkpoint("dispatch.after_provider_accepted")
    outcome = _record_sent(message, now, provider_id)
    if outcome == "sent":
        if channel == "sms":
            store.remember_phone(view["phone"], customer_id)  # not if erased meanwhile
        record_message_sent(message)  # and triggers on it decide in that write
    return outcome


def _record_sent(message: dict[str, Any], now: datetime, provider_id: str) -> str:
    """Record a message the provider accepted, trying again while DynamoDB throttles: from
    here on, a failure would leave it to the sweeper's "maybe sent"."""
    from botocore.exceptions import ClientError

    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            return _end(message, now, "sent", "sent", None, provider_id=provider_id)
        except ClientError as exc:
            if attempt == RECORD_ATTEMPTS or not _throttled(exc):
                raise
            backoff(attempt)
    raise AssertionError("unreachable")


def _throttled(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
    codes = {code, *(str(r.get("Code")) for r in reasons)}
    return bool(
        codes
        & {
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "ThrottlingError",
            "RequestLimitExceeded",
            "TransactionConflict",
        }
    )


def _provider_later(message: dict[str, Any], now: datetime, error: str) -> str:
    """The provider throttled or could not be reached (it did not take the message): release
    the cap slot and try again later (``deferred`` / ``provider_unavailable``), doubling the
    wait; after ``PROVIDER_RETRIES`` tries, ``failed`` / ``provider_error``."""
    tries = int(message.get("provider_retries") or 0)
    if tries >= PROVIDER_RETRIES:
        return _end(
            message, now, "failed", "failed", "provider_error", ledger=None, error=error[:300]
        )
    until = now + PROVIDER_RETRY * 2**tries
    outcome = _defer(
        message, now, until, "provider_unavailable", retries=tries + 1, error=error[:300]
    )
    if outcome == "deferred":
        _ledger(message["customer_id"], message, None, now)
    return outcome


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: DynamoDB stream records of new outbox items (Powertools ``BatchProcessor``:
    a record that raises is a batch item failure, retried by the stream from that record)."""
    forget_companions()
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
