"""Repeated views fire the browse trigger once; consent and addresses are required per channel."""

from __future__ import annotations

from tests.conftest import customer, event


def _view(cid: str, at: str, product: str) -> dict:
    return event("product_viewed", cid, at, product_id=product, name=f"Product {product}")


def test_three_views_of_one_product_in_24h_send_the_browse_email_once(sim):
    sim.run(
        [
            customer("fay", "2027-02-10T08:00:00Z"),
            _view("fay", "2027-02-10T09:00:00Z", "p-1"),
            _view("fay", "2027-02-10T12:00:00Z", "p-1"),
            _view("fay", "2027-02-10T18:00:00Z", "p-1"),
            _view("fay", "2027-02-10T19:00:00Z", "p-1"),  # a fourth view does not send again
        ]
    )

    messages = sim.messages()
    assert [(m["trigger"], m["channel"]) for m in messages] == [("browse_repeat_view", "email")]
    assert "Product p-1" in messages[0]["subject"]


def test_three_views_of_three_products_send_nothing(sim):
    sim.run(
        [
            customer("gus", "2027-02-10T08:00:00Z"),
            _view("gus", "2027-02-10T09:00:00Z", "p-1"),
            _view("gus", "2027-02-10T10:00:00Z", "p-2"),
            _view("gus", "2027-02-10T11:00:00Z", "p-3"),
        ]
    )

    assert sim.messages() == []
    assert [d for d in sim.decisions() if d["customer_id"] == "gus"] == []


def test_views_spread_over_more_than_24h_do_not_count(sim):
    sim.run(
        [
            customer("hal", "2027-02-10T08:00:00Z"),
            _view("hal", "2027-02-10T09:00:00Z", "p-1"),
            _view("hal", "2027-02-11T08:00:00Z", "p-1"),
            _view("hal", "2027-02-12T07:00:00Z", "p-1"),
        ]
    )

    assert sim.messages() == []


def _delivery_view(cid: str, at: str) -> dict:
    return event("page_viewed", cid, at, path="/pages/delivery", title="Delivery")


def test_no_sms_consent_means_no_sms_and_a_no_consent_decision(sim):
    sim.run(
        [
            customer("ivy", "2027-02-10T14:00:00Z", sms_ok=False),
            _delivery_view("ivy", "2027-02-10T15:00:00Z"),
        ]
    )

    assert sim.messages() == []
    assert [(d["trigger"], d["outcome"], d["reason"]) for d in sim.decisions()] == [
        ("last_minute_delivery", "suppressed", "no_consent")
    ]


def test_consent_never_recorded_means_no_message(sim):
    cust = customer("jon", "2027-02-10T14:00:00Z")
    del cust["detail"]["consent"]
    sim.run([cust, _delivery_view("jon", "2027-02-10T15:00:00Z")])

    assert sim.messages() == []
    assert [d["reason"] for d in sim.decisions()] == ["no_consent"]


def test_consented_customer_gets_the_sms(sim):
    sim.run(
        [
            customer("kim", "2027-02-10T14:00:00Z"),
            _delivery_view("kim", "2027-02-10T15:00:00Z"),
        ]
    )

    assert [(m["channel"], m["to"]) for m in sim.messages()] == [("sms", "+15555550100")]


def test_no_email_address_gives_no_address(sim):
    items = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]
    sim.run(
        [
            customer("lou", "2027-02-10T14:00:00Z", email=None),
            event("cart_updated", "lou", "2027-02-10T14:05:00Z", value=300.0, items=items),
        ]
    )

    assert sim.messages() == []
    assert [(d["outcome"], d["reason"]) for d in sim.decisions()] == [("suppressed", "no_address")]


def test_consent_withdrawn_during_the_wait_stops_the_email(sim):
    items = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]
    sim.run(
        [
            customer("max", "2027-02-10T14:00:00Z"),
            event("cart_updated", "max", "2027-02-10T14:05:00Z", value=300.0, items=items),
            event("consent_updated", "max", "2027-02-10T14:30:00Z", channel="email", granted=False),
        ]
    )

    assert sim.messages() == []
    assert [(d["outcome"], d["reason"]) for d in sim.decisions()] == [
        ("scheduled", None),
        ("suppressed", "no_consent"),
    ]
