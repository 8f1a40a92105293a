"""One message path: a message due later is dispatched once, by its own schedule, when it is
due; the stream hands dispatch only messages due at once (docs/delivery.md, "The message path")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from nudge.core.clock import parse_time
from tests.conftest import customer, event, make_config

VIEW = {"product_id": "p-7", "name": "Pearl Studs", "url": "https://rose.example/p-7"}


def _views(cid: str) -> list[dict[str, Any]]:
    """Three looks at the same product: ``browse_repeat_view`` fires on the third (no wait)."""
    return [
        customer(cid, "2027-02-10T15:00:00Z"),
        *(event("product_viewed", cid, f"2027-02-10T15:0{i}:00Z", **VIEW) for i in (1, 2, 3)),
    ]


@pytest.fixture
def dispatched(monkeypatch) -> list[int]:
    """How many stream records the dispatch function was invoked with, per invocation."""
    from nudge.flows import dispatch

    calls: list[int] = []
    real = dispatch.handle

    def counted(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        calls.append(len(event.get("Records", [])))
        return real(event, context)

    monkeypatch.setattr(dispatch, "handle", counted)
    return calls


def test_a_message_due_later_goes_by_its_own_schedule_and_never_through_the_stream(sim, dispatched):
    from nudge.aws import clients as aws
    from nudge.aws import store

    sim.run(_views("bea"), until=parse_time("2027-02-10T15:03:30Z"))
    [item] = store.scan_kind("outbox")
    assert item["status"]["S"] == "pending" and item["scheduled"]["S"] == "2027-02-10T15:04:00Z"
    got = aws.client("scheduler").get_schedule(
        Name=f"nudge-send-{item['message_id']['S']}", GroupName="nudge-sim"
    )
    assert got["ScheduleExpression"] == "at(2027-02-10T15:04:00)"

    sim.advance(parse_time("2027-02-10T16:00:00Z"))

    [sent] = sim.messages()
    assert (sent["to"], sent["trigger"], sent["at"]) == (
        "bea@shop.example",
        "browse_repeat_view",
        "2027-02-10T15:04:00Z",  # the arbitration minute after the third look, as before
    )
    assert dispatched == []  # the stream filter never woke dispatch for it
    assert [at.isoformat() for at, kind in sim.fired if kind == "wake"] == [
        "2027-02-10T15:04:00+00:00"
    ]


def test_with_no_arbitration_window_the_stream_dispatches_the_message_at_once(tmp_path, dispatched):
    from nudge.sim import Simulation

    settings = (make_config(tmp_path) / "settings.yaml").read_text()
    folder = make_config(
        tmp_path / "zero",
        **{"settings.yaml": settings.replace("arbitration_window: 1m", "arbitration_window: 0s")},
    )
    with Simulation(folder, start=parse_time("2027-02-10T15:00:00Z")) as sim:
        sim.run(_views("bea"), until=timedelta(hours=1))
        [sent] = sim.messages()
        assert sent["at"] == "2027-02-10T15:03:00Z"
        assert dispatched == [1]
        assert not [kind for _, kind in sim.fired if kind == "wake"]


def test_a_cart_reminder_after_its_wait_still_goes_a_minute_after_the_wait_ends(sim, dispatched):
    items = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]
    sim.run(
        [
            customer("cyd", "2027-02-10T14:00:00Z"),
            event("cart_updated", "cyd", "2027-02-10T14:03:00Z", value=300.0, items=items),
        ],
        until=timedelta(hours=3),
    )
    [sent] = sim.messages()
    assert (sent["trigger"], sent["at"]) == ("cart_jewelry_high_value", "2027-02-10T15:04:00Z")
    wakes = [at.isoformat() for at, kind in sim.fired if kind == "wake"]
    assert wakes == ["2027-02-10T15:03:00+00:00", "2027-02-10T15:04:00+00:00"]
    assert dispatched == []


@pytest.fixture
def deleted_schedules(sim, monkeypatch) -> list[str]:
    """The names of the DeleteSchedule calls the handlers make (through ``nudge.aws.scheduler``;
    the simulation's own deletion of a fired schedule, which AWS does by itself, is not one)."""
    from nudge.aws import clients as aws
    from nudge.aws import scheduler

    names: list[str] = []

    class Recording:
        def __init__(self, real: Any) -> None:
            self.real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def delete_schedule(self, **kwargs: Any) -> Any:
            names.append(kwargs["Name"])
            return self.real.delete_schedule(**kwargs)

    real_client = aws.client
    monkeypatch.setattr(
        scheduler,
        "client",
        lambda service: (
            Recording(real_client(service)) if service == "scheduler" else real_client(service)
        ),
    )
    return names


def test_a_wait_that_ends_is_not_unscheduled_its_schedule_deleted_itself(sim, deleted_schedules):
    items = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]
    sim.run(
        [
            customer("cyd", "2027-02-10T14:00:00Z"),
            event("cart_updated", "cyd", "2027-02-10T14:03:00Z", value=300.0, items=items),
        ],
        until=timedelta(hours=3),
    )
    [sent] = sim.messages()  # the same reminder, at the same time as before
    assert (sent["trigger"], sent["at"]) == ("cart_jewelry_high_value", "2027-02-10T15:04:00Z")
    # both one-time schedules (the wait's, the send's) went with ActionAfterCompletion: DELETE
    assert deleted_schedules == []


def test_a_wait_cancelled_by_an_order_still_has_its_schedule_deleted(sim, deleted_schedules):
    items = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]
    sim.run(
        [
            customer("cyd", "2027-02-10T14:00:00Z"),
            event("cart_updated", "cyd", "2027-02-10T14:03:00Z", value=300.0, items=items),
            event("order_placed", "cyd", "2027-02-10T14:20:00Z", order_id="o-1", value=300.0),
        ],
        until=timedelta(hours=3),
    )
    assert sim.messages() == []
    assert [name.split("-")[1] for name in deleted_schedules] == ["wait"]
    assert not [kind for _, kind in sim.fired if kind == "wake"]  # the wait never fired
