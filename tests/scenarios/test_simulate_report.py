"""`nudge simulate` says what happened: a funnel per trigger and campaign, a warning for every
trigger that matched nothing, exit 2 when a message failed (unless --allow-failed), and a report
in the shop's time zone with every reason in words and until when a message was deferred.
`nudge explain` names the test of the audience that failed, with the customer's value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nudge.cli import main
from tests.conftest import CONFIG, EVENTS, customer, event, make_config

# A trigger whose template reads the first item of the order: an order with no items fails it
# at send time (template_error), which no static check can see.
ORDER_THANKS = """\
id: order_thanks
when: {event: order_placed}
channel: email
email:
  subject: "Thank you for the {{ event.properties.items[0].name }}"
  text: "We are wrapping it now. Unsubscribe: {{ unsubscribe_url }}"
"""
VIP_THANKS = """\
id: vip_thanks
when: {event: order_placed}
who: {segment: vip}
channel: email
email: {subject: "A gift for our best customers", text: "... {{ unsubscribe_url }}"}
"""
WISHLIST = """\
id: wishlist_nudge
when: {event: wishlist_added}
channel: email
email: {subject: "Still on your list?", text: "... {{ unsubscribe_url }}"}
"""
HUGE_CART = """\
id: huge_cart
when: {event: cart_updated, where: {properties.value: {gte: 100000}}}
channel: email
email: {subject: "Big cart", text: "... {{ unsubscribe_url }}"}
"""
ITEM = {"product_id": "p-1", "name": "Pearl Drop Necklace", "category": "jewelry", "price": 320}


def _run(tmp_path: Path, config: Path, events: list[dict[str, Any]], *options: str) -> int:
    lines = "\n".join(json.dumps(e) for e in events) + "\n"
    (tmp_path / "events.jsonl").write_text(lines)
    argv = ["simulate", "--config", str(config), "--events", str(tmp_path / "events.jsonl")]
    return main([*argv, "--out", str(tmp_path / "out.json"), "--until", "1d", *options])


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A copy of the sample config with four more triggers, and a short day: ana orders a
    necklace for 320 (order_thanks sent; not yet vip), bo's order has no items (order_thanks
    fails), cy's cart of 185 is far from huge; nobody adds to a wishlist."""
    tmp = tmp_path_factory.mktemp("shop")
    config = make_config(
        tmp,
        **{
            "triggers/order_thanks.yaml": ORDER_THANKS,
            "triggers/vip_thanks.yaml": VIP_THANKS,
            "triggers/wishlist_nudge.yaml": WISHLIST,
            "triggers/huge_cart.yaml": HUGE_CART,
        },
    )
    events = [
        customer("ana", "2027-02-10T14:00:00Z"),
        customer("bo", "2027-02-10T14:00:00Z"),
        customer("cy", "2027-02-10T14:00:00Z"),
        event("order_placed", "ana", "2027-02-10T15:00:00Z", value=320.0, items=[ITEM]),
        event("order_placed", "bo", "2027-02-10T15:30:00Z", value=40.0, items=[]),
        event("cart_updated", "cy", "2027-02-10T16:00:00Z"),
    ]
    return tmp, config, events


@pytest.fixture(scope="module")
def failed_run(shop):
    tmp, config, events = shop
    run = tmp / "default"
    run.mkdir()
    code = _run(run, config, events)
    return code, json.loads((run / "out.json").read_text())


def test_a_failed_message_makes_simulate_exit_2_and_allow_failed_accepts_it(
    shop, failed_run, capsys
):
    code, doc = failed_run
    assert code == 2
    failed = [d for d in doc["decisions"] if d["outcome"] == "failed"]
    assert [(d["customer_id"], d["trigger"], d["reason"]) for d in failed] == [
        ("bo", "order_thanks", "template_error")
    ]
    assert doc["funnel"]["order_thanks"]["failed"] == {"template_error": 1}
    assert doc["funnel"]["order_thanks"]["sent"] == 1  # ana's order had its necklace
    assert "order_thanks: 1 message(s) failed (template_error" in " ".join(doc["warnings"])

    tmp, config, events = shop
    again = tmp / "allowed"
    again.mkdir()
    capsys.readouterr()
    assert _run(again, config, events, "--allow-failed") == 0
    err = capsys.readouterr().err
    assert "failed (template_error" in err  # still said, only not an error


def test_simulate_says_why_it_exits_2(shop, capsys):
    tmp, config, events = shop
    run = tmp / "said"
    run.mkdir()
    assert _run(run, config, events) == 2
    err = capsys.readouterr().err
    assert "failed: order_thanks to bo at 2027-02-10T15:31:00Z: template_error" in err
    assert "1 message(s) failed; exit 2 (--allow-failed accepts them)" in err


def test_a_trigger_that_matched_nothing_is_warned_with_its_cause(failed_run):
    _, doc = failed_run
    assert "trigger wishlist_nudge matched nothing: no wishlist_added event came" in "\n".join(
        doc["warnings"]
    )
    assert (
        "trigger huge_cart matched nothing: 1 cart_updated event(s) came, none met its when"
        in "\n".join(doc["warnings"])
    )
    assert doc["funnel"]["huge_cart"]["matched"] == 0
    # triggers that matched are not warned about
    assert not [w for w in doc["warnings"] if "order_thanks matched" in w]


def test_explain_names_the_failed_condition_with_the_customers_value(failed_run, tmp_path, capsys):
    _, doc = failed_run
    path = tmp_path / "out.json"
    path.write_text(json.dumps(doc))
    assert main(["explain", "ana", "--from-file", str(path), "--trigger", "vip_thanks"]) == 0
    out = capsys.readouterr().out
    assert "vip_thanks: suppressed (audience: not in the trigger's audience (who)" in out
    assert "because not in segment vip: lifetime_value 320 < 500" in out


# -- the sample day -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_day(tmp_path_factory):
    out = tmp_path_factory.mktemp("day") / "day.json"
    argv = ["simulate", "--config", str(CONFIG), "--events", str(EVENTS / "sample_day.jsonl")]
    assert main([*argv, "--out", str(out)]) == 0  # the sample config fails nothing (make demo)
    return json.loads(out.read_text())


def test_every_match_of_the_sample_day_ends_once_in_the_funnel(sample_day):
    doc = sample_day
    sent = {}
    for m in doc["messages"]:
        sent[m["trigger"]] = sent.get(m["trigger"], 0) + 1
    for tid, row in doc["funnel"].items():
        ends = (
            row["sent"]
            + sum(row["held_out"].values())
            + row["cancelled"]
            + sum(row["suppressed"].values())
            + sum(row["failed"].values())
            + row["open"]
        )
        assert ends == row["matched"], tid
        assert row["sent"] == sent.get(tid, 0), tid
    cart = doc["funnel"]["cart_jewelry_high_value"]
    assert cart["cancelled"] == 2  # c-004 ordered, c-007 emptied the cart during the wait
    assert cart["scheduled"] == sum(
        1
        for d in doc["decisions"]
        if d["trigger"] == "cart_jewelry_high_value" and d["outcome"] == "scheduled"
    )
    assert doc["warnings"] == []  # every sample trigger matched something; nothing failed


def test_the_report_shows_shop_time_the_customers_time_under_quiet_hours_and_reasons_in_words(
    sample_day,
):
    from nudge.sim.report import render_report

    text = render_report(sample_day)
    assert "Decisions (times in the shop's time zone, America/New_York)" in text
    lines = text.splitlines()
    # c-017 (Europe/London) viewed the delivery page at 21:31 London time, 16:31 in New York:
    # the text waited for 08:00 in London, 03:00 in New York
    (c017,) = [line for line in lines if "c-017" in line and "quiet_hours" in line]
    assert c017.startswith("02-10 16:31")
    assert "until 02-11 03:00 (08:00 for the customer, Europe/London; it was 21:31 there)" in c017
    assert "inside quiet hours in the customer's time zone; sent when they end" in text
    assert "the trigger already messaged them within its cooldown" in text
    assert "a cancel_if event came during the wait" in text  # outcomes without a reason too
    (funnel,) = [line for line in lines if line.startswith("  cart_jewelry_high_value (")]
    assert "cancelled 2" in funnel
    assert "monthly_value_tiers (campaign): no run reached a customer" in text
