"""The attribution rule on its own (nudge.core.attribution): the window's edges, last vs first
touch, what counts as a touch."""

from __future__ import annotations

import pytest

from nudge.core.attribution import (
    Touch,
    attribute,
    credit_orders,
    touches_from_decisions,
    touches_from_ledger,
)

DAY = 86400.0
WINDOW = 5 * DAY


def _t(mid: str, at: float, trigger: str = "cart", state: str = "sent") -> Touch:
    return Touch(mid, trigger, at, state, "email")


def test_an_order_inside_the_window_goes_to_the_last_touch_and_outside_to_none():
    touches = [_t("m1", 0.0, "browse"), _t("m2", DAY, "cart")]
    assert attribute(touches, 2 * DAY, WINDOW) == touches[1]
    assert attribute(touches, 2 * DAY, WINDOW, "first_touch") == touches[0]
    # the window is counted from each message: 5d after m1 only m2 is still inside
    assert attribute(touches, 5.5 * DAY, WINDOW, "first_touch") == touches[1]
    assert attribute(touches, 6 * DAY + 1, WINDOW) is None


def test_the_window_edges_an_order_at_the_message_instant_or_exactly_5d_later_counts():
    touch = _t("m1", 100.0)
    assert attribute([touch], 100.0, WINDOW) == touch
    assert attribute([touch], 100.0 + WINDOW, WINDOW) == touch
    assert attribute([touch], 100.0 + WINDOW + 1, WINDOW) is None
    assert attribute([touch], 99.0, WINDOW) is None  # an order before the message


def test_a_tie_goes_to_the_smaller_message_id_whichever_the_model():
    a, b = _t("a", 10.0), _t("b", 10.0)
    assert attribute([b, a], 20.0, WINDOW) == a
    assert attribute([b, a], 20.0, WINDOW, "first_touch") == a
    with pytest.raises(ValueError, match="last_touch, first_touch"):
        attribute([a], 20.0, WINDOW, "linear")


def test_only_sent_and_held_out_messages_are_touches():
    ledger = [
        {"trigger": "cart", "channel": "email", "ts": 1.0, "mid": "q", "state": "queued"},
        {"trigger": "cart", "channel": "email", "ts": 2.0, "mid": "s", "state": "sent"},
        {"trigger": "tier", "channel": "sms", "ts": 3.0, "mid": "h", "state": "held_out"},
    ]
    assert [(t.message_id, t.state) for t in touches_from_ledger(ledger)] == [
        ("s", "sent"),
        ("h", "held_out"),
    ]
    decisions = [
        {
            "customer_id": "c",
            "trigger": "cart",
            "at": "2027-02-10T10:00:00Z",
            "outcome": "sent",
            "message_id": "s",
            "channel": "email",
        },
        {
            "customer_id": "c",
            "trigger": "cart",
            "at": "2027-02-10T09:00:00Z",
            "outcome": "suppressed",
            "message_id": "x",
        },
    ]
    [touch] = touches_from_decisions(decisions)
    assert (touch.message_id, touch.trigger, touch.state) == ("s", "cart", "sent")


def test_many_orders_of_one_customer_are_credited_each_to_its_own_last_touch():
    held = _t("h", 0.0, "cart", "held_out")
    later = _t("s", 3 * DAY, "browse")
    orders = [(DAY, "o1"), (4 * DAY, "o2"), (7 * DAY, "o3"), (9 * DAY, "o4")]
    # o1: only the held-out touch; o2 and o3: the later one; o4: 6 days after it, none
    assert credit_orders([held, later], orders, WINDOW) == {"h": ["o1"], "s": ["o2", "o3"]}
    # "ordered anyway": the held-out customer's order within the window is credited to it
    assert credit_orders([held], orders, WINDOW) == {"h": ["o1", "o2"]}
