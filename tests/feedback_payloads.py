"""SES and SMS feedback for tests, built from the published examples in tests/fixtures/.

Each builder starts from the partner's own example (``tests/fixtures/ses/*.json``,
``tests/fixtures/sms/inbound_sns_event.json``, sources in their READMEs) and changes only what
binds it to a message a test really sent: ids, tags, addresses, times, numbers, the reply's
words.
"""

from __future__ import annotations

import json
from typing import Any

from nudge.core.clock import iso, parse_time
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
SES_TYPES = (
    "bounce",
    "complaint",
    "delivery",
    "send",
    "reject",
    "open",
    "click",
    "rendering_failure",
    "delivery_delay",
    "subscription",
)
_RECIPIENTS = {
    "bounce": "bouncedRecipients",
    "complaint": "complainedRecipients",
    "deliveryDelay": "delayedRecipients",
}


def fixture(partner: str, name: str) -> dict[str, Any]:
    """A fixture file as a fresh dict."""
    return json.loads((FIXTURES / partner / f"{name}.json").read_text())


def ses_for(
    name: str, mail: dict[str, Any], *, to: str | None = None, provider_id: str | None = None
) -> dict[str, Any]:
    """The published SES record ``name`` (``bounce``, ``open``, ...) in its EventBridge envelope,
    as SES delivers it for ``mail`` (an entry of ``sim.messages()``): the message's SES id, its
    recipient (``to`` overrides) and the ``customer``/``message`` tags nudge sent it with."""
    env = fixture("ses", name)
    detail = env["detail"]
    address = to or mail["to"]
    m = detail["mail"]
    m["messageId"] = provider_id or mail["provider_id"]
    m["destination"] = [address]
    if "commonHeaders" in m:
        m["commonHeaders"]["to"] = [address]
        m["commonHeaders"]["messageId"] = m["messageId"]
    m.setdefault("tags", {}).update(
        {"customer": [mail["customer_id"]], "message": [mail["message_id"]]}
    )
    for key, field in _RECIPIENTS.items():
        for recipient in (detail.get(key) or {}).get(field) or []:
            recipient["emailAddress"] = address
    if "delivery" in detail:
        detail["delivery"]["recipients"] = [address]
    _rebase(detail, mail.get("at"))
    return env


def _rebase(detail: dict[str, Any], sent_at: str | None) -> None:
    """Move the example's timestamps (2016-2020) to the message's send time, keeping their
    distances: SES reports events of the message it sent, not of one sent years ago."""
    if not sent_at:
        return
    shift = parse_time(sent_at) - parse_time(detail["mail"]["timestamp"])
    for section in detail.values():
        stamp = section.get("timestamp") if isinstance(section, dict) else None
        if isinstance(stamp, str):
            section["timestamp"] = iso(parse_time(stamp) + shift)


def sms_reply(
    number: str,
    body: str,
    inbound_id: str = "cae173d2-66b9-564c-8309-21f858e9fb84",
) -> dict[str, Any]:
    """The published two-way SMS example in its SNS -> Lambda event, from ``number`` saying
    ``body``."""
    event = fixture("sms", "inbound_sns_event")
    sns = event["Records"][0]["Sns"]
    message = json.loads(sns["Message"])
    message.update(
        {"originationNumber": number, "messageBody": body, "inboundMessageId": inbound_id}
    )
    sns["Message"] = json.dumps(message)
    return event
