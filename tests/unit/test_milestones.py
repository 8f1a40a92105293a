"""Milestones fire once, on a crossing: never again after a refund and a second crossing, and
never for a customer first seen already past them."""

from __future__ import annotations

from nudge.core.milestones import crossings

TENTH = {"tenth_order": ("orders_count", 10.0), "big_spender": ("lifetime_value", 1000.0)}


def test_a_customer_reaching_ten_orders_crosses_once_even_after_a_refund_and_a_new_order():
    profile: dict = {}
    assert crossings(profile, {"orders_count": 9, "lifetime_value": 400.0}, TENTH) == []
    fired = crossings(profile, {"orders_count": 10, "lifetime_value": 450.0}, TENTH)
    assert fired == [
        {"milestone": "tenth_order", "field": "orders_count", "threshold": 10.0, "value": 10}
    ]
    # a refund takes her back to 9 orders, the next order makes 10 again: no second message
    assert crossings(profile, {"orders_count": 9, "lifetime_value": 400.0}, TENTH) == []
    assert crossings(profile, {"orders_count": 10, "lifetime_value": 460.0}, TENTH) == []
    # lifetime value crossing 1000 is its own milestone
    fired = crossings(profile, {"orders_count": 11, "lifetime_value": 1000.5}, TENTH)
    assert [f["milestone"] for f in fired] == ["big_spender"]


def test_a_customer_first_seen_past_a_milestone_is_marked_without_an_announcement():
    profile: dict = {}
    assert crossings(profile, {"orders_count": 25, "lifetime_value": 3000.0}, TENTH) == []
    assert profile["milestones"] == {"tenth_order": 1, "big_spender": 1}
    assert crossings(profile, {"orders_count": 26, "lifetime_value": 3100.0}, TENTH) == []
