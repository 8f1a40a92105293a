"""nudge's own events on the bus (source ``nudge``): segment and tier changes, messages sent;
and the ingest dead-letter queue, where events nudge can never process are parked with a reason.

Other consumers (analytics, the site) read them. nudge never reads them back: it evaluates its
triggers on these changes in the same pass that produced them, so no loop can form.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from nudge.aws.clients import client
from nudge.core.clock import parse_time
from nudge.env import get_env

log = logging.getLogger("nudge.aws.bus")
SOURCE = "nudge"
SQS_MAX_BYTES = 262_144  # an SQS message, body and attributes


class BusRejected(RuntimeError):
    """The bus answered, but did not accept every event."""


def put_events(envelopes: list[dict[str, Any]]) -> None:
    """Put events on the nudge bus in batches of 10. A call that fails (a missing permission
    above all) or entries the bus did not accept are logged and raised: the item that caused
    them fails and is retried, never silently reported as done (an announcement's item stays
    for the sweeper, docs/delivery.md)."""
    if not envelopes:
        return
    entries = [
        {
            "Source": SOURCE,
            "DetailType": env["detail-type"],
            "Detail": json.dumps(env["detail"], default=str),
            "Time": parse_time(env["time"]),
            "EventBusName": get_env().bus_name,
        }
        for env in envelopes
    ]
    events = client("events")
    for start in range(0, len(entries), 10):
        try:
            out = events.put_events(Entries=entries[start : start + 10])
        except events.exceptions.ClientError:
            log.exception("could not put nudge events on the bus")
            raise
        if out.get("FailedEntryCount"):
            codes = sorted({e.get("ErrorCode", "?") for e in out.get("Entries", [])} - {"?"})
            log.error("%s nudge events not accepted by the bus", out["FailedEntryCount"])
            raise BusRejected(f"{out['FailedEntryCount']} nudge events not accepted: {codes}")


def park(body: Any, reason: str) -> None:
    """Park an event we can never process, with the reason, in the dead-letter queue."""
    url = get_env().dlq_url
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    if not url:
        log.error("malformed event and no DLQ configured: %s", reason)
        return
    reason = reason[:1000]
    size = len(text.encode("utf-8", "surrogatepass"))
    if size + len(reason) + 64 > SQS_MAX_BYTES:  # only a body that never came through SQS
        text = text.encode("utf-8", "surrogatepass")[: SQS_MAX_BYTES // 2].decode("utf-8", "ignore")
        reason = f"{reason[:800]} (body cut to its first {SQS_MAX_BYTES // 2} of {size} bytes)"
    client("sqs").send_message(
        QueueUrl=url,
        MessageBody=text,
        MessageAttributes={"reason": {"DataType": "String", "StringValue": reason}},
    )
    log.warning("malformed event sent to DLQ: %s", reason)
