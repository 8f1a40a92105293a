"""Dates in conditions: anniversaries (with the 29 February rule) and whole local days since or
until a time, in the customer's time zone, else the shop's."""

from __future__ import annotations

from datetime import date

import pytest

from nudge.core.clock import parse_time
from nudge.core.dates import days_to_anniversary, next_anniversary
from nudge.core.rules import Ctx, RuleError, compile_condition, why_not


def holds(spec: dict, doc: dict, at: str, zone: str = "America/New_York") -> bool:
    return compile_condition(spec, audience=True, zone=zone)(
        Ctx(doc, (), parse_time(at).timestamp())
    )


BIRTHDAY_TODAY = {"traits.birthday": {"anniversary_in_days": 0}}


def test_a_birthday_is_today_on_its_month_and_day_whatever_the_year_of_birth():
    ann = {"traits": {"birthday": "1990-05-17"}, "timezone": "Europe/Paris"}
    assert holds(BIRTHDAY_TODAY, ann, "2027-05-17T08:00:00Z")
    assert not holds(BIRTHDAY_TODAY, ann, "2027-05-16T08:00:00Z")
    assert not holds(BIRTHDAY_TODAY, ann, "2027-05-18T08:00:00Z")
    # "05-17" (no year) and a timestamp's date count the same
    assert holds(BIRTHDAY_TODAY, {"traits": {"birthday": "05-17"}}, "2027-05-17T15:00:00Z")


def test_the_birthday_begins_at_midnight_in_the_customers_own_zone_not_the_shops():
    tokyo = {"traits": {"birthday": "1990-05-17"}, "timezone": "Asia/Tokyo"}
    # 16:00Z on the 16th is 01:00 on the 17th in Tokyo, still the 16th in New York (the shop)
    assert holds(BIRTHDAY_TODAY, tokyo, "2027-05-16T16:00:00Z")
    no_zone = {"traits": {"birthday": "1990-05-17"}}
    assert not holds(BIRTHDAY_TODAY, no_zone, "2027-05-16T16:00:00Z")
    assert holds(BIRTHDAY_TODAY, no_zone, "2027-05-17T16:00:00Z")


def test_a_29_february_birthday_is_celebrated_on_28_february_outside_leap_years():
    leap = {"traits": {"birthday": "2000-02-29"}, "timezone": "UTC"}
    assert holds(BIRTHDAY_TODAY, leap, "2027-02-28T12:00:00Z")
    assert not holds(BIRTHDAY_TODAY, leap, "2027-03-01T12:00:00Z")
    assert holds(BIRTHDAY_TODAY, leap, "2028-02-29T12:00:00Z")
    assert not holds(BIRTHDAY_TODAY, leap, "2028-02-28T12:00:00Z")
    assert next_anniversary("2000-02-29", date(2027, 3, 1)) == date(2028, 2, 29)


def test_anniversary_in_days_counts_down_across_the_new_year():
    assert days_to_anniversary("1985-01-02", date(2027, 12, 30)) == 3
    week_before = {"traits.birthday": {"anniversary_in_days": 7}}
    assert holds(week_before, {"traits": {"birthday": "01-06"}}, "2026-12-30T17:00:00Z")


def test_days_since_and_until_count_whole_local_days_with_comparisons():
    ann = {"last_order_at": "2027-03-01T03:30:00Z", "timezone": "America/New_York"}
    # 03:30Z on March 1 is still February 28 in New York: 30 local days to March 30
    assert holds({"last_order_at": {"days_since": 30}}, ann, "2027-03-30T15:00:00Z")
    assert holds(
        {"last_order_at": {"days_since": {"gte": 30, "lt": 31}}}, ann, "2027-03-30T15:00:00Z"
    )
    assert not holds({"last_order_at": {"days_since": {"gte": 31}}}, ann, "2027-03-30T15:00:00Z")
    renewal = {"traits": {"renews_on": "2027-04-10"}, "timezone": "UTC"}
    assert holds({"traits.renews_on": {"days_until": {"lte": 3}}}, renewal, "2027-04-07T09:00:00Z")
    assert not holds(
        {"traits.renews_on": {"days_until": {"lte": 3}}}, renewal, "2027-04-06T09:00:00Z"
    )


def test_a_missing_or_unreadable_date_never_matches():
    for doc in ({}, {"traits": {"birthday": "soon"}}, {"traits": {"birthday": "1990-02-30"}}):
        assert not holds(BIRTHDAY_TODAY, doc, "2027-05-17T08:00:00Z")
    assert not holds({"last_order_at": {"days_since": {"gte": 0}}}, {}, "2027-05-17T08:00:00Z")


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"traits.birthday": {"anniversary_in_days": -1}}, "whole number of days from 0"),
        ({"traits.birthday": {"anniversary_in_days": "0"}}, "whole number of days from 0"),
        ({"last_order_at": {"days_since": {"about": 3}}}, "compares with eq"),
        ({"last_order_at": {"days_since": "30"}}, "needs a number of days"),
    ],
)
def test_a_wrong_date_operand_is_refused_with_the_fix(spec, words):
    with pytest.raises(RuleError) as err:
        compile_condition(spec, audience=True)
    assert words in err.value.message


def test_why_not_names_the_date_that_did_not_match():
    ctx = Ctx(
        {"traits": {"birthday": "1990-05-17"}}, (), parse_time("2027-05-10T12:00:00Z").timestamp()
    )
    assert why_not(BIRTHDAY_TODAY, ctx) == ("traits.birthday 1990-05-17: not anniversary_in_days 0")


def test_nudge_validate_refuses_a_date_operator_on_a_number_and_a_daily_trigger_without_a_time(
    tmp_path,
):
    from nudge.config.compiled import compile_config
    from nudge.config.load import read_config
    from tests.conftest import make_config

    trigger = """\
id: bad_dates
when: {event: daily}
who: {where: {orders_count: {anniversary_in_days: 0}}}
email: {subject: "Hi", text: "Unsubscribe: {{ unsubscribe_url }}"}
"""
    config = make_config(tmp_path, **{"triggers/bad_dates.yaml": trigger})
    raw = read_config(config)
    messages = [e.message for e in raw.errors]
    assert any("daily event needs at_local_time" in m for m in messages), messages

    fixed = trigger.replace("when: {event: daily}", 'when: {event: daily}\nat_local_time: "10:00"')
    (config / "triggers/bad_dates.yaml").write_text(fixed)
    _, errors = compile_config(read_config(config))
    assert [e.message for e in errors] == [
        "anniversary_in_days counts days to or from a date, but orders_count is a number; use it "
        "on a date trait (traits.birthday) or a time (last_order_at)"
    ]


def test_the_predicted_next_order_and_the_churn_band_are_usable_in_conditions(tmp_path):
    from nudge.config.compiled import compile_config
    from nudge.config.load import read_config
    from tests.conftest import make_config

    trigger = """\
id: due_soon
when: {event: daily}
at_local_time: "09:30"
who: {where: {next_order_expected_at: {days_until: {lte: 7}}, churn_risk: {in: [low, medium]}}}
email: {subject: "New in", text: "Unsubscribe: {{ unsubscribe_url }}"}
"""
    config = make_config(tmp_path, **{"triggers/due_soon.yaml": trigger})
    compiled, errors = compile_config(read_config(config))
    assert errors == []
    who = compiled.triggers["due_soon"].who
    ctx = Ctx(
        {"next_order_expected_at": "2027-03-08T12:00:00Z", "churn_risk": "low"},
        (),
        parse_time("2027-03-01T14:30:00Z").timestamp(),
    )
    assert who(ctx)
    ctx.doc["churn_risk"] = "high"
    assert not who(ctx)
