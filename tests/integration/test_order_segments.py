"""Order rows in the history segments (docs/storage.md#history-segments): all but a customer's
newest orders move out of the profile item with the older history, so a loyal customer's item
stays about a KB; refunds, identity merges, the export, erasure and `nudge explain` see every
order exactly as when they were all in the profile item. On both backends."""

from __future__ import annotations

import copy
from argparse import Namespace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from nudge.aws import store
from nudge.core import profile as profile_module
from nudge.core.clock import iso, parse_time
from nudge.explain import explain_command
from nudge.flows.privacy import erase_customer, export_customer
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event, make_config

START = parse_time("2027-01-01T00:00:00Z")
FIRST = parse_time("2027-01-02T10:00:00Z")
ORDERS = 40


def _shopping(cid: str, orders: int = ORDERS, views: int = 4) -> list[dict[str, Any]]:
    """``orders`` orders of a pendant, each after ``views`` product views, six hours apart."""
    out = []
    at = FIRST
    for n in range(orders):
        for v in range(views):
            out.append(
                event("product_viewed", cid, iso(at), product_id=f"p-{n}-{v}", category="jewelry")
            )
            at += timedelta(hours=6)
        out.append(event("order_placed", cid, iso(at), order_id=f"o-{cid}-{n:03d}", value=50 + n))
        at += timedelta(hours=6)
    return out


def _at(events: list[dict[str, Any]], hours: int) -> str:
    return iso(parse_time(events[-1]["time"]) + timedelta(hours=hours))


@pytest.fixture(params=["memory", "moto"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return make_config(tmp_path)


def _all_hot(monkeypatch: pytest.MonkeyPatch) -> None:
    """The layout before: every order row stays in the profile item."""
    monkeypatch.setattr(profile_module, "ORDERS_HOT", 10**9)


def _hot_orders(cid: str) -> list[str]:
    [item] = [i for i in store.partition_items(cid) if i["sk"]["S"] == "PROFILE"]
    return [o["order_id"] for o in store.profile_doc(item).get("orders") or ()]


def _profile_bytes(cid: str) -> int:
    [item] = [i for i in store.partition_items(cid) if i["sk"]["S"] == "PROFILE"]
    return store.item_size(item)


def _seen(sim: Simulation, cid: str) -> dict[str, Any]:
    """What a user notices of the customer: their orders, summary, decisions and messages."""
    doc = store.get_profile(cid).doc or {}
    view = sim.profiles()[cid]
    return {
        "orders": doc.get("orders"),
        "summary": {
            k: view.get(k)
            for k in ("orders_count", "lifetime_value", "first_order_at", "last_order_at")
        },
        "refunds_elsewhere": doc.get("refunds_elsewhere"),
        "purchases": doc.get("purchases"),
        "decisions": [
            (d["at"], d["trigger"], d["outcome"], d["reason"])
            for d in sim.decisions()
            if d["customer_id"] == cid
        ],
        "messages": [(m["trigger"], m["channel"], m["customer_id"]) for m in sim.messages()],
    }


def test_a_customer_with_many_orders_keeps_a_profile_item_within_a_kb(config, backend):
    events = _shopping("amy")
    with Simulation(config, start=START, backend=backend) as sim:
        sim.run([customer("amy", "2027-01-02T09:00:00Z"), *events], until=timedelta(0))
        assert _profile_bytes("amy") <= 1024, _profile_bytes("amy")
        hot = _hot_orders("amy")
        assert len(hot) < 10 and hot[-3:] == [f"o-amy-{n:03d}" for n in (37, 38, 39)]
        doc = store.get_profile("amy").doc or {}
        assert [o["order_id"] for o in doc["orders"]] == [f"o-amy-{n:03d}" for n in range(40)]
        # segments grow to about a KB each (a small one is taken into the next), none left over
        stored = [i for i in store.partition_items("amy") if i["sk"]["S"].startswith("PROFILE#")]
        assert all(store.item_size(i) <= 1024 for i in stored)
        assert len(stored) <= 4, [store.item_size(i) for i in stored]
        listed = {f"PROFILE#S#{seq:08d}#{token}" for seq, token, *_ in doc["segs"]["l"]}
        assert listed == {i["sk"]["S"] for i in stored}
        assert sim.profiles()["amy"]["orders_count"] == 40


def _refunds(cid: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A partial refund of an old order, the same refund redelivered (another event id), a
    second partial refund of it, and a full refund of another old order."""
    first = event(
        "order_refunded", cid, _at(events, 1), order_id=f"o-{cid}-002", value=20, refund_id="r-1"
    )
    again = copy.deepcopy(first)
    again["detail"]["event_id"] = "redelivered-r-1"
    again["time"] = _at(events, 2)
    second = event(
        "order_refunded", cid, _at(events, 3), order_id=f"o-{cid}-002", value=40, refund_id="r-2"
    )
    full = event(
        "order_refunded", cid, _at(events, 4), order_id=f"o-{cid}-005", value=55, refund_id="r-3"
    )
    return [first, again, second, full]


def test_refunds_of_old_orders_come_out_as_before(config, backend, monkeypatch):
    events = _shopping("bea")
    refunds = _refunds("bea", events)
    later = _shopping("bea", 1, 3)[:3]  # browsing after the refunds
    for n, env in enumerate(later):
        env["time"] = _at(events, 6 + n)
    seen = []
    for moved in (True, False):
        if not moved:
            _all_hot(monkeypatch)
        with Simulation(config, start=START, backend=backend) as sim:
            sim.run([customer("bea", "2027-01-02T09:00:00Z"), *copy.deepcopy(events)])
            assert ("o-bea-002" not in _hot_orders("bea")) is moved  # in a segment
            sim.run(copy.deepcopy([*refunds, *later]), until=timedelta(hours=1))
            seen.append(_seen(sim, "bea"))
            if moved:
                assert _profile_bytes("bea") <= 1024
    now, before = seen
    assert now == before
    orders = {o["order_id"]: o for o in now["orders"]}
    assert len(now["orders"]) == ORDERS  # each order once: the refunded copies replace the old
    assert orders["o-bea-002"]["refunded"] == 52.0 and orders["o-bea-002"]["void"] is True
    assert orders["o-bea-005"]["refunded"] == 55.0 and orders["o-bea-005"]["void"] is True
    assert len(orders["o-bea-002"]["refunds"]) == 2  # the redelivered refund counted once
    assert now["summary"]["orders_count"] == ORDERS - 2
    assert now["summary"]["lifetime_value"] == sum(50 + n for n in range(ORDERS)) - 52 - 55


def test_a_redelivered_old_order_is_not_counted_again(config, backend):
    events = _shopping("cal")
    with Simulation(config, start=START, backend=backend) as sim:
        sim.run([customer("cal", "2027-01-02T09:00:00Z"), *copy.deepcopy(events)])
        assert "o-cal-000" not in _hot_orders("cal")
        again = event("order_placed", "cal", _at(events, 1), order_id="o-cal-000", value=50)
        sim.run([again], until=timedelta(0))
        view = sim.profiles()["cal"]
        assert view["orders_count"] == ORDERS
        assert view["lifetime_value"] == sum(50 + n for n in range(ORDERS))


def test_a_merged_guest_s_orders_fold_in_as_before(config, backend, monkeypatch):
    guest = "anon:g-1"
    bought = _shopping(guest, 12, 2)
    own = _shopping("dee", 12, 2)
    for env in own:  # the customer's own orders, after the guest's
        env["time"] = iso(parse_time(env["time"]) + timedelta(days=30))
    signed_in = customer("dee", _at(own, 1))
    signed_in["detail"]["aliases"] = [guest]
    seen = []
    for moved in (True, False):
        if not moved:
            _all_hot(monkeypatch)
        with Simulation(config, start=START, backend=backend) as sim:
            sim.run(copy.deepcopy([*bought, customer("dee", own[0]["time"]), *own]))
            assert ("o-anon:g-1-000" not in _hot_orders(guest)) is moved
            sim.run([copy.deepcopy(signed_in)], until=timedelta(hours=1))
            seen.append(_seen(sim, "dee"))
            if moved:
                assert _profile_bytes("dee") <= 1024
    now, before = seen
    assert now == before
    assert len(now["orders"]) == 24 and now["summary"]["orders_count"] == 24


def test_export_holds_every_order_and_erasure_leaves_nothing(config, backend):
    events = _shopping("eve", 20, 2)
    with Simulation(config, start=START, backend=backend) as sim:
        sim.run([customer("eve", "2027-01-02T09:00:00Z"), *events], until=timedelta(0))
        assert "o-eve-000" not in _hot_orders("eve")
        exported = export_customer("eve")
        assert exported is not None
        ids = [f"o-eve-{n:03d}" for n in range(20)]
        assert [o["order_id"] for o in exported["profile"]["orders"]] == ids
        assert sorted(o["order_id"] for o in exported["order_index"]) == ids

        assert erase_customer("eve") is not None
        assert store.partition_items("eve") == []
        assert all(store.order_owner(oid) is None for oid in ids)


def _explain(cid: str, capsys: Any) -> str:
    args = Namespace(customer_id=cid, trigger=None, since=None, from_file=None, table=None)
    assert explain_command(args) == 0
    return str(capsys.readouterr().out)


def test_explain_answers_the_same(config, backend, monkeypatch, capsys):
    events = _shopping("fay", 20, 2)
    refunds = _refunds("fay", events)
    answers = []
    for moved in (True, False):
        if not moved:
            _all_hot(monkeypatch)
        with Simulation(config, start=START, backend=backend) as sim:
            sim.run([customer("fay", "2027-01-02T09:00:00Z"), *copy.deepcopy(events)])
            assert ("o-fay-002" not in _hot_orders("fay")) is moved
            sim.run(copy.deepcopy(refunds), until=timedelta(hours=1))
            answers.append(_explain("fay", capsys))
    assert answers[0] == answers[1]


def test_replenishment_reminders_go_out_as_before(tmp_path, monkeypatch):
    from tests.scenarios.test_replenishment import REFILL, SETTINGS, coffee

    settings = (CONFIG / "settings.yaml").read_text() + SETTINGS
    config = make_config(
        tmp_path, **{"triggers/coffee_refill.yaml": REFILL, "settings.yaml": settings}
    )
    events = []
    for cid in ("gus", "hal", "ida"):  # a bag every 30 days since January, browsing between
        events.append(customer(cid, "2027-01-01T09:00:00Z"))
        for n in range(6):
            day = parse_time("2027-01-01T15:00:00Z") + timedelta(days=30 * n)
            events.append(coffee(cid, iso(day), n))
            for v in range(12):
                at = iso(day + timedelta(days=1 + v))
                events.append(event("product_viewed", cid, at, product_id=f"p-{n}-{v}"))
    events.sort(key=lambda e: e["time"])
    sent = []
    for moved in (True, False):
        if not moved:
            _all_hot(monkeypatch)
        with Simulation(config, start=parse_time("2026-12-31T00:00:00Z"), daily=True) as sim:
            sim.run(copy.deepcopy(events), until=parse_time("2027-07-10T00:00:00Z"))
            assert ("gus-0" not in _hot_orders("gus")) is moved  # in a segment
            sent.append(
                sorted(
                    (m["customer_id"], m["at"])
                    for m in sim.messages()
                    if m["trigger"] == "coffee_refill"
                )
            )
    assert sent[0] == sent[1]
    # each bag's reminder, 3 days before the next 30 days are up (the last bag's: July 2)
    assert [at for c, at in sent[0] if c == "gus"][-1].startswith("2027-06-27")


def test_two_years_of_monthly_orders_leave_few_segments(tmp_path, backend):
    from tests.integration.test_history_segments import _config

    # an order a month, and the month's browsing: the history lets its older views go (90
    # days), the orders stay (the newest 100); segments holding little but old orders are
    # taken into the next one, so their number (what each event reads) stays small
    events = []
    for month in range(24):
        start = FIRST + timedelta(days=30 * month)
        for v in range(30):
            at = iso(start + timedelta(hours=20 * v))
            events.append(event("product_viewed", "gil", at, product_id=f"p-{month}-{v}"))
        at = iso(start + timedelta(days=29))
        events.append(event("order_placed", "gil", at, order_id=f"o-gil-{month:03d}", value=60))
    end = FIRST + timedelta(days=30 * 24)
    events += [event("product_viewed", "gil", iso(end + timedelta(hours=v))) for v in range(3)]
    with Simulation(_config(tmp_path), start=START, backend=backend) as sim:
        sim.run([customer("gil", "2027-01-02T09:00:00Z"), *events], until=timedelta(0))
        doc = store.get_profile("gil").doc or {}
        assert [o["order_id"] for o in doc["orders"]] == [f"o-gil-{m:03d}" for m in range(24)]
        assert sim.profiles()["gil"]["orders_count"] == 24
        stored = [i for i in store.partition_items("gil") if i["sk"]["S"].startswith("PROFILE#")]
        assert len(stored) <= 4, [store.item_size(i) for i in stored]
        assert all(store.item_size(i) <= 1024 for i in stored)
