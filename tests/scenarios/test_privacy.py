"""Privacy requests: export returns everything held about a customer; erasure removes every item
and schedule, stops later sends, and is not undone by late events (only by a new opt-in)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from nudge.cli import main
from nudge.core.clock import parse_time
from tests.conftest import customer, event
from tests.partners import segment

JEWELRY = [
    {
        "product_id": "p-104",
        "name": "Pearl Drop Necklace",
        "category": "jewelry",
        "price": 240.0,
        "quantity": 1,
    }
]


def _put(sim, *envelopes):
    for envelope in envelopes:
        sim.advance(parse_time(envelope["time"]))
        sim.put(envelope)


def _view(cid: str, at: str) -> dict:
    return event("product_viewed", cid, at, product_id="p-1", name="Ring", url="https://r.example")


@pytest.fixture
def zoe(sim):
    """Zoe, mid-journey: an order, a merged anonymous visit, a cart reminder waiting (a wait
    schedule) and a browse email about to go (a pending outbox item with a send schedule)."""
    _put(
        sim,
        segment(
            "track_product_viewed",
            "2027-02-08T08:00:00Z",
            anonymous_id="z-phone",
            message_id="anon-view",
            properties={"product_id": "p-9", "name": "Scarf"},
        ),
        customer("zoe", "2027-02-08T09:00:00Z"),
        segment(
            "identify",
            "2027-02-08T09:01:00Z",
            user_id="zoe",
            anonymous_id="z-phone",
            message_id="zoe-identify",
            traits={"consent": {"email": True}},
        ),
        event("order_placed", "zoe", "2027-02-08T09:30:00Z", order_id="o-zoe-1", value=80.0),
        event(
            "cart_updated",
            "zoe",
            "2027-02-10T10:00:00Z",
            value=240.0,
            items=JEWELRY,
            checkout_url="https://rose.example/checkout/zoe",
        ),
        _view("zoe", "2027-02-10T10:01:00Z"),
        _view("zoe", "2027-02-10T10:02:00Z"),
        _view("zoe", "2027-02-10T10:03:00Z"),
    )
    _put(sim, customer("other", "2027-02-10T10:03:30Z"))  # the browse email is due at 10:04
    return sim


def _items_of(sim, *customers: str) -> list[str]:
    keys = [f"C#{c}" for c in customers]
    return sorted(
        f"{i['pk']['S']}|{i['sk']['S']}"
        for i in sim.table_items()
        if i["pk"]["S"] in keys or i.get("customer_id", {}).get("S") in customers
    )


def _schedules_of(sim, customer_id: str) -> list[str]:
    far = sim.clock.current + timedelta(days=30)
    return [
        name
        for _, name, payload in sim.due_schedules(far)
        if payload.get("customer_id") == customer_id
    ]


@pytest.mark.keeps({"product_viewed": []})  # so the history keeps views for 30 days
def test_export_returns_profile_history_decisions_messages_and_pending_waits(zoe):
    got = zoe.api("GET", "/profiles/zoe/export")

    assert got["status"] == 200
    body = got["body"]
    assert body["profile"]["email"] == "zoe@shop.example"
    assert [h["type"] for h in body["history"]].count("product_viewed") == 4  # one was anonymous
    assert [(d["trigger"], d["outcome"]) for d in body["decisions"]] == [
        ("cart_jewelry_high_value", "scheduled")
    ]
    assert [(m["trigger"], m["status"]) for m in body["messages"]] == [
        ("browse_repeat_view", "pending")
    ]
    assert [w["trigger"] for w in body["pending_waits"]] == ["cart_jewelry_high_value"]
    assert body["order_index"] == [{"order_id": "o-zoe-1", "customer_id": "zoe"}]
    assert set(body["aliases"]) == {"anon:z-phone"}


def test_erase_removes_every_item_and_schedule_of_the_customer_and_nothing_else(zoe):
    # Given Zoe's items and schedules (and another customer's)
    assert _items_of(zoe, "zoe", "anon:z-phone")
    assert len(_schedules_of(zoe, "zoe")) == 2  # the cart wait and the browse email's send
    others = _items_of(zoe, "other")

    # When she asks to be erased
    got = zoe.api("DELETE", "/profiles/zoe")

    # Then nothing about her is left but the tombstone, and no schedule will fire for her
    assert got["status"] == 200 and got["body"]["erased"] is True
    assert got["body"]["schedules_cancelled"] == 2
    assert _items_of(zoe, "zoe", "anon:z-phone") == []
    tombstones = [i for i in zoe.table_items() if i["pk"]["S"].startswith("ERASED#")]
    assert [(t["pk"]["S"], sorted(t)) for t in tombstones] == [
        ("ERASED#zoe", ["erased_at", "kind", "pk", "sk"])
    ]
    assert not any(i["pk"]["S"] == "ORDER#o-zoe-1" for i in zoe.table_items())
    assert _schedules_of(zoe, "zoe") == []
    assert _items_of(zoe, "other") == others

    # And export, profile and content of the erased id answer 404; a second erase too
    for method, path in (
        ("GET", "/profiles/zoe/export"),
        ("GET", "/profiles/zoe"),
        ("GET", "/profiles/zoe/content"),
        ("DELETE", "/profiles/zoe"),
    ):
        assert zoe.api(method, path)["status"] == 404, path

    # And time passing sends her nothing
    zoe.advance(zoe.clock.current + timedelta(days=3))
    assert [m for m in zoe.messages() if m["customer_id"] == "zoe"] == []


def test_late_events_do_not_bring_an_erased_customer_back_but_a_new_opt_in_does(zoe):
    zoe.api("DELETE", "/profiles/zoe")

    # When late events arrive (a view, an order, an anonymous view of the merged device)
    _put(
        zoe,
        _view("zoe", "2027-02-10T11:00:00Z"),
        event("order_placed", "zoe", "2027-02-10T11:05:00Z", order_id="o-late", value=10.0),
        customer("zoe", "2027-02-10T11:06:00Z", email_ok=False, sms_ok=False),
    )

    # Then nothing is stored for her
    assert _items_of(zoe, "zoe") == []
    assert zoe.dead_letters() == []

    # When she signs up again and opts in
    _put(zoe, customer("zoe", "2027-02-11T09:00:00Z"))

    # Then a new profile starts, with nothing from before
    got = zoe.api("GET", "/profiles/zoe")
    assert got["status"] == 200
    assert got["body"]["orders_count"] == 0 and got["body"]["consent"] == {
        "email": True,
        "sms": True,
    }
    assert not any(i["pk"]["S"] == "ERASED#zoe" for i in zoe.table_items())


def test_nudge_privacy_export_and_erase_from_the_command_line(zoe, capsys):
    assert main(["privacy", "export", "zoe", "--table", "nudge-sim"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["customer_id"] == "zoe" and exported["history"]

    assert (
        main(["privacy", "erase", "zoe", "--table", "nudge-sim", "--scheduler-group", "nudge-sim"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["erased_at"]

    assert main(["privacy", "export", "zoe"]) == 1
    assert "nothing held about zoe" in capsys.readouterr().err
    assert _schedules_of(zoe, "zoe") == []
