"""nudge's own events on the bus (source ``nudge``): segment and tier changes, messages sent.

Other consumers (analytics, the site) read them. nudge never reads them back: it evaluates its
triggers on these changes in the same pass that produced them, so no loop can form.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from nudge.aws import client
from nudge.clock import parse_time
from nudge.env import get_env

log = logging.getLogger("nudge.emit")
SOURCE = "nudge"


def put_events(envelopes: list[dict[str, Any]]) -> None:
    """Put events on the nudge bus in batches of 10; a failure is logged, never raised
    (the change they announce is already stored and its triggers already evaluated)."""
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
            if out.get("FailedEntryCount"):
                log.warning("%s nudge events not accepted by the bus", out["FailedEntryCount"])
        except Exception:
            log.exception("could not put nudge events on the bus")
