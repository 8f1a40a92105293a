"""The simulator's stand-in for EventBridge API destinations (moto and the memory backend do not
invoke them): a webhook event matched on the bus is posted to its endpoint over real HTTP, as the
deployed rule target does (template.yaml ``WebhookRule``; docs/delivery.md, "Webhooks").

What it copies from EventBridge (docs.aws.amazon.com/eventbridge/latest/userguide/
eb-api-destinations.html, "API destination error codes"; eb-rule-dlq.html): the body is the
event's ``detail.body`` and the headers its ``detail.headers``; an answer 429 or 5xx, a timeout
(5 s) or no connection is tried again, any other 4xx (and 1xx, 3xx) is not; ``Retry-After`` is
honoured when it asks for longer; after the target's ``RetryPolicy`` (attempts, event age) the
event goes to the dead-letter queue with ``ERROR_CODE``, ``ERROR_MESSAGE``,
``EXHAUSTED_RETRY_CONDITION``, ``RETRY_ATTEMPTS``, ``RULE_ARN`` and ``TARGET_ARN`` attributes.
The wait between tries doubles from ``first_retry`` (EventBridge adds jitter; the simulator does
not, so runs repeat) on the simulated clock: nothing sleeps.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nudge.core.webhook import canonical

TIMEOUT_SECONDS = 5.0  # an API destination waits this long for an answer (the docs above)
USER_AGENT = "Amazon/EventBridge/ApiDestinations"  # what EventBridge sends (the docs above)


DEFAULT_HEADERS = {
    "webhook-id": "$.detail.webhook_id",
    "webhook-timestamp": "$.detail.webhook_timestamp",
    "webhook-signature": "$.detail.webhook_signature",
}


@dataclass(frozen=True)
class WebhookPolicy:
    """The webhook rule target (template.yaml ``WebhookRule``): its ``RetryPolicy``, its
    ``HttpParameters.HeaderParameters`` (header -> JSON path into the event) and ``InputPath``;
    and the first wait between tries."""

    max_retries: int = 8
    max_age: timedelta = timedelta(hours=1)
    first_retry: timedelta = timedelta(seconds=30)
    headers: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_HEADERS))
    input_path: str = "$.detail.body"


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: ``ok``; else whether to try again, and why not."""

    ok: bool
    retry: bool
    code: str
    message: str
    retry_after: timedelta | None = None


def post(url: str, headers: dict[str, str], body: str) -> Attempt:
    """POST ``body`` to ``url`` with ``headers`` (and the ones EventBridge adds); classify."""
    request = urllib.request.Request(
        url,
        data=body.encode(),
        method="POST",
        headers={
            **headers,
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        status = int(exc.code)
        after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        retry = status == 429 or status >= 500
        return Attempt(False, retry, f"HTTP_{status}", f"the endpoint answered {status}", after)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Attempt(False, True, "CONNECTION_ERROR", f"no answer from the endpoint: {reason}")
    if 200 <= status < 300:
        return Attempt(True, False, "", "")
    return Attempt(False, False, f"HTTP_{status}", f"the endpoint answered {status}")


def _retry_after(value: str | None) -> timedelta | None:
    """A ``Retry-After`` of seconds (an HTTP date is left to the retry policy)."""
    try:
        return timedelta(seconds=max(0, int(str(value).strip()))) if value else None
    except ValueError:
        return None


def json_path(event: dict[str, Any], path: str) -> Any:
    """The value at a dot-notation JSON path (``$.detail.body``), or None."""
    value: Any = event
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        value = value.get(part) if isinstance(value, dict) else None
    return value


def request_of(event: dict[str, Any], policy: WebhookPolicy) -> tuple[str, dict[str, str], str]:
    """(endpoint name, headers, body) of a webhook event on the bus, as the rule target's
    ``HttpParameters`` (values read by JSON path) and ``InputPath`` make them."""
    headers = {}
    for name, path in policy.headers.items():
        value = json_path(event, path) if path.startswith("$") else path
        if value is not None:
            headers[name] = str(value)
    body = json_path(event, policy.input_path)
    name = json_path(event, "$.detail.endpoint")
    return str(name or ""), headers, canonical(body if isinstance(body, dict) else {})


def next_try(
    policy: WebhookPolicy,
    attempt: Attempt,
    tries: int,
    sent_at: datetime,
    now: datetime,
) -> datetime | None:
    """When to try again after ``tries`` failed tries, or None (to the dead-letter queue)."""
    if not attempt.retry or tries > policy.max_retries:
        return None
    wait = policy.first_retry * 2 ** (tries - 1)
    if attempt.retry_after is not None and attempt.retry_after > wait:
        wait = attempt.retry_after  # the more conservative of the two, as EventBridge does
    at = now + wait
    return at if at <= sent_at + policy.max_age else None


def dead_letter(
    event: dict[str, Any], attempt: Attempt, tries: int, policy: WebhookPolicy
) -> dict[str, Any]:
    """The dead-letter queue message for an event that was not delivered."""
    if not attempt.retry:
        condition = "NON_RETRYABLE_ERROR"
    elif tries > policy.max_retries:
        condition = "MaximumRetryAttempts"
    else:
        condition = "MaximumEventAgeInSeconds"

    def text(value: str) -> dict[str, str]:
        return {"DataType": "String", "StringValue": value}

    return {
        "MessageBody": json.dumps(event, default=str),
        "MessageAttributes": {
            "ERROR_CODE": text(attempt.code),
            "ERROR_MESSAGE": text(attempt.message[:1000]),
            "EXHAUSTED_RETRY_CONDITION": text(condition),
            "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": str(tries - 1)},
            "RULE_ARN": text("arn:aws:events:us-east-1:123456789012:rule/nudge-sim/webhooks"),
            "TARGET_ARN": text("webhook-destination"),
        },
    }
