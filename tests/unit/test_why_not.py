"""Why a customer is outside an audience, in words, naming the test that failed and the value
behind it (an ``audience`` decision's ``because``; what `nudge explain` prints)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from nudge.core.clock import parse_time
from nudge.core.rules import Ctx, why_not, why_not_who

NOW = parse_time("2027-02-10T18:00:00Z").timestamp()
HOUR = 3600.0
PROFILE = {
    "lifetime_value": 320.0,
    "orders_count": 2,
    "segments": ["last_minute"],
    "value_tier": "rising",
    "consent": {"email": True},
    "traits": {"first_name": "Ana"},
}
HISTORY = [
    {"type": "page_viewed", "ts": NOW - 5 * HOUR, "properties": {"path": "/pages/delivery"}},
    {"type": "order_placed", "ts": NOW - 2 * HOUR, "properties": {"value": 120.0}},
]
CTX = Ctx(PROFILE, HISTORY, NOW)


@pytest.mark.parametrize(
    ("condition", "because"),
    [
        ({"lifetime_value": {"gte": 500}}, "lifetime_value 320 < 500"),
        ({"lifetime_value": {"gt": 320}}, "lifetime_value 320 <= 320"),
        ({"orders_count": {"lt": 2}}, "orders_count 2 >= 2"),
        ({"orders_count": {"gte": 1, "lte": 1}}, "orders_count 2 > 1"),  # the one that failed
        ({"value_tier": "champion"}, "value_tier is rising, not champion"),
        ({"value_tier": {"ne": "rising"}}, "value_tier is rising"),
        (
            {"value_tier": ["loyal", "champion"]},
            'value_tier rising is not one of ["loyal", "champion"]',
        ),
        ({"segments": {"contains": "vip"}}, 'segments ["last_minute"] does not contain vip'),
        ({"traits.birthday": {"exists": True}}, "traits.birthday is missing"),
        ({"consent.sms": {"eq": True}}, "consent.sms is missing (needs eq true)"),
        (
            {"not": {"lifetime_value": {"gte": 100}}},
            'not {"lifetime_value": {"gte": 100}}: it holds',
        ),
        (
            {"any": [{"lifetime_value": {"gte": 500}}, {"orders_count": {"gte": 5}}]},
            "none of: lifetime_value 320 < 500; orders_count 2 < 5",
        ),
        (
            {"did_not": {"event": "order_placed", "within": "24h"}},
            "did_not order_placed within 24h: they did, at 2027-02-10T16:00:00Z",
        ),
        (
            {"did": {"event": "product_viewed", "at_least": 3, "within": "7d"}},
            "did product_viewed within 7d: found 0, needs 3",
        ),
    ],
)
def test_the_failing_test_is_named_with_the_customers_value(condition, because):
    assert why_not(condition, CTX, audience=True) == because


def test_a_condition_that_holds_has_no_because():
    assert (
        why_not({"lifetime_value": {"gte": 300}, "segments": {"contains": "last_minute"}}, CTX)
        is None
    )
    assert why_not({"did": {"event": "page_viewed", "within": "48h"}}, CTX, audience=True) is None


def _who(**keys):
    names = ("segment", "not_segment", "value_tier", "where", "did", "did_not")
    return SimpleNamespace(**{name: keys.get(name) for name in names})


def test_a_missing_segment_says_which_of_its_tests_failed():
    segments = {"vip": {"lifetime_value": {"gte": 500}}}
    assert (
        why_not_who([_who(segment="vip")], CTX, segments)
        == "not in segment vip: lifetime_value 320 < 500"
    )
    assert (
        why_not_who([_who(segment=["vip", "lapsed"])], CTX, segments)
        == "not in segment vip or lapsed"
    )


def test_the_first_failing_item_of_a_who_is_named_and_a_passing_one_never_is():
    who = [_who(segment="last_minute", did_not={"event": "order_placed", "within": "48h"})]
    assert (
        why_not_who(who, CTX)
        == "did_not order_placed within 48h: they did, at 2027-02-10T16:00:00Z"
    )
    assert (
        why_not_who([_who(not_segment="last_minute")], CTX)
        == "in segment last_minute (not_segment)"
    )
    assert why_not_who([_who(value_tier=["loyal", "champion"])], CTX) == (
        "value_tier is rising, not loyal or champion"
    )
    assert (
        why_not_who([_who(segment="last_minute", where={"orders_count": {"gte": 1}})], CTX) is None
    )
