"""Local wall-clock times across DST changes, weekdays, leap days and far dates."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from nudge.core.localtime import next_local_time, parse_hhmm, weekdays

NY = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_next_ten_am_today_and_tomorrow() -> None:
    ten = parse_hhmm("10:00")
    assert next_local_time(utc(2026, 11, 30, 12, 0), NY, ten) == utc(2026, 11, 30, 15, 0)
    assert next_local_time(utc(2026, 11, 30, 15, 0), NY, ten) == utc(2026, 12, 1, 15, 0)
    assert next_local_time(utc(2026, 11, 30, 15, 0), NY, ten, inclusive=True) == utc(
        2026, 11, 30, 15, 0
    )
    assert next_local_time(utc(2026, 11, 30, 12, 0), TOKYO, ten) == utc(2026, 12, 1, 1, 0)


def test_spring_forward_gap_shifts_forward_and_fall_back_takes_first() -> None:
    # 2027-03-14 New York skips 02:00-03:00: 02:30 is taken as 03:30 EDT (07:30 UTC).
    assert next_local_time(utc(2027, 3, 14, 0, 0), NY, parse_hhmm("02:30")) == utc(
        2027, 3, 14, 7, 30
    )
    # 2027-11-07 01:30 happens twice; the first (EDT, 05:30 UTC) is chosen.
    assert next_local_time(utc(2027, 11, 7, 0, 0), NY, parse_hhmm("01:30")) == utc(
        2027, 11, 7, 5, 30
    )
    # 10:00 the day after a change keeps its local meaning.
    assert next_local_time(utc(2027, 3, 14, 20, 0), NY, parse_hhmm("10:00")) == utc(
        2027, 3, 15, 14, 0
    )


def test_weekdays_skip_the_weekend_and_leap_day() -> None:
    weekday_set = weekdays(["mon", "tue", "wed", "thu", "fri"])
    # Friday 2028-02-25 after 10:00 local -> Monday 2028-02-28 (29th is Tuesday of a leap year).
    got = next_local_time(utc(2028, 2, 25, 16, 0), NY, parse_hhmm("10:00"), weekday_set)
    assert got == utc(2028, 2, 28, 15, 0)
    assert next_local_time(got, NY, parse_hhmm("10:00"), weekday_set) == utc(2028, 2, 29, 15, 0)
    assert next_local_time(utc(2099, 12, 31, 23, 0), TOKYO, parse_hhmm("09:00")) == utc(
        2100, 1, 1, 0, 0
    )


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(ValueError, match="'25h'"):
        parse_hhmm("25h")
    with pytest.raises(ValueError, match="'funday'"):
        weekdays(["funday"])
