"""Quiet hours in the customer's time zone, caps that defer by priority, and re-checks at send."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from nudge.core.clock import parse_time
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event, make_config


def _delivery_view(cid: str, at: str) -> dict:
    return event("page_viewed", cid, at, path="/pages/delivery", title="Delivery")


def _timeline(sim, cid: str) -> list[tuple[str, str, str | None]]:
    return [
        (d["at"], d["outcome"], d["reason"]) for d in sim.decisions() if d["customer_id"] == cid
    ]


def test_sms_at_2230_in_los_angeles_waits_until_0800_there(sim):
    # 22:30 PST on Feb 10 is 06:30Z on Feb 11; 08:00 PST on Feb 11 is 16:00Z
    sim.run(
        [
            customer("lena", "2027-02-10T20:00:00Z", timezone="America/Los_Angeles"),
            _delivery_view("lena", "2027-02-11T06:30:00Z"),
        ]
    )

    [sms] = sim.messages()
    assert sms["channel"] == "sms"
    assert sms["at"] == "2027-02-11T16:00:00Z"
    outcomes = [(o, r) for _, o, r in _timeline(sim, "lena")]
    assert outcomes == [("deferred", "quiet_hours"), ("sent", None)]
    deferred = next(d for d in sim.decisions() if d["outcome"] == "deferred")
    assert deferred["detail"]["local_time"] == "22:31 America/Los_Angeles"


def test_same_sms_in_new_york_daytime_goes_at_once(sim):
    sim.run(
        [
            customer("nate", "2027-02-10T14:00:00Z", timezone="America/New_York"),
            _delivery_view("nate", "2027-02-10T15:00:00Z"),
        ]
    )
    [sms] = sim.messages()
    assert sms["at"] == "2027-02-10T15:01:00Z"  # after the 1m arbitration window


def test_order_ten_minutes_before_the_deferred_sms_stops_it(sim):
    # 22:15 ET: quiet hours; the SMS is deferred to 08:00 ET (13:00Z); the order comes at 12:50Z
    sim.run(
        [
            customer("owen", "2027-02-10T20:00:00Z"),
            _delivery_view("owen", "2027-02-11T03:15:00Z"),
            event("order_placed", "owen", "2027-02-11T12:50:00Z", order_id="o-9", value=80.0),
        ]
    )

    assert sim.messages() == []
    assert [(o, r) for _, o, r in _timeline(sim, "owen")] == [
        ("deferred", "quiet_hours"),
        ("suppressed", "audience"),
    ]


CAPPED_SETTINGS = (
    (CONFIG / "settings.yaml")
    .read_text()
    .replace("  - {channel: any, max: 2, per: 1d}", "  - {channel: any, max: 1, per: 1d}")
    .replace("holdout: {percent: 5", "holdout: {percent: 0")
    # config may name only known or declared events (settings.yaml custom_events)
    + "  promo_seen: {description: A promotion shown on the site}\n"
)

PROMO_HIGH = textwrap.dedent("""\
    id: promo_high
    when: {event: promo_seen}
    priority: 90
    channel: email
    email: {subject: "Big news", text: "High priority"}
    """)
PROMO_LOW = textwrap.dedent("""\
    id: promo_low
    when: {event: promo_seen}
    priority: 10
    {expires}
    channel: sms
    sms: {text: "Low priority"}
    """)


@pytest.mark.parametrize(
    ("expires", "end"),
    [
        ("", ("sent", None)),
        ("expires: 12h", ("suppressed", "expired")),
    ],
)
def test_one_a_day_cap_sends_the_higher_priority_and_defers_the_other(tmp_path, expires, end):
    config = make_config(
        tmp_path,
        **{
            "settings.yaml": CAPPED_SETTINGS,
            "triggers/promo_high.yaml": PROMO_HIGH,
            "triggers/promo_low.yaml": PROMO_LOW.replace("{expires}", expires),
        },
    )
    promo = event("promo_seen", "pia", "2027-02-10T15:00:00Z", base="wishlist_added")
    with Simulation(config, start=parse_time("2027-02-10T00:00:00Z")) as sim:
        sim.run([customer("pia", "2027-02-10T14:00:00Z"), promo])
        messages = sim.messages()
        low = [(d["outcome"], d["reason"]) for d in sim.decisions() if d["trigger"] == "promo_low"]

    assert messages[0]["trigger"] == "promo_high"
    assert messages[0]["at"] == "2027-02-10T15:01:00Z"
    assert low[0] == ("deferred", "frequency_cap")
    assert set(low[1:-1]) <= {("deferred", "frequency_cap")}
    assert low[-1] == end
    if not expires:  # it goes out when the day's window frees, not before
        assert [(m["trigger"], m["at"]) for m in messages[1:]] == [
            ("promo_low", "2027-02-11T15:01:01Z")
        ]
    else:
        assert len(messages) == 1


def test_a_backlog_under_a_cap_wakes_each_message_for_its_own_turn_not_every_day(tmp_path):
    """Five promotions at once under a 1-a-day cap: one a day, by priority, and each waiting
    one is deferred to the day its turn comes (not woken each day to be deferred again: with a
    backlog of n that would be about n*n/2 wakes)."""
    promos = {
        f"promo_{p}.yaml": PROMO_HIGH.replace("promo_high", f"promo_{p}").replace(
            "priority: 90", f"priority: {p}"
        )
        for p in (90, 80, 70, 60, 50)
    }
    config = make_config(
        tmp_path,
        **{"settings.yaml": CAPPED_SETTINGS},
        **{f"triggers/{name}": text for name, text in promos.items()},
    )
    promo = event("promo_seen", "pia", "2027-02-10T15:00:00Z", base="wishlist_added")
    with Simulation(config, start=parse_time("2027-02-10T00:00:00Z")) as sim:
        sim.run(
            [customer("pia", "2027-02-10T14:00:00Z"), promo],
            until=parse_time("2027-02-20T00:00:00Z"),
        )
        sent = [(m["trigger"], m["at"][:10]) for m in sim.messages()]
        deferred = [
            (d["trigger"], d["at"][:10]) for d in sim.decisions() if d["outcome"] == "deferred"
        ]

    assert sent == [
        ("promo_90", "2027-02-10"),
        ("promo_80", "2027-02-11"),
        ("promo_70", "2027-02-12"),
        ("promo_60", "2027-02-13"),
        ("promo_50", "2027-02-14"),
    ]
    # every waiting one is deferred on the day they were decided only (once for its turn, and
    # once more at most if it was weighed before the first one went); none on a later day
    assert {day for _, day in deferred} == {"2027-02-10"}, deferred
    assert {t for t, _ in deferred} == {"promo_80", "promo_70", "promo_60", "promo_50"}
    assert len(deferred) <= 2 * 4


def test_a_message_another_dispatch_has_claimed_keeps_its_rank_under_the_cap(tmp_path):
    """Both promotions fall due at 15:01; the high one is claimed by one dispatch (it has not
    called the provider yet) when another weighs the low one: the low one waits its turn."""
    from nudge.aws import store
    from nudge.flows import dispatch

    config = make_config(
        tmp_path,
        **{
            "settings.yaml": CAPPED_SETTINGS,
            "triggers/promo_high.yaml": PROMO_HIGH,
            "triggers/promo_low.yaml": PROMO_LOW.replace("{expires}", ""),
        },
    )
    promo = event("promo_seen", "pia", "2027-02-10T15:00:00Z", base="wishlist_added")
    with Simulation(config, start=parse_time("2027-02-10T00:00:00Z")) as sim:
        sim.run([customer("pia", "2027-02-10T14:00:00Z"), promo], until=timedelta(0))
        ids = {m["trigger"]: m["message_id"] for m in store.pending_messages("pia")}
        assert set(ids) == {"promo_high", "promo_low"}
        sim.clock.set(parse_time("2027-02-10T15:01:00Z"))
        assert store.claim_message("pia", ids["promo_high"]) is not None  # mid-flight elsewhere

        assert dispatch.dispatch_message("pia", ids["promo_low"]) == "deferred"

        assert sim.messages() == []  # the low one did not take the day's only slot
        low = [d for d in store.decisions_for("pia") if d["trigger"] == "promo_low"]
        assert [(d["outcome"], d["reason"]) for d in low] == [("deferred", "frequency_cap")]
        assert low[0]["detail"]["outranked_by"] == 1
