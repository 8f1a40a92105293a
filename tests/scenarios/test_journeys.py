"""The Valentine's cart rescue as a journey (config/triggers/cart_rescue.yaml), played through the
real handlers on the simulated AWS with the simulated clock: email an hour after the cart; a text
the next day if that email was not opened; an offer split two days later, at 10:00 on a weekday in
the customer's time zone. Opens and clicks are SES events handed to the feedback handler (built as
in tests/scenarios/test_engagement.py, which cites their source).

The cart is on Monday 2027-02-08 14:03Z (09:03 in New York, every customer's time zone here).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nudge.core.clock import parse_time
from nudge.core.delivery import holdout_reason
from tests.conftest import CONFIG, customer, event, make_config
from tests.scenarios.test_engagement import ITEMS, Shop, _clicked, _opened, _report

CART_AT = "2027-02-08T14:03:00Z"
EMAIL_AT = "2027-02-08T15:04:00Z"  # the 1h wait, then the arbitration minute
TEXT_AT = "2027-02-09T15:04:00Z"  # wait_for email_clicked timed out after 1d
OFFER_AT = "2027-02-12T15:01:00Z"  # wait 2d -> Thu 10:03 New York -> Fri 10:00 New York (+1m)


def journey_config(tmp_path: Path, **files: str) -> Path:
    """The sample config with cart_rescue switched on in place of cart_jewelry_high_value."""
    rescue = (CONFIG / "triggers" / "cart_rescue.yaml").read_text()
    old = (CONFIG / "triggers" / "cart_jewelry_high_value.yaml").read_text()
    return make_config(
        tmp_path,
        **{
            "triggers/cart_rescue.yaml": rescue.replace("\nenabled: false", "\nenabled: true", 1),
            "triggers/cart_jewelry_high_value.yaml": old.replace(
                "\nenabled: true", "\nenabled: false", 1
            ),
            **files,
        },
    )


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    with Shop(journey_config(tmp_path), start=parse_time("2027-02-01T00:00:00Z")) as sim:
        yield sim


def cart(cid: str, at: str = CART_AT, value: float = 300.0) -> dict[str, Any]:
    return event(
        "cart_updated",
        cid,
        at,
        value=value,
        items=ITEMS,
        checkout_url=f"https://rose.example/checkout/{cid}",
        event_id=f"{cid}-cart-{at}",
    )


def control_customer() -> str:
    """A customer id the sample's global control group (5%, salt 2027) holds out."""
    return next(
        f"ctl{i}" for i in range(1000) if holdout_reason(f"ctl{i}", "cart_rescue", 5, "2027", 0)
    )


def sent(sim: Shop, cid: str) -> list[tuple[str, str, str]]:
    """(channel, step, at) of each message that went out to ``cid``."""
    steps = {
        d["message_id"]: d["detail"].get("step")
        for d in sim.decisions()
        if d["outcome"] == "sent" and d["customer_id"] == cid
    }
    return [
        (m["channel"], steps[m["message_id"]], m["at"])
        for m in sim.messages()
        if m["customer_id"] == cid
    ]


def path(sim: Shop, cid: str) -> list[tuple[str, str | None, str | None]]:
    """(outcome, reason, step) of the customer's cart_rescue decisions, in order."""
    return [
        (d["outcome"], d["reason"], d["detail"].get("step"))
        for d in sim.decisions()
        if d["customer_id"] == cid and d["trigger"] == "cart_rescue"
    ]


def mail_of(sim: Shop, cid: str) -> dict[str, Any]:
    [mail] = [m for m in sim.messages() if m["customer_id"] == cid and m["channel"] == "email"]
    return mail


def test_the_cart_rescue_journey_for_each_kind_of_customer(shop: Shop) -> None:
    ctl = control_customer()
    people = ["orders", "opens", "ignores", "clicks", ctl]
    setup = [customer(cid, "2027-02-08T14:00:00Z") for cid in people]
    setup.append(customer("notext", "2027-02-08T14:00:00Z", sms_ok=False))
    carts = [cart(cid) for cid in [*people, "notext"]]
    order = event("order_placed", "orders", "2027-02-08T18:00:00Z", order_id="o-1", value=300.0)
    shop.run([*setup, *carts], until=parse_time("2027-02-08T16:00:00Z"))
    # the opener opens the reminder at 16:00; the clicker clicks it
    assert _report(shop, _opened(shop, mail_of(shop, "opens"))) == ["noted open"]
    _report(shop, _clicked(shop, mail_of(shop, "clicks"), "https://rose.example/checkout/clicks"))
    shop.run([order], until=parse_time("2027-02-14T00:00:00Z"))

    # ordered after the first email: the journey ended there, nothing more was sent
    assert sent(shop, "orders") == [("email", "remind", EMAIL_AT)]
    assert path(shop, "orders")[-1] == ("exited", "exit_if", "wait2")
    exited = [d for d in shop.decisions() if d["customer_id"] == "orders"][-1]
    assert (exited["at"], exited["detail"]["exit_by"]) == ("2027-02-08T18:00:00Z", "order_placed")

    # opened but did not click: no text, the offer on Friday at 10:00 New York
    assert [s[:2] for s in sent(shop, "opens")] == [("email", "remind"), ("email", "offer")]
    assert sent(shop, "opens")[1][2] == OFFER_AT
    assert ("branched", None, "follow_up") in path(shop, "opens")
    [branch] = [
        d
        for d in shop.decisions()
        if d["customer_id"] == "opens" and d["detail"].get("step") == "follow_up"
    ]
    assert (branch["detail"]["branch"], branch["detail"]["to"]) == ("if_1", "wait3")

    # ignored everything: email, text the next day, offer on Friday
    assert sent(shop, "ignores") == [
        ("email", "remind", EMAIL_AT),
        ("sms", "text", TEXT_AT),
        ("email", "offer", OFFER_AT),
    ]
    assert path(shop, "ignores") == [
        ("entered", None, None),
        ("waiting", None, "wait1"),
        ("waiting", None, "wait2"),
        ("sent", None, "remind"),
        ("branched", None, "wait2"),
        ("branched", None, "follow_up"),
        ("waiting", None, "wait3"),
        ("sent", None, "text"),
        ("split", None, "ab"),
        ("waiting", None, "morning"),
        ("completed", None, None),
        ("sent", None, "offer"),
    ]

    # clicked: straight to the offer split, sent at the next weekday 10:00 (Tuesday)
    assert sent(shop, "clicks") == [
        ("email", "remind", EMAIL_AT),
        ("email", "offer", "2027-02-09T15:01:00Z"),
    ]
    clicked = [
        d for d in shop.decisions() if d["customer_id"] == "clicks" and d["outcome"] == "branched"
    ]
    assert clicked[0]["detail"] | {"seq": 0} == {
        "step": "wait2",
        "branch": "event",
        "event": "email_clicked",
        "to": "ab",
        "seq": 0,
    }

    # no SMS consent: the text step is suppressed, the journey goes on to the offer
    assert sent(shop, "notext") == [("email", "remind", EMAIL_AT), ("email", "offer", OFFER_AT)]
    assert ("suppressed", "no_consent", "text") in path(shop, "notext")

    # the control group walks the whole journey without a single message
    assert sent(shop, ctl) == []
    assert path(shop, ctl) == [
        ("entered", "global", None),
        ("waiting", None, "wait1"),
        ("held_out", "global", "remind"),
        ("waiting", None, "wait2"),
        ("branched", None, "wait2"),
        ("branched", None, "follow_up"),
        ("held_out", "global", "text"),
        ("waiting", None, "wait3"),
        ("split", None, "ab"),
        ("waiting", None, "morning"),
        ("held_out", "global", "offer"),
        ("completed", None, None),
    ]

    # the offer's decisions carry the customer's split variant, the same the split step chose
    for cid in ("opens", "ignores", "clicks", "notext"):
        [split] = [
            d for d in shop.decisions() if d["customer_id"] == cid and d["outcome"] == "split"
        ]
        [offer] = [
            d
            for d in shop.decisions()
            if d["customer_id"] == cid and d["outcome"] == "sent" and d["detail"]["step"] == "offer"
        ]
        assert split["detail"]["variant"] == offer["detail"]["variant"]
        assert offer["detail"]["variant"] in ("offer_test=ten", "offer_test=free_ship")
    # and the offer's content is that variant's template
    for mail in shop.messages():
        offer = mail.get("subject") or ""
        if "off the cart" in offer or "free shipping" in offer:
            [variant] = {
                d["detail"]["variant"]
                for d in shop.decisions()
                if d.get("message_id") == mail["message_id"]
            }
            assert ("10% off" in offer) == (variant == "offer_test=ten")


def test_entering_twice_within_the_reentry_window(shop: Shop) -> None:
    shop.run(
        [
            customer("twice", "2027-02-08T14:00:00Z"),
            cart("twice"),
            cart("twice", "2027-02-08T20:00:00Z", value=320.0),  # mid-journey
            cart("twice", "2027-02-13T12:00:00Z", value=340.0),  # finished, inside the 30 days
        ],
        until=parse_time("2027-02-14T00:00:00Z"),
    )
    decisions = [d for d in shop.decisions() if d["customer_id"] == "twice"]
    suppressed = [(d["at"], d["reason"]) for d in decisions if d["outcome"] == "suppressed"]
    assert suppressed == [
        ("2027-02-08T20:00:00Z", "in_journey"),
        ("2027-02-13T12:00:00Z", "reentry"),
    ]
    assert [d["outcome"] for d in decisions].count("entered") == 1
    assert [s[1] for s in sent(shop, "twice")] == ["remind", "text", "offer"]
    last = decisions[-1]
    assert last["detail"]["reentry"] == "after 30d"
    assert last["detail"]["last_entered_at"] == CART_AT


def test_split_variants_are_stable_across_runs(tmp_path: Path) -> None:
    people = [f"c{i}" for i in range(8)]

    def variants(run: int) -> dict[str, str]:
        config = journey_config(tmp_path / f"run{run}")
        with Shop(config, start=parse_time("2027-02-01T00:00:00Z")) as sim:
            setup = [customer(cid, "2027-02-08T14:00:00Z") for cid in people]
            sim.run([*setup, *(cart(c) for c in people)], until=parse_time("2027-02-12T00:00:00Z"))
            return {
                d["customer_id"]: d["detail"]["variant"]
                for d in sim.decisions()
                if d["outcome"] == "split"
            }

    first = variants(1)
    assert first == variants(2)
    assert set(first) == set(people)  # the control group is split too: lift is measured per variant
    assert set(first.values()) == {"offer_test=ten", "offer_test=free_ship"}  # both in use


def test_explain_prints_the_path_through_the_journey(shop: Shop, capsys: Any) -> None:
    from argparse import Namespace

    from nudge.explain import explain_command

    shop.run(
        [customer("nosms", "2027-02-08T14:00:00Z", sms_ok=False), cart("nosms")],
        until=parse_time("2027-02-14T00:00:00Z"),
    )
    args = Namespace(customer_id="nosms", trigger=None, since=None, from_file=None, table=None)
    assert explain_command(args) == 0
    out = capsys.readouterr().out
    [line] = [row.strip() for row in out.splitlines() if row.strip().startswith("cart_rescue: ent")]
    variant = next(d["detail"]["variant"] for d in shop.decisions() if d["outcome"] == "split")
    assert line == (
        "cart_rescue: entered -> wait1 (waited until 2027-02-08T15:03:00Z) -> wait2 (waited until "
        "2027-02-09T15:03:00Z) -> remind (sent via email) -> wait2 [timeout -> follow_up] -> "
        "follow_up [else -> text] -> text (suppressed no_consent) -> wait3 (waited until "
        f"2027-02-11T15:03:00Z) -> ab [{variant}] -> morning (waited until 2027-02-12T15:00:00Z) "
        "-> completed -> offer (sent via email)"
    )
    # the timeline names the reason in words, and never prints the ordering key
    assert "text (suppressed" not in out.split("journeys (")[0]
    assert "(no_consent: no recorded consent for the channel, or the customer left" in out
    assert "seq =" not in out


def test_a_journey_past_its_active_window_ends_for_customers_in_it(shop: Shop) -> None:
    # Friday 2027-02-12: email, Saturday: text, then wait3 ends Monday 2027-02-15 15:03Z, after
    # the journey's active.until (2027-02-15T00:00:00Z): no offer goes out
    shop.run(
        [customer("late", "2027-02-12T14:00:00Z"), cart("late", "2027-02-12T14:03:00Z")],
        until=parse_time("2027-02-20T00:00:00Z"),
    )
    assert [s[:2] for s in sent(shop, "late")] == [("email", "remind"), ("sms", "text")]
    assert path(shop, "late")[-1] == ("exited", "inactive", "wait3")
    [exited] = [d for d in shop.decisions() if d["outcome"] == "exited"]
    assert (exited["at"], exited["detail"]["active_until"]) == (
        "2027-02-15T15:03:00Z",
        "2027-02-15T00:00:00Z",
    )
    assert shop.profiles()["late"]["journeys"] == {
        "cart_rescue": {
            "done": parse_time("2027-02-15T15:03:00Z").timestamp(),
            "entered": parse_time("2027-02-12T14:03:00Z").timestamp(),
            "how": "inactive",
        }
    }


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_the_journey_is_the_same_on_moto_and_in_memory(tmp_path: Path, backend: str) -> None:
    from nudge.sim import Simulation

    config = journey_config(tmp_path)
    with Simulation(config, start=parse_time("2027-02-01T00:00:00Z"), backend=backend) as sim:
        sim.run(
            [customer("ignores", "2027-02-08T14:00:00Z"), cart("ignores")],
            until=parse_time("2027-02-14T00:00:00Z"),
        )
        got = [
            (d["at"], d["outcome"], d["reason"], d["detail"].get("step"))
            for d in sim.decisions()
            if d["trigger"] == "cart_rescue"
        ]
        mails = [(m["channel"], m["at"]) for m in sim.messages()]
    assert mails == [("email", EMAIL_AT), ("sms", TEXT_AT), ("email", OFFER_AT)]
    assert [g[1:] for g in got] == [
        ("entered", None, None),
        ("waiting", None, "wait1"),
        ("waiting", None, "wait2"),
        ("sent", None, "remind"),
        ("branched", None, "wait2"),
        ("branched", None, "follow_up"),
        ("waiting", None, "wait3"),
        ("sent", None, "text"),
        ("split", None, "ab"),
        ("waiting", None, "morning"),
        ("completed", None, None),
        ("sent", None, "offer"),
    ]
