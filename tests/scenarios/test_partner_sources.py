"""Given the sample config, Shopify and Segment events on the bus work like the storefront's own:
carts get reminded with Shopify's recovery link, orders count exactly, anonymous browsing counts
once the visitor signs in."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from nudge.core.profile import history_id
from tests.conftest import customer, event
from tests.partners import (
    checkout,
    consent_update,
    customer_create,
    line_item,
    order,
    recovery_url,
    refund,
    segment,
)

ANA = 115310627314723955  # a Shopify customer id above 2**53 (a float would corrupt it), not
# in the global 5% control group
PENDANT = line_item(7513594953833, "Gold Heart Pendant", "310.00", product_type="jewelry")


def _shopify_customer(cid: int, at: str) -> list[dict]:
    return [
        customer_create(
            cid, at, email="ana.silva@example.com", phone="+16135551111", first_name="Ana"
        ),
        consent_update(cid, "email", "subscribed", at),
    ]


def test_a_shopify_checkout_left_alone_gets_the_cart_email_with_the_recovery_link(sim):
    # Given a Shopify customer who opted in, and a 310.00 jewelry checkout
    events = [
        *_shopify_customer(ANA, "2027-02-10T14:00:00Z"),
        checkout(ANA, "tok-ana", "310.00", [PENDANT], "2027-02-10T14:03:00Z"),
    ]

    # When no order follows
    sim.run(events)

    # Then one cart email goes to her an hour later, with Shopify's abandoned checkout link
    messages = sim.messages()
    assert [(m["customer_id"], m["trigger"], m["to"]) for m in messages] == [
        (str(ANA), "cart_jewelry_high_value", "ana.silva@example.com")
    ]
    assert recovery_url("tok-ana") in messages[0]["text"]
    assert "Gold Heart Pendant" in messages[0]["subject"]
    assert "2027-02-10T15:03:00Z" <= messages[0]["at"] <= "2027-02-10T15:05:00Z"
    assert sim.dead_letters() == []


def test_a_shopify_order_after_the_checkout_cancels_the_reminder(sim):
    # Given the same checkout, When the order comes in twenty minutes later
    sim.run(
        [
            *_shopify_customer(ANA, "2027-02-10T14:00:00Z"),
            checkout(ANA, "tok-ana", "310.00", [PENDANT], "2027-02-10T14:03:00Z"),
            order(ANA, 820982911946154508, "310.00", [PENDANT], "2027-02-10T14:23:00Z"),
        ]
    )

    # Then nothing is sent and the wait was cancelled by the order
    assert sim.messages() == []
    outcomes = [d["outcome"] for d in sim.decisions() if d["customer_id"] == str(ANA)]
    assert outcomes == ["scheduled", "cancelled"]
    assert sim.due_schedules(sim.clock.current) == []


def test_a_completed_checkout_is_skipped_not_dead_lettered(sim):
    sim.run(
        [
            *_shopify_customer(ANA, "2027-02-10T14:00:00Z"),
            checkout(
                ANA,
                "tok-done",
                "310.00",
                [PENDANT],
                "2027-02-10T14:03:00Z",
                topic="checkouts/update",
                completed=True,
            ),
        ]
    )

    assert sim.messages() == []
    assert [d for d in sim.decisions() if d["customer_id"] == str(ANA)] == []
    assert sim.dead_letters() == []


def test_order_ids_above_2_53_and_money_survive_exactly_into_the_profile(sim):
    # Given orders whose ids a float cannot hold and totals a float cannot add exactly
    big = 2**53 + 1
    sim.run(
        [
            *_shopify_customer(ANA, "2027-02-10T14:00:00Z"),
            order(ANA, big, "0.10", [line_item(11, "Card", "0.10")], "2027-02-10T14:10:00Z"),
            order(ANA, big + 2, "0.20", [line_item(12, "Ribbon", "0.20")], "2027-02-10T14:20:00Z"),
            order(
                ANA,
                9223372036854775807,
                "1234567.89",
                [line_item(13, "Tiara", "1234567.89")],
                "2027-02-10T14:30:00Z",
            ),
            # a Shopify refund names only the order: nudge finds the customer through its order
            refund(big + 2, 929361462, "0.05", "2027-02-10T15:00:00Z"),
        ]
    )

    # Then the stored profile has every id digit for digit and the totals to the cent
    stored = sim.profiles()[str(ANA)]
    assert [o["order_id"] for o in stored["orders"]] == [
        "9007199254740993",
        "9007199254740995",
        "9223372036854775807",
    ]
    assert Decimal(str(stored["lifetime_value"])) == Decimal("1234568.14")
    assert stored["orders_count"] == 3
    assert sim.dead_letters() == []


def test_a_refund_for_an_order_nudge_never_saw_goes_to_the_dlq_with_the_reason(sim):
    sim.run([refund(555, 1, "10.00", "2027-02-10T15:00:00Z")])

    letters = sim.dead_letters()
    assert len(letters) == 1 and "order 555 is not known to nudge" in letters[0]["reason"]


@pytest.mark.keeps({"order_placed": ["items"]})
def test_segment_order_completed_updates_the_profile_like_the_native_order(sim):
    # Given the same customer known twice: once through Segment, once natively
    products = [
        {
            "product_id": "p-101",
            "name": "Heart Pendant",
            "category": "jewelry",
            "price": 19.99,
            "quantity": 2,
        },
        {
            "product_id": "p-201",
            "name": "Rose Noir",
            "category": "fragrance",
            "price": 0.1,
            "quantity": 3,
        },
    ]
    props = {"order_id": "o-77", "revenue": 40.28, "currency": "USD", "products": products}
    items = [{k: v for k, v in p.items()} for p in products]

    # When each places the same order (Segment Order Completed / native order_placed)
    sim.run(
        [
            customer("seg", "2027-02-10T13:00:00Z"),
            customer("nat", "2027-02-10T13:00:00Z"),
            segment(
                "track_order_completed",
                "2027-02-10T14:00:00Z",
                user_id="seg",
                anonymous_id="anon-seg",
                properties=props,
            ),
            event(
                "order_placed",
                "nat",
                "2027-02-10T14:00:00Z",
                order_id="o-77",
                value=40.28,
                currency="USD",
                items=items,
            ),
        ]
    )

    # Then the two profiles agree on everything the order changes
    profiles = sim.profiles()
    keys = (
        "orders_count",
        "lifetime_value",
        "avg_order_value",
        "first_order_at",
        "last_order_at",
        "orders",
        "cart",
        "segments",
        "value_tier",
    )
    assert {k: profiles["seg"].get(k) for k in keys} == {k: profiles["nat"].get(k) for k in keys}
    assert profiles["seg"]["lifetime_value"] == 40.28
    seg_history = [h for h in profiles["seg"]["history"] if h["type"] == "order_placed"]
    assert seg_history[0]["properties"]["items"] == items


def _anon_view(anon: str, at: str, n: int) -> dict:
    props = {
        "product_id": "p-104",
        "name": "Pearl Drop Necklace",
        "category": "jewelry",
        "price": 240.0,
        "url": "https://rose.example/products/pearl-drop-necklace",
    }
    return segment(
        "track_product_viewed",
        at,
        anonymous_id=anon,
        message_id=f"view-{anon}-{n}",
        properties=props,
    )


def _identify(user: str, anon: str, at: str, n: int = 1) -> dict:
    traits = {
        "email": f"{user}@shop.example",
        "firstName": user.title(),
        "consent": {"email": True, "sms": False},
    }
    return segment(
        "identify", at, user_id=user, anonymous_id=anon, message_id=f"id-{user}-{n}", traits=traits
    )


def _user_view(user: str, anon: str, at: str) -> dict:
    view = _anon_view(anon, at, 99)
    view["detail"]["userId"] = user
    view["detail"]["messageId"] = f"view-{user}-{at}"
    return view


def test_anonymous_views_count_toward_the_repeated_view_trigger_after_identify(sim):
    # Given two anonymous views of one necklace, then sign-in (identify links the visitor)
    sim.run(
        [
            _anon_view("a-1", "2027-02-10T09:00:00Z", 1),
            _anon_view("a-1", "2027-02-10T10:00:00Z", 2),
            _identify("kim", "a-1", "2027-02-10T11:00:00Z"),
            _identify("kim", "a-1", "2027-02-10T11:05:00Z", n=2),  # a second sign-in: no re-merge
            # When she views it a third time, signed in
            _user_view("kim", "a-1", "2027-02-10T12:00:00Z"),
        ]
    )

    # Then the third view is the third within 24h: the browse email goes to her
    messages = sim.messages()
    assert [(m["customer_id"], m["trigger"], m["to"]) for m in messages] == [
        ("kim", "browse_repeat_view", "kim@shop.example")
    ]
    kim = sim.profiles()["kim"]
    views = [h["id"] for h in kim["history"] if h["type"] == "product_viewed"]
    ids = ["view-a-1-1", "view-a-1-2", "view-kim-2027-02-10T12:00:00Z"]
    assert views == [history_id(i) for i in ids]  # entries keep a short id of their event
    assert kim["aliases"] == ["anon:a-1"]
    assert "anon:a-1" not in sim.profiles()  # the visitor is now a stub pointing at kim


def test_without_identify_anonymous_views_count_for_nobody(sim):
    sim.run(
        [
            _identify("lou", "a-other", "2027-02-10T08:00:00Z"),
            _anon_view("a-2", "2027-02-10T09:00:00Z", 1),
            _anon_view("a-2", "2027-02-10T10:00:00Z", 2),
            _user_view("lou", "a-2", "2027-02-10T12:00:00Z"),
        ]
    )

    assert sim.messages() == []


def test_views_from_a_merged_visitor_are_redirected_and_duplicates_stay_duplicates(sim):
    # Given a visitor merged into a customer, When the same device keeps browsing anonymously
    # (and one earlier view is delivered again)
    sim.run(
        [
            _anon_view("a-3", "2027-02-10T09:00:00Z", 1),
            _identify("max", "a-3", "2027-02-10T10:00:00Z"),
            _anon_view("a-3", "2027-02-10T11:00:00Z", 2),
            _anon_view("a-3", "2027-02-10T11:30:00Z", 1),  # redelivery of the first view
            _anon_view("a-3", "2027-02-10T12:00:00Z", 3),
        ]
    )

    # Then the views are his: three distinct views fire the browse email once
    assert [(m["customer_id"], m["trigger"]) for m in sim.messages()] == [
        ("max", "browse_repeat_view")
    ]
    duplicates = [d for d in sim.decisions() if d["reason"] == "duplicate"]
    assert [d["customer_id"] for d in duplicates] == ["max"]
    stub = json.loads(
        next(i for i in sim.table_items() if i["pk"]["S"] == "C#anon:a-3")["doc"]["S"]
    )
    assert stub["merged_into"] == "max" and "history" not in stub
