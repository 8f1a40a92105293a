"""Dates in conditions: anniversaries and whole days since or until a time, in the customer's
own calendar (docs/config.md, "Dates in conditions").

Pure. A condition operator compiled here reads its field's value and the condition's ``now``
and answers in whole local days:

- ``{anniversary_in_days: N}``: the field is a date (``1990-05-17``, ``05-17`` or a timestamp,
  whose date part counts) and its next anniversary (today included) is N days away. A 02-29 date
  is celebrated on 02-28 in years without a 29 February.
- ``{days_since: ...}`` / ``{days_until: ...}``: whole local days from the field's date to today
  (or from today to it), compared with a number (``days_since: 30``) or with comparison operators
  (``days_since: {gte: 30, lt: 60}``).

"Today" is the local date of ``now`` in the customer's ``timezone`` (profile field), else the
shop's ``settings.timezone``, else UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DATE_OPERATORS = ("anniversary_in_days", "days_since", "days_until")
DAY_COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte")
MAX_ANNIVERSARY_DAYS = 365
_MONTH_DAY = re.compile(r"^(?:--)?(\d{1,2})-(\d{1,2})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def zone_of(name: Any, default: str = "UTC") -> ZoneInfo:
    """The zone named ``name``, else ``default``'s, else UTC (an unknown name never raises)."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(str(candidate))
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def local_today(now: float, zone: ZoneInfo) -> date:
    """The local date at epoch seconds ``now`` in ``zone``."""
    return datetime.fromtimestamp(now, UTC).astimezone(zone).date()


def month_day(value: Any) -> tuple[int, int] | None:
    """``(month, day)`` of ``1990-05-17``, ``05-17``, ``--05-17`` or a timestamp; None if it is
    not a valid date."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    found = _MONTH_DAY.match(text)
    if found:
        month, day = int(found.group(1)), int(found.group(2))
        try:
            date(2000, month, day)  # a leap year: 02-29 is valid
        except ValueError:
            return None
        return month, day
    parsed = as_date(text)
    return (parsed.month, parsed.day) if parsed else None


def as_date(value: Any, zone: ZoneInfo | None = None) -> date | None:
    """The calendar date of a ``YYYY-MM-DD`` string, or of a timestamp in ``zone`` (its local
    date); None if it is neither."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) > 10 and ("T" in text or " " in text):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(zone or UTC).date()
    found = _ISO_DATE.match(text)
    if not found or len(text) != 10:
        return None
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None


def celebrated(month: int, day: int, year: int) -> date:
    """The anniversary of month-day in ``year``; 02-29 falls on 02-28 outside leap years."""
    try:
        return date(year, month, day)
    except ValueError:  # 02-29 in a year without it
        return date(year, month, day - 1)


def days_to_anniversary(value: Any, today: date) -> int | None:
    """Days from ``today`` to the next anniversary of ``value`` (0 on the day itself)."""
    md = month_day(value)
    if md is None:
        return None
    this_year = celebrated(md[0], md[1], today.year)
    if this_year >= today:
        return (this_year - today).days
    return (celebrated(md[0], md[1], today.year + 1) - today).days


def check_operand(op: str, operand: Any) -> str | None:
    """What is wrong with a date operator's operand, or None."""
    if op == "anniversary_in_days":
        if (
            isinstance(operand, bool)
            or not isinstance(operand, int)
            or not 0 <= operand <= MAX_ANNIVERSARY_DAYS
        ):
            return (
                f"anniversary_in_days needs a whole number of days from 0 to "
                f"{MAX_ANNIVERSARY_DAYS}, like anniversary_in_days: 0"
            )
        return None
    compare = operand if isinstance(operand, dict) else {"eq": operand}
    if not compare:
        return f"{op} needs a number of days or comparisons, like {op}: {{gte: 30}}"
    for key, number in compare.items():
        if key not in DAY_COMPARISONS:
            return f"{op} compares with {', '.join(DAY_COMPARISONS)}; not {key!r}"
        if isinstance(number, bool) or not isinstance(number, int | float):
            return f"{op} needs a number of days, like {op}: {{gte: 30}}; not {number!r}"
    return None


def _days_test(operand: Any) -> Callable[[int], bool]:
    compare = operand if isinstance(operand, dict) else {"eq": operand}
    tests: list[Callable[[int], bool]] = []
    for key, number in compare.items():
        n = float(number)
        tests.append(
            {
                "eq": lambda d, n=n: d == n,
                "ne": lambda d, n=n: d != n,
                "gt": lambda d, n=n: d > n,
                "gte": lambda d, n=n: d >= n,
                "lt": lambda d, n=n: d < n,
                "lte": lambda d, n=n: d <= n,
            }[key]
        )
    return lambda days: all(t(days) for t in tests)


def day_count(op: str, value: Any, now: float, zone: ZoneInfo) -> int | None:
    """The whole local days the operator measures for ``value`` at ``now`` (None: no date)."""
    today = local_today(now, zone)
    if op == "anniversary_in_days":
        return days_to_anniversary(value, today)
    when = as_date(value, zone)
    if when is None:
        return None
    since = (today - when).days
    return since if op == "days_since" else -since


def date_test(op: str, operand: Any) -> Callable[[Any, float, ZoneInfo], bool]:
    """A test of one value at ``now`` in ``zone``; ``check_operand`` must have passed."""
    if op == "anniversary_in_days":
        wanted = int(operand)

        def anniversary(value: Any, now: float, zone: ZoneInfo) -> bool:
            return day_count(op, value, now, zone) == wanted

        return anniversary
    days_ok = _days_test(operand)

    def measured(value: Any, now: float, zone: ZoneInfo) -> bool:
        days = day_count(op, value, now, zone)
        return days is not None and days_ok(days)

    return measured


def next_anniversary(value: Any, today: date) -> date | None:
    """The next date (today included) the anniversary of ``value`` is celebrated."""
    days = days_to_anniversary(value, today)
    return None if days is None else today + timedelta(days=days)
