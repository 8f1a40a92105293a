"""A real shop's day on the in-memory backend: the sample day lived by 168 times its customers
(20,000 events, nudge.sim.synthetic). Every customer gets what their counterpart in the sample
day gets: the same messages, decisions and reasons, none lost or doubled at scale. (How long it
takes is measured by `make bench`, not asserted here.)"""

from __future__ import annotations

from collections import Counter
from typing import Any

from nudge.sim import Simulation
from nudge.sim.runner import read_events
from nudge.sim.synthetic import synthetic_day
from tests.conftest import CONFIG, EVENTS

EVENTS_IN_ALL = 20_000


def _base(customer_id: str) -> str:
    return customer_id.split("~", 1)[0]


def _what(decision: dict[str, Any]) -> tuple[Any, ...]:
    # the holdout is drawn per customer id: a copy may be held out where its original was sent
    if decision["outcome"] in ("sent", "held_out"):
        return (decision["trigger"], "sent or held out", decision["channel"])
    return (decision["trigger"], decision["outcome"], decision["reason"], decision["channel"])


def test_a_shop_of_twenty_thousand_events_treats_every_customer_like_the_sample_day():
    template = read_events(EVENTS / "sample_day.jsonl")
    day = synthetic_day(template, EVENTS_IN_ALL)
    assert len(day) == EVENTS_IN_ALL
    copies = EVENTS_IN_ALL // len(template)  # whole copies; the last one is cut short

    with Simulation(CONFIG) as sim:
        sim.run(day)
        decisions = sim.decisions()
        messages = sim.messages()
        profiles = sim.profiles()

    whole = {c for c in profiles if "~" not in c or int(c.split("~")[1]) < copies}
    assert len(whole) == copies * len({_base(c) for c in profiles})

    # per customer of the sample day: what it got, and what each of its copies got
    got: dict[str, Counter[tuple[Any, ...]]] = {}
    for d in decisions:
        got.setdefault(d["customer_id"], Counter())[_what(d)] += 1
    original = {c: got.get(c, Counter()) for c in whole if "~" not in c}
    assert sum(original.values(), Counter())  # the sample day decides things
    for customer in whole:
        assert got.get(customer, Counter()) == original[_base(customer)], customer

    sent = {d["message_id"] for d in decisions if d["outcome"] == "sent"}
    assert sorted(m["message_id"] for m in messages) == sorted(sent)
    held = sum(1 for d in decisions if d["outcome"] == "held_out")
    assert 0 < held < len(sent)  # the holdout holds some out, not most
