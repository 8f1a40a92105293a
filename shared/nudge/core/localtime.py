"""Local wall-clock times in a customer's time zone, DST-safe.

Shared by everything that sends "at 10:00 their time": journey ``wait_until`` steps, time-driven
triggers (``at_local_time``) and local-time broadcasts. Rules (documented in docs/config.md):

- a wall time that does not exist on a day (the spring-forward gap, e.g. 02:30 in New York on the
  second Sunday of March) is taken as the same moment shifted forward by the gap (03:30 local);
- a wall time that happens twice (the autumn fall-back hour) is taken at its first occurrence;
- ``days`` restricts the weekdays (0 = Monday ... 6 = Sunday) in the customer's own calendar.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS: dict[str, int] = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def parse_hhmm(text: str) -> time:
    """Parse ``"HH:MM"`` (24-hour) into a time; raise ValueError with the offending text."""
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a 24-hour time like '10:00'") from exc


def weekdays(names: Iterable[str]) -> frozenset[int]:
    """Turn ``["mon", "fri"]`` into weekday numbers; raise ValueError naming an unknown day."""
    out = set()
    for name in names:
        key = str(name).strip().lower()[:3]
        if key not in WEEKDAYS:
            raise ValueError(f"{name!r} is not a weekday (mon, tue, wed, thu, fri, sat, sun)")
        out.add(WEEKDAYS[key])
    return frozenset(out)


def at_local(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of ``wall`` on ``day`` in ``zone`` (gap: shifted forward; overlap: first)."""
    local = datetime.combine(day, wall, tzinfo=zone)  # fold=0: first occurrence / pre-gap offset
    return local.astimezone(UTC)


def next_local_time(
    after: datetime,
    zone: ZoneInfo,
    wall: time,
    days: frozenset[int] | None = None,
    *,
    inclusive: bool = False,
) -> datetime:
    """The first UTC instant strictly after ``after`` (or at it, if ``inclusive``) that is ``wall``
    local time in ``zone`` on an allowed weekday."""
    start = after.astimezone(zone).date() - timedelta(days=1)
    for offset in range(0, 9):
        day = start + timedelta(days=offset)
        if days is not None and day.weekday() not in days:
            continue
        moment = at_local(day, wall, zone)
        if moment > after or (inclusive and moment == after):
            return moment
    raise ValueError(
        "no allowed weekday"
    )  # pragma: no cover - days is never empty after validation
