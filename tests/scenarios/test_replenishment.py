"""Per-product replenishment: a customer who buys coffee every ~30 days gets a reminder 3 days
before day 30, at 10:00 their time, and none once they have bought again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nudge.core.clock import parse_time
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event, make_config

REFILL = """\
id: coffee_refill
description: Running low on something they buy regularly
when: {event: replenishment_due}
at_local_time: "10:00"
cancel_if: [{event: order_placed}]
channel: email
email:
  subject: "Running low on {{ event.properties.name | default('your favourite') }}?"
  text: "Time for a refill. Unsubscribe: {{ unsubscribe_url }}"
"""
SETTINGS = "\nreplenishment: {interval: 45d, lead: 3d, min_buyers: 3}\n"
COFFEE = [
    {
        "product_id": "coffee-1kg",
        "name": "House coffee 1kg",
        "category": "coffee",
        "price": 24.0,
        "quantity": 1,
    }
]


def coffee(cid: str, at: str, n: int) -> dict[str, Any]:
    return event("order_placed", cid, at, order_id=f"{cid}-{n}", value=24.0, items=COFFEE)


def test_a_monthly_coffee_buyer_is_reminded_3_days_before_day_30_and_not_after_buying_again(
    tmp_path,
):
    settings = (CONFIG / "settings.yaml").read_text() + SETTINGS
    config = make_config(
        tmp_path, **{"triggers/coffee_refill.yaml": REFILL, "settings.yaml": settings}
    )
    events = []
    for cid in ("rae", "ray", "rex"):  # regulars: every 30 days since January
        events.append(customer(cid, "2027-01-01T09:00:00Z"))
        for n, day in enumerate(("2027-01-01", "2027-01-31", "2027-03-02")):
            events.append(coffee(cid, f"{day}T15:00:00Z", n))
    for cid in ("cat", "dov", "eve"):
        events.append(customer(cid, "2027-02-01T09:00:00Z"))
        events += [coffee(cid, "2027-02-01T15:00:00Z", 0), coffee(cid, "2027-03-03T15:00:00Z", 1)]
    events.append(coffee("dov", "2027-03-25T15:00:00Z", 2))  # buys again before the reminder
    events.append(coffee("eve", "2027-03-30T12:00:00Z", 2))  # buys again at 08:00 on reminder day
    events.sort(key=lambda e: e["time"])

    with Simulation(config, start=parse_time("2026-12-31T00:00:00Z"), daily=True) as sim:
        sim.run(events, until=parse_time("2027-04-05T00:00:00Z"))
        refills = [
            (d["customer_id"], d["outcome"], d["at"])
            for d in sim.decisions()
            if d["trigger"] == "coffee_refill"
        ]
        sent = {
            (m["customer_id"], m["at"]) for m in sim.messages() if m["trigger"] == "coffee_refill"
        }

    # Cat's first bag (February 1) runs out on March 3 and her second (March 3) on April 2: the
    # median interval of the coffee's buyers is 30 days. Each reminder is recorded by the
    # recompute 3 days before and goes out at 10:00 New York time (plus the 1-minute
    # arbitration window): 15:00Z in winter, 14:00Z after the clocks change on March 14
    assert sorted(at for c, at in sent if c == "cat") == [
        "2027-02-28T15:01:00Z",
        "2027-03-30T14:01:00Z",
    ]
    # the regulars' bags of January 31 and March 2 run out on March 2 and April 1
    for regular in ("rae", "ray", "rex"):
        assert sorted(at for c, at in sent if c == regular) == [
            "2027-02-27T15:01:00Z",
            "2027-03-29T14:01:00Z",
        ]
    # Dov bought again on March 25, before the reminder for his March 3 bag: none came (the next
    # is due April 21, after this run)
    assert [r for r in refills if r[0] == "dov" and r[2] > "2027-03-04"] == []
    assert sorted(at for c, at in sent if c == "dov") == ["2027-02-28T15:01:00Z"]
    # Eve's reminder was scheduled for 10:00 on March 30, then she bought at 08:00: cancelled
    assert [r for r in refills if r[0] == "eve" and r[2] > "2027-03-04"] == [
        ("eve", "scheduled", "2027-03-30T07:00:00Z"),
        ("eve", "cancelled", "2027-03-30T12:00:00Z"),
    ]
    assert sorted(at for c, at in sent if c == "eve") == ["2027-02-28T15:01:00Z"]
    # one reminder per bag, never repeated by the recomputes of the days up to the run-out date
    assert len([r for r in refills if r[1] == "scheduled"]) == 11


def _intervals_after_run(config, base, **run: Any) -> tuple[dict[str, float], int]:
    from nudge.aws import store
    from nudge.flows import score
    from tests.scenarios.test_daily_recompute import seed

    with Simulation(config, start=parse_time("2027-03-01T00:00:00Z"), daily=False) as sim:
        seed(sim, base)
        sim.clock.set(parse_time("2027-03-01T08:00:00Z"))
        steps = 0
        while True:
            steps += 1
            result = score.run_daily(**run)
            if result["done"]:
                break
            assert result.get("resume") and steps < 60
        state = store.get_run(f"score#{result['date']}")
        assert state is not None
        return state["model"]["replenish"], steps


def test_a_recompute_stopped_half_way_fits_the_same_intervals_as_one_run(tmp_path):
    settings = (CONFIG / "settings.yaml").read_text() + SETTINGS
    config = make_config(tmp_path, **{"settings.yaml": settings})
    base = []
    for i in range(30):
        cid, rhythm = f"b{i:02d}", (20, 30, 40)[i % 3] + i % 2  # 20/21, 30/31, 40/41 days
        item = [{"product_id": f"p{i % 3}", "category": "pantry", "price": 10.0}]
        base.append(customer(cid, "2026-10-01T09:00:00Z"))
        for n in range(3):
            at = parse_time("2026-10-01T12:00:00Z").timestamp() + n * rhythm * 86400
            when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            base.append(
                event("order_placed", cid, when, order_id=f"{cid}-{n}", value=10.0, items=item)
            )
    base.sort(key=lambda e: e["time"])

    whole, one = _intervals_after_run(config, base, segments=3, page_size=4)
    parts, many = _intervals_after_run(config, base, budget=7, segments=3, page_size=4)

    assert one == 1 and many > 4  # the second run did stop and resume, many times
    assert parts == whole
    # 10 buyers each: the median of 20/21 is 20.5 days, etc.; the category pools all 30
    assert whole == {"p:p0": 20.5, "p:p1": 30.5, "p:p2": 40.5, "c:pantry": 30.5}


def test_the_nightly_pass_skips_a_customer_whose_reminder_is_already_recorded(tmp_path):
    """The daily recompute writes only customers due something new (issue 18: writes in
    O(customers due)): a reminder recorded the night before is remembered, not due again."""
    from nudge.aws import store
    from nudge.config import load_config
    from nudge.core.timed import nightly_due

    settings = (CONFIG / "settings.yaml").read_text() + SETTINGS
    config = make_config(
        tmp_path, **{"triggers/coffee_refill.yaml": REFILL, "settings.yaml": settings}
    )
    events = [customer("cat", "2027-02-01T09:00:00Z"), coffee("cat", "2027-02-01T15:00:00Z", 0)]
    with Simulation(config, start=parse_time("2027-01-31T00:00:00Z"), daily=True) as sim:
        sim.run(events, until=parse_time("2027-03-16T12:00:00Z"))  # recorded 3 days before d45
        doc = store.get_profile("cat").doc or {}
        recorded = [d for d in sim.decisions() if d["trigger"] == "coffee_refill"]
    compiled = load_config(config)
    assert recorded  # the reminder of the 45-day fallback interval was recorded

    # the next night, inside the same reminder window: nothing new for her
    assert not nightly_due(doc, compiled, parse_time("2027-03-17T08:00:00Z"))
    # before the reminder was recorded, she was due
    doc["seen"], doc["history"] = {}, []
    assert nightly_due(doc, compiled, parse_time("2027-03-17T08:00:00Z"))
