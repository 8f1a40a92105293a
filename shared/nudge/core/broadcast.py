"""Broadcasts: a campaign sent once, at a set time (``at:``), optionally at that wall time in
each customer's own time zone (``send_in_local_time``), paced by ``throttle`` (docs/config.md,
"Broadcasts").

Pure: when the run starts, when each customer's message is due, how far the throttle spaces them.
A local-time broadcast's run starts when ``at`` is first reached anywhere (UTC+14), and each
message waits in the outbox for ``at`` in its customer's zone (DST rules: core/localtime.py); a
customer whose local ``at`` has already passed when the run reaches them gets it at once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from nudge.core.localtime import at_local

EARLIEST = timedelta(hours=14)  # the first time zone to reach a wall time (Pacific/Kiritimati)
UNITS = {"s": 1, "sec": 1, "min": 60, "h": 3600, "hour": 3600}
THROTTLE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|min|h|hour)\s*$")


def parse_at(text: str) -> datetime:
    """``2027-02-12T10:00:00`` (a wall time) or with an offset (an instant); ValueError if not."""
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time like 2027-02-12T10:00:00") from None


def run_start(at: str, shop_zone: str, local: bool) -> datetime:
    """When the broadcast's run starts (UTC): ``at`` in the shop's zone (or its own offset);
    for ``send_in_local_time``, when ``at`` first happens anywhere on Earth."""
    when = parse_at(at)
    if local:
        wall = when.replace(tzinfo=None)
        return wall.replace(tzinfo=UTC) - EARLIEST
    if when.tzinfo is None:
        return at_local(when.date(), when.time(), ZoneInfo(shop_zone))
    return when.astimezone(UTC)


def due_at(
    at: str, shop_zone: str, local: bool, customer_zone: ZoneInfo, now: datetime
) -> datetime:
    """When one customer's message is due: ``at`` in their zone (local) or the run's start; never
    before ``now``."""
    if local:
        wall = parse_at(at).replace(tzinfo=None)
        when = at_local(wall.date(), wall.time(), customer_zone)
    else:
        when = run_start(at, shop_zone, local)
    return max(when, now)


def throttle_rate(text: str) -> tuple[int, int]:
    """``1000/min`` -> (1000, 60): at most that many messages per that many seconds."""
    found = THROTTLE.match(text)
    if not found or int(found.group(1)) < 1:
        raise ValueError(f"{text!r} is not a rate like 1000/min (units: s, min, h)")
    return int(found.group(1)), UNITS[found.group(2)]


def throttle_delay(index: int, throttle: str | None) -> timedelta:
    """How much later than due the ``index``-th message of a run goes (0-based): whole windows."""
    if not throttle:
        return timedelta(0)
    count, seconds = throttle_rate(throttle)
    return timedelta(seconds=(index // count) * seconds)
