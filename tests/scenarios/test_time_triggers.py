"""Time-driven triggers: the daily recompute finds whose birthday it is and the message goes out
at 10:00 in the customer's own time zone, on the birthday (02-28 for a 02-29 birthday in 2027);
milestones fire once."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from nudge.core.clock import parse_time
from nudge.sim import Simulation
from tests.conftest import customer, event, make_config

BIRTHDAY = """\
id: birthday
description: Happy birthday at 10:00 their time
when: {event: daily}
at_local_time: "10:00"
who: {where: {traits.birthday: {anniversary_in_days: 0}}}
cooldown: 300d
channel: email
email:
  subject: "Happy birthday, {{ first_name | default('friend') }}"
  text: "A little gift for you. Unsubscribe: {{ unsubscribe_url }}"
"""


def local(at: str, zone: str) -> datetime:
    return parse_time(at).astimezone(ZoneInfo(zone))


def test_a_birthday_message_arrives_at_10_local_on_the_birthday_and_on_28_february_for_a_leap_day(
    tmp_path,
):
    config = make_config(tmp_path, **{"triggers/birthday.yaml": BIRTHDAY})
    people = [
        customer("ann", "2027-02-20T09:00:00Z", birthday="1991-02-26", timezone="Asia/Tokyo"),
        customer("leo", "2027-02-20T09:00:00Z", birthday="1992-02-29", timezone="Europe/Paris"),
        customer("bob", "2027-02-20T09:00:00Z", birthday="1980-03-01"),  # the shop's zone
        customer("zoe", "2027-02-20T09:00:00Z", birthday="1985-07-04", timezone="Europe/Paris"),
    ]
    with Simulation(config, start=parse_time("2027-02-24T00:00:00Z"), daily=True) as sim:
        sim.run(people, until=parse_time("2027-03-03T00:00:00Z"))
        sent = {m["customer_id"]: m["at"] for m in sim.messages() if m["trigger"] == "birthday"}
        scheduled = [
            (d["customer_id"], d["detail"]["due_at"])
            for d in sim.decisions()
            if d["trigger"] == "birthday" and d["outcome"] == "scheduled"
        ]

    # Ann (Tokyo): on February 26 at 10:00 Tokyo time (plus the 1-minute arbitration window)
    assert local(sent["ann"], "Asia/Tokyo").strftime("%Y-%m-%d %H:%M") == "2027-02-26 10:01"
    # Leo, born on a 29 February: on the 28th in 2027, at 10:00 Paris time
    assert local(sent["leo"], "Europe/Paris").strftime("%Y-%m-%d %H:%M") == "2027-02-28 10:01"
    # Bob has no zone of his own: the shop's (New York)
    assert local(sent["bob"], "America/New_York").strftime("%Y-%m-%d %H:%M") == "2027-03-01 10:01"
    # Zoe's birthday is in July: nothing, and nothing was even scheduled for her
    assert "zoe" not in sent
    # each birthday was scheduled once, for 10:00 local, by the daily recompute of the day
    assert sorted(scheduled) == [
        ("ann", "2027-02-26T01:00:00Z"),
        ("bob", "2027-03-01T15:00:00Z"),
        ("leo", "2027-02-28T09:00:00Z"),
    ]


def test_a_repeated_daily_run_schedules_nothing_twice(tmp_path):
    from nudge.flows import score
    from tests.conftest import reading

    # the history keeps what the config reads (docs/storage.md): these two are looked at below
    files = {
        "triggers/birthday.yaml": BIRTHDAY,
        "segments.yaml": reading({"customer_updated": [], "daily": []}),
    }
    config = make_config(tmp_path, **files)
    with Simulation(config, start=parse_time("2027-02-24T00:00:00Z"), daily=False) as sim:
        sim.run(
            [customer("bob", "2027-02-24T09:00:00Z", birthday="1980-03-01")],
            until=parse_time("2027-02-24T10:00:00Z"),
        )
        sim.clock.set(parse_time("2027-03-01T08:00:00Z"))  # 03:00 in New York
        first = score.handle({"kind": "daily"})
        again = score.handle({"kind": "daily", "date": "2027-03-01", "force": True})
        sim.advance(parse_time("2027-03-02T00:00:00Z"))
        outcomes = sorted(
            (d["outcome"], d["at"]) for d in sim.decisions() if d["trigger"] == "birthday"
        )
        from tests.scenarios.test_daily_recompute import stored_profiles

        bob = stored_profiles(sim)["bob"]
    assert first["written"] == 1 and again["written"] == 0
    # the daily event is nudge's, not something Bob did in the shop
    assert [h["type"] for h in bob["history"]] == ["customer_updated", "daily", "message_sent"]
    assert bob["last_seen_at"] == "2027-02-24T09:00:00Z"
    assert outcomes == [("scheduled", "2027-03-01T08:00:00Z"), ("sent", "2027-03-01T15:01:00Z")]


TENTH = """\
id: tenth_order
when: {event: milestone_reached, where: {properties.milestone: third_order}}
channel: email
email:
  subject: "Three orders, thank you {{ first_name | default('friend') }}"
  text: "Our thanks. Unsubscribe: {{ unsubscribe_url }}"
"""
MILESTONES = """
milestones:
  third_order: {field: orders_count, reaches: 3}
"""


def test_a_milestone_fires_once_when_the_third_order_lands_not_again_after_a_refund(tmp_path):
    segments = (make_config(tmp_path / "base") / "segments.yaml").read_text() + MILESTONES
    config = make_config(tmp_path, **{"triggers/tenth.yaml": TENTH, "segments.yaml": segments})
    orders = [customer("ida", "2027-03-01T09:00:00Z")]
    for i, day in enumerate(("02", "05", "09")):
        orders.append(
            event("order_placed", "ida", f"2027-03-{day}T15:00:00Z", order_id=f"o{i}", value=50.0)
        )
    orders.append(event("order_refunded", "ida", "2027-03-10T15:00:00Z", order_id="o2", value=50.0))
    orders.append(event("order_placed", "ida", "2027-03-12T15:00:00Z", order_id="o3", value=50.0))
    with Simulation(config, start=parse_time("2027-03-01T00:00:00Z")) as sim:
        sim.run(orders, until=parse_time("2027-03-13T00:00:00Z"))
        fired = [
            (d["event_type"], d["outcome"], d["at"][:10])
            for d in sim.decisions()
            if d["trigger"] == "tenth_order"
        ]
    assert fired == [("milestone_reached", "sent", "2027-03-09")]
