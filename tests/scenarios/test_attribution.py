"""Orders are credited to the message that touched the customer last within the attribution
window (5d in the sample config), sent or held out, in the same write as the order, and
`nudge explain` shows it."""

from __future__ import annotations

import json
import shutil
from argparse import Namespace
from typing import Any

from nudge.aws import clients as aws
from nudge.aws import store
from nudge.cli import main
from nudge.core.clock import parse_time
from nudge.core.delivery import holdout_reason
from nudge.explain import explain_command
from nudge.flows import ingest
from tests.conftest import CONFIG, customer, event
from tests.scenarios.test_cart_abandonment import _cart


def _views(cid: str) -> list[dict]:
    return [
        event("product_viewed", cid, at, product_id="p-1", name="Rose Ring")
        for at in ("2027-02-10T09:00:00Z", "2027-02-10T10:00:00Z", "2027-02-10T11:00:00Z")
    ]


def _order(cid: str, at: str, order_id: str, value: float = 120.0) -> dict:
    return event("order_placed", cid, at, order_id=order_id, value=value)


def _global_control_customer() -> str:
    """A customer id the sample config's global control group (5%, salt 2027) holds out."""
    for k in range(1000):
        cid = f"g{k}"
        if holdout_reason(cid, "cart_jewelry_high_value", 5, "2027", 0) == "global":
            return cid
    raise AssertionError("no id in the global control group among 1000")


def _day(held: str) -> list[dict]:
    return [
        # ana: the browse email at ~11:01, then the cart reminder at ~13:01; orders 2 days on
        customer("ana", "2027-02-10T08:00:00Z"),
        *_views("ana"),
        _cart("ana", "2027-02-10T12:00:00Z"),
        _order("ana", "2027-02-12T10:00:00Z", "o-ana"),
        # bo: the cart reminder at ~13:01; orders 6 days later, past the 5-day window
        customer("bo", "2027-02-10T08:00:00Z"),
        _cart("bo", "2027-02-10T12:00:00Z"),
        _order("bo", "2027-02-16T14:00:00Z", "o-bo", 80.0),
        # a customer of the global control group: the reminder is held out, the order counts
        customer(held, "2027-02-10T08:00:00Z"),
        _cart(held, "2027-02-10T12:00:00Z"),
        _order(held, "2027-02-11T09:00:00Z", f"o-{held}", 60.0),
    ]


def _touches(sim, cid: str) -> dict[str, dict]:
    return {
        d["trigger"]: d
        for d in sim.decisions()
        if d["customer_id"] == cid and d["outcome"] in ("sent", "held_out")
    }


def test_an_order_is_credited_to_the_last_message_inside_the_window_only(sim):
    held = _global_control_customer()
    sim.run(_day(held))

    conversions = {c["customer_id"]: c for c in sim.conversions()}
    # two messages compete for ana's order: the later one (the cart reminder) gets it
    ana = _touches(sim, "ana")
    assert set(ana) == {"browse_repeat_view", "cart_jewelry_high_value"}
    assert ana["browse_repeat_view"]["at"] < ana["cart_jewelry_high_value"]["at"]
    got = conversions["ana"]
    assert got["trigger"] == "cart_jewelry_high_value"
    assert got["message_id"] == ana["cart_jewelry_high_value"]["message_id"]
    assert got["at"] == "2027-02-12T10:00:00Z" and got["outcome"] == "converted"
    assert got["detail"] == {
        "model": "last_touch",
        "touch": "sent",
        "touched_at": ana["cart_jewelry_high_value"]["at"],
        "value": "120.0",
        "order_id": "o-ana",
        "currency": "USD",
    }
    # bo ordered 6 days after the reminder: outside the window, credited to nothing
    assert "cart_jewelry_high_value" in _touches(sim, "bo")
    assert "bo" not in conversions
    # the held-out customer's order is credited to the message held out, as if it had gone out
    touch = _touches(sim, held)["cart_jewelry_high_value"]
    assert (touch["outcome"], touch["reason"]) == ("held_out", "global")
    assert conversions[held]["message_id"] == touch["message_id"]
    assert conversions[held]["detail"]["touch"] == "held_out"
    assert set(conversions) == {"ana", held}
    # conversions are not decisions: the decision log reads as before
    assert all(d["outcome"] != "converted" for d in sim.decisions())


def test_first_touch_credits_the_earliest_message_instead(tmp_path):
    from nudge.sim import Simulation

    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    settings = config / "settings.yaml"
    text = settings.read_text()
    assert "attribution: {window: 5d, event: order_placed}" in text
    settings.write_text(
        text.replace(
            "attribution: {window: 5d, event: order_placed}",
            "attribution: {window: 5d, event: order_placed, model: first_touch}",
        )
    )
    with Simulation(config, start=parse_time("2027-01-01T00:00:00Z")) as sim:
        sim.run(_day(_global_control_customer()))
        [ana] = [c for c in sim.conversions() if c["customer_id"] == "ana"]
        assert ana["trigger"] == "browse_repeat_view"
        assert ana["message_id"] == _touches(sim, "ana")["browse_repeat_view"]["message_id"]
        assert ana["detail"]["model"] == "first_touch"


def test_the_conversion_is_put_with_the_order_and_carried_by_its_write(sim):
    # Given a customer the cart reminder reached, and one no message reached
    sim.run(
        [
            customer("cy", "2027-02-10T08:00:00Z"),
            _cart("cy", "2027-02-10T12:00:00Z"),
            customer("dee", "2027-02-10T08:00:00Z"),
        ],
        until=parse_time("2027-02-10T14:00:00Z"),
    )
    assert "cart_jewelry_high_value" in _touches(sim, "cy")
    assert _touches(sim, "dee") == {}
    calls: list[str] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        item = params.get("Item") or {}
        if item.get("kind", {}).get("S") == "decision" and store.item_body(item).get("v") == 3:
            return  # log entries the profile lets go, as one item (docs/storage.md): not here
        calls.append(model.name)

    aws.client("dynamodb").meta.events.register("before-parameter-build.dynamodb.*", record)

    # When each orders
    ingest.handle(_order("dee", "2027-02-10T13:20:00Z", "o-dee"))
    plain, calls[:] = list(calls), []
    order = _order("cy", "2027-02-10T13:30:00Z", "o-cy")
    ingest.handle(order)

    # Then the credited order costs what the other does, and one small PutItem more: the
    # conversion, put right after the profile's write, which carries it until then (so a crash
    # in between loses nothing: docs/storage.md), before the read of the tombstone that
    # follows those puts; no read to find the message it credits
    tombstone = len(plain) - 1 - plain[::-1].index("GetItem")
    assert calls == [*plain[:tombstone], "PutItem", *plain[tombstone:]]
    # one Query reads the profile (with its history segments), one GetItem the tombstone
    assert calls.count("GetItem") == 1 and calls.count("Query") == 1 and calls[0] == "Query"
    carried = [i["kind"]["S"] for i in store.get_profile("cy").pending]
    assert carried == ["order_index", "conversion"]
    [conversion] = sim.conversions()
    assert (conversion["customer_id"], conversion["trigger"]) == ("cy", "cart_jewelry_high_value")
    # and the same order delivered again credits nothing twice
    ingest.handle(order)
    assert len(sim.conversions()) == 1


def test_explain_shows_the_message_and_the_order_credited_to_it(sim, tmp_path, capsys):
    held = _global_control_customer()
    sim.run(_day(held))
    out = tmp_path / "day.json"
    out.write_text(json.dumps(sim.output(), default=str))

    assert main(["explain", "ana", "--from-file", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    sent = [i for i, line in enumerate(lines) if "cart_jewelry_high_value: sent" in line]
    converted = [i for i, line in enumerate(lines) if "cart_jewelry_high_value: converted" in line]
    assert sent and converted and sent[0] < converted[0]
    assert "order_placed o-ana (120.0 USD)" in lines[converted[0]]
    assert "credited to the message sent at" in lines[converted[0]]

    assert main(["explain", held, "--from-file", str(out)]) == 0
    text = capsys.readouterr().out
    assert "held_out (global" in text
    assert "credited to the message held out at" in text

    # the deployed table tells the same: the conversion sits in the customer's decision log
    args = Namespace(customer_id="ana", trigger=None, since=None, from_file=None, table=None)
    assert explain_command(args) == 0
    table_lines = capsys.readouterr().out.splitlines()
    assert [line for line in table_lines if ": converted" in line] == [lines[converted[0]]]


def test_a_privacy_export_lists_the_orders_credited_to_messages(sim):
    sim.run(_day(_global_control_customer()))

    body = sim.api("GET", "/profiles/ana/export")["body"]

    assert [(c["trigger"], c["detail"]["order_id"]) for c in body["conversions"]] == [
        ("cart_jewelry_high_value", "o-ana")
    ]
    assert body["other_items"] == []
