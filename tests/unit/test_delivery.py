"""Pure send-time rules: quiet hours across midnight and DST, holdout groups."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from nudge.core.clock import parse_time
from nudge.core.delivery import bucket, holdout_reason, quiet_until

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")


def test_quiet_hours_end_at_0800_local_the_next_morning():
    assert quiet_until(parse_time("2027-02-11T06:30:00Z"), LA, "21:00", "08:00") == parse_time(
        "2027-02-11T16:00:00Z"
    )


def test_after_midnight_the_same_morning_is_the_end():
    # 01:00 EST is 06:00Z; quiet until 08:00 EST = 13:00Z the same day
    assert quiet_until(parse_time("2027-02-11T06:00:00Z"), NY, "21:00", "08:00") == parse_time(
        "2027-02-11T13:00:00Z"
    )


def test_outside_quiet_hours_nothing_waits():
    assert quiet_until(parse_time("2027-02-11T15:00:00Z"), NY, "21:00", "08:00") is None
    assert quiet_until(parse_time("2027-02-11T13:00:00Z"), NY, "21:00", "08:00") is None


def test_spring_forward_night_ends_at_0800_daylight_time():
    # 2027-03-14 clocks go from 02:00 EST to 03:00 EDT: 08:00 that morning is 12:00Z, not 13:00Z
    assert quiet_until(parse_time("2027-03-14T04:00:00Z"), NY, "21:00", "08:00") == parse_time(
        "2027-03-14T12:00:00Z"
    )


def test_fall_back_night_ends_at_0800_standard_time():
    # 2027-11-07 clocks go back: 08:00 EST that morning is 13:00Z
    assert quiet_until(parse_time("2027-11-07T03:00:00Z"), NY, "21:00", "08:00") == parse_time(
        "2027-11-07T13:00:00Z"
    )


def test_daytime_quiet_window_that_does_not_span_midnight():
    assert quiet_until(parse_time("2027-02-11T17:30:00Z"), NY, "12:00", "13:00") == parse_time(
        "2027-02-11T18:00:00Z"
    )


@given(st.datetimes(timezones=st.just(ZoneInfo("UTC"))))
def test_the_end_of_quiet_hours_is_never_in_the_past_nor_a_day_away(now):
    until = quiet_until(now, LA, "21:00", "08:00")
    if until is not None:
        assert now < until
        assert (until - now).total_seconds() <= 11 * 3600 + 60
        assert until.astimezone(LA).strftime("%H:%M") == "08:00"


def test_holdout_share_over_10000_customers_is_within_1_5_points_and_stable():
    ids = [f"c-{i:05d}" for i in range(10_000)]
    first = [holdout_reason(c, "cart", 5, "2027", 0) for c in ids]
    second = [holdout_reason(c, "cart", 5, "2027", 0) for c in ids]
    share = sum(r == "global" for r in first) / len(ids) * 100
    assert abs(share - 5) <= 1.5
    assert first == second  # the same customers on every run and deploy


def test_trigger_holdout_is_on_top_of_the_global_one_and_depends_on_the_trigger():
    ids = [f"c-{i:05d}" for i in range(10_000)]
    reasons = [holdout_reason(c, "cart", 5, "2027", 10) for c in ids]
    trigger_share = sum(r == "trigger" for r in reasons) / len(ids) * 100
    assert abs(trigger_share - 10 * 0.95) <= 1.5
    other = [holdout_reason(c, "browse", 5, "2027", 10) for c in ids]
    assert [r == "global" for r in reasons] == [r == "global" for r in other]
    assert reasons != other  # per-trigger groups differ between triggers


def test_a_new_salt_draws_a_new_control_group():
    assert [bucket("2027", f"c-{i}") < 5 for i in range(2000)] != [
        bucket("2028", f"c-{i}") < 5 for i in range(2000)
    ]
