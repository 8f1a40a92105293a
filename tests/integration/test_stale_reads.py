"""A profile read from a replica that has not seen the latest writes yet.

Ingest reads a customer's profile eventually consistently (half the read units,
docs/storage.md), unless this container wrote that customer moments ago. DynamoDB may then
answer with an older version, for about a second after a write. These tests make it do so
(``AwsFaults.stale``: the next eventually consistent Query of a partition gets the items a
test took earlier) and check what a customer would notice: no message decided on the older
version, no event applied twice or lost, nothing of an erased customer put back.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from nudge.aws import store
from nudge.aws.clients import client
from nudge.core.clock import parse_time
from nudge.faults import AwsFaults, inject
from nudge.flows.common import RECENT_WRITE_S
from nudge.flows.privacy import erase_customer
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event

START = parse_time("2027-02-10T13:00:00Z")
RING = {"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}


@pytest.fixture
def sim() -> Iterator[Any]:
    with Simulation(CONFIG, start=START, backend="moto") as sim:
        yield sim


def _partition(cid: str) -> list[dict[str, Any]]:
    """The profile's items as they are now (what a lagging replica answers later)."""
    answer = client("dynamodb").query(
        TableName=store.table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": {"S": f"C#{cid}"}, ":p": {"S": "PROFILE"}},
        ConsistentRead=True,
    )
    return copy.deepcopy(answer["Items"])


def _everything(cid: str) -> list[str]:
    answer = client("dynamodb").query(
        TableName=store.table(),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"C#{cid}"}},
        ConsistentRead=True,
    )
    return [i["sk"]["S"] for i in answer["Items"]]


def _at(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _play(sim: Any, *envelopes: dict[str, Any]) -> None:
    for env in envelopes:
        sim.advance(parse_time(env["time"]))
        sim.put(env)


def _two_views_of_the_ring(sim: Any, cid: str) -> list[dict[str, Any]]:
    """A customer who viewed the ring twice; the profile's items as they are then."""
    _play(
        sim,
        customer(cid, _at(0)),
        event("product_viewed", cid, _at(10), **RING),
        event("product_viewed", cid, _at(20), **RING),
    )
    return _partition(cid)


def _views(profile: dict[str, Any]) -> int:
    return sum(1 for h in profile["history"] if h["type"] == "product_viewed")


def test_a_view_read_from_a_replica_that_missed_the_order_sends_no_browse_email(sim):
    # two views of the ring, then an order; the third view is read from a replica that has the
    # two views but not the order: on that version browse_repeat_view would send
    before_order = _two_views_of_the_ring(sim, "ana")
    _play(sim, event("order_placed", "ana", _at(30), order_id="ana-1", value=300.0))
    faults = AwsFaults(stale={"C#ana": [before_order]})
    with inject(faults):
        _play(sim, event("product_viewed", "ana", _at(40), **RING))
    sim.advance(START + timedelta(days=2))

    assert faults.stale_reads == 1  # the older version was read, and not written back
    profile = store.get_profile("ana").doc
    assert profile is not None
    assert profile["orders_count"] == 1 and _views(profile) == 3  # nothing lost
    mine = [d for d in sim.decisions() if d["customer_id"] == "ana"]
    assert not [
        d for d in mine if d["trigger"] == "browse_repeat_view" and d["outcome"] != "suppressed"
    ]
    assert not [m for m in sim.messages() if m["customer_id"] == "ana"]


def test_the_same_view_with_no_order_does_send(sim):
    # the check above can fail: without the order, the third view sends
    before_third = _two_views_of_the_ring(sim, "ana")
    faults = AwsFaults(stale={"C#ana": [before_third]})  # stale, but nothing newer to miss
    with inject(faults):
        _play(sim, event("product_viewed", "ana", _at(40), **RING))
    sim.advance(START + timedelta(days=2))

    assert faults.stale_reads == 1
    sent = [m for m in sim.messages() if m["customer_id"] == "ana"]
    assert [m["trigger"] for m in sent] == ["browse_repeat_view"]


def test_a_redelivered_event_read_from_a_replica_that_missed_it_is_still_a_duplicate(sim):
    _play(sim, customer("bo", _at(0)))
    before = _partition("bo")
    view = event("product_viewed", "bo", _at(10), **RING)
    _play(sim, view)
    faults = AwsFaults(stale={"C#bo": [before]})
    with inject(faults):
        sim.advance(START + timedelta(minutes=15))
        sim.put(copy.deepcopy(view))  # the storefront sent it twice

    assert faults.stale_reads == 1
    profile = store.get_profile("bo").doc
    assert profile is not None and _views(profile) == 1  # applied once
    outcomes = [
        (d["outcome"], d.get("reason")) for d in sim.decisions() if d["customer_id"] == "bo"
    ]
    assert ("suppressed", "duplicate") in outcomes


def test_a_replica_that_missed_an_erasure_puts_nothing_of_the_customer_back(sim):
    # an order's write is followed by its order index and decision log item (the profile
    # carries them as pending until its next write); then the customer is erased
    _play(
        sim,
        customer("cy", _at(0)),
        event("order_placed", "cy", _at(10), order_id="cy-1", value=120.0),
    )
    before_erasure = _partition("cy")
    pending = store.get_profile("cy").pending  # what the older version asks to make sure of
    assert [(i["pk"]["S"], i["sk"]["S"]) for i in pending] == [("ORDER#cy-1", "ORDER")]
    assert erase_customer("cy") is not None
    assert _everything("cy") == []
    faults = AwsFaults(stale={"C#cy": [before_erasure]})
    with inject(faults):
        _play(sim, event("product_viewed", "cy", _at(20), **RING))

    assert faults.stale_reads == 1
    assert _everything("cy") == []  # no log entry nor profile put back
    assert store.get_profile("cy").doc is None
    index = {"pk": {"S": "ORDER#cy-1"}, "sk": {"S": "ORDER"}}  # who placed order cy-1
    assert "Item" not in client("dynamodb").get_item(TableName=store.table(), Key=index)


def test_a_customer_this_container_just_wrote_is_read_strongly_consistently(sim):
    _play(sim, customer("di", _at(0)))
    older = _partition("di")
    _play(sim, event("product_viewed", "di", _at(10), **RING))
    faults = AwsFaults(stale={"C#di": [older, older]})
    soon = START + timedelta(minutes=10, seconds=RECENT_WRITE_S / 2)
    later = START + timedelta(minutes=20)
    with inject(faults):
        sim.advance(soon)
        sim.put(event("page_viewed", "di", soon.strftime("%Y-%m-%dT%H:%M:%SZ"), path="/a"))
        assert faults.stale_reads == 0  # written a moment ago here: read strongly
        sim.advance(later)
        sim.put(event("page_viewed", "di", later.strftime("%Y-%m-%dT%H:%M:%SZ"), path="/b"))
        assert faults.stale_reads == 1  # minutes later: eventually consistent
    profile = store.get_profile("di").doc
    assert profile is not None
    assert [h["type"] for h in profile["history"]][-3:] == [
        "product_viewed",
        "page_viewed",
        "page_viewed",
    ]


def test_a_replica_that_missed_an_erasure_leaves_no_history_segment_behind(sim, monkeypatch):
    # the write an older version leads to would move history out to a segment first (put
    # before the profile's conditional write, which then fails: the profile is gone)
    from nudge.core import profile as profile_module

    views = [event("product_viewed", "eve", _at(1 + n), **RING) for n in range(12)]
    _play(sim, customer("eve", _at(0)), *views)
    before_erasure = _partition("eve")
    assert erase_customer("eve") is not None
    monkeypatch.setattr(profile_module, "SEGMENT_SLACK", 10_000)  # any write now moves rows out
    faults = AwsFaults(stale={"C#eve": [before_erasure]})
    with inject(faults):
        _play(sim, event("product_viewed", "eve", _at(30), **RING))

    assert faults.stale_reads == 1
    assert ("ingest", "dynamodb.PutItem") in faults.calls  # (the segment was put, and then...)
    assert _everything("eve") == []  # ...deleted: nothing of the erased customer is left
