"""Given the sample config, a high-value jewelry cart is reminded about an hour later, unless
the customer orders (or empties the cart) first."""

from __future__ import annotations

from tests.conftest import customer, event


def _cart(cid: str, at: str, value: float = 300.0) -> dict:
    items = [
        {
            "product_id": "p-101",
            "name": "Heart Pendant",
            "category": "jewelry",
            "price": value,
            "quantity": 1,
        }
    ]
    return event(
        "cart_updated",
        cid,
        at,
        value=value,
        items=items,
        checkout_url=f"https://rose.example/checkout/{cid}",
    )


def test_cart_left_alone_gets_one_email_an_hour_later_with_the_cart_link(sim):
    sim.run([customer("ana", "2027-02-10T14:00:00Z"), _cart("ana", "2027-02-10T14:03:00Z")])

    messages = sim.messages()
    assert len(messages) == 1
    mail = messages[0]
    assert mail["channel"] == "email" and mail["to"] == "ana@shop.example"
    assert mail["trigger"] == "cart_jewelry_high_value"
    assert "2027-02-10T15:03:00Z" <= mail["at"] <= "2027-02-10T15:05:00Z"
    assert "https://rose.example/checkout/ana" in mail["text"]
    assert "https://rose.example/checkout/ana" in mail["html"]
    assert "Heart Pendant" in mail["subject"]
    outcomes = [(d["outcome"], d["reason"]) for d in sim.decisions() if d["customer_id"] == "ana"]
    assert outcomes == [("scheduled", None), ("sent", None)]


def test_order_twenty_minutes_later_cancels_the_reminder(sim):
    sim.run(
        [
            customer("ben", "2027-02-10T14:00:00Z"),
            _cart("ben", "2027-02-10T14:03:00Z"),
            event("order_placed", "ben", "2027-02-10T14:23:00Z", order_id="o-1", value=300.0),
        ]
    )

    assert sim.messages() == []
    outcomes = [d["outcome"] for d in sim.decisions() if d["customer_id"] == "ben"]
    assert outcomes == ["scheduled", "cancelled"]
    assert sim.due_schedules(sim.clock.current) == []  # the wait's schedule is gone too


def test_emptied_cart_cancels_and_low_value_cart_never_fires(sim):
    sim.run(
        [
            customer("cy", "2027-02-10T14:00:00Z"),
            _cart("cy", "2027-02-10T14:03:00Z"),
            _cart("cy", "2027-02-10T14:30:00Z", value=0),
            customer("di", "2027-02-10T14:00:00Z"),
            _cart("di", "2027-02-10T14:05:00Z", value=90.0),
        ]
    )

    assert sim.messages() == []
    assert [d["outcome"] for d in sim.decisions() if d["customer_id"] == "cy"] == [
        "scheduled",
        "cancelled",
    ]
    assert [d for d in sim.decisions() if d["customer_id"] == "di"] == []


def test_cooldown_of_7d_allows_one_reminder_a_week(sim):
    sim.run(
        [
            customer("eve", "2027-02-01T09:00:00Z"),
            _cart("eve", "2027-02-01T10:00:00Z"),
            _cart("eve", "2027-02-04T10:00:00Z"),  # 3 days later: inside the cooldown
            _cart("eve", "2027-02-09T10:00:00Z"),  # 8 days later: allowed again
        ],
        until=None,
    )

    sent = [m["at"][:10] for m in sim.messages()]
    assert sent == ["2027-02-01", "2027-02-09"]
    reasons = [
        (d["at"][:10], d["outcome"], d["reason"])
        for d in sim.decisions()
        if d["customer_id"] == "eve" and d["outcome"] == "suppressed"
    ]
    assert reasons == [("2027-02-04", "suppressed", "cooldown")]
