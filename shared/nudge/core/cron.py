"""EventBridge Scheduler ``cron(min hour day-of-month month day-of-week year)`` expressions:
parsing (for ``nudge validate``) and the next fire time (for the simulator's clock)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
HINT = 'write it like "cron(0 9 1 * ? *)": minutes hours day-of-month month day-of-week year'


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed cron expression; ``None`` for a field means any value."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # day of month; 32 stands for L (last day)
    months: frozenset[int]
    weekdays: frozenset[int] | None  # 1 = Sunday ... 7 = Saturday
    years: frozenset[int] | None

    def matches_day(self, day: date) -> bool:
        """Does the expression fire on this calendar day?"""
        if day.month not in self.months or (self.years and day.year not in self.years):
            return False
        last = calendar.monthrange(day.year, day.month)[1]
        if self.days is not None and not (
            day.day in self.days or (32 in self.days and day.day == last)
        ):
            return False
        weekday = (day.isoweekday() % 7) + 1  # Monday=2 ... Sunday=1
        return self.weekdays is None or weekday in self.weekdays

    def next_after(self, after: datetime, zone: ZoneInfo) -> datetime | None:
        """The first fire time strictly after ``after``, evaluated in ``zone``; as aware UTC."""
        local = after.astimezone(zone)
        day = local.date()
        for _ in range(366 * 6):
            if self.matches_day(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        when = datetime.combine(day, time(hour, minute), tzinfo=zone)
                        if when > local:
                            return when.astimezone(after.tzinfo)
            day += timedelta(days=1)
        return None


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if "/" in text else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ValueError(f"{text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return int(text)


def parse_cron(expression: str) -> Cron:
    """Parse ``cron(...)``; raises ``ValueError`` with a hint."""
    text = expression.strip()
    if not (text.startswith("cron(") and text.endswith(")")):
        raise ValueError(f"{expression!r} is not a cron expression; {HINT}")
    fields = text[5:-1].split()
    if len(fields) != 6:
        raise ValueError(f"{expression!r} needs 6 fields; {HINT}")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"{expression!r}: one of day-of-month and day-of-week must be '?'")
    try:
        days: frozenset[int] | None = None
        if dom not in ("?", "*"):
            days = frozenset({32}) if dom == "L" else _field(dom, 1, 31)
        return Cron(
            minutes=_field(minute, 0, 59),
            hours=_field(hour, 0, 23),
            days=days,
            months=_field(month, 1, 12, _MONTHS),
            weekdays=None if dow in ("?", "*") else _field(dow, 1, 7, _DAYS),
            years=None if year == "*" else _field(year, 1970, 2199),
        )
    except ValueError as exc:
        raise ValueError(f"{expression!r}: {exc}; {HINT}") from None
