"""Frequently bought together, end to end: customers order coffee with filters on day 1, the
nightly recompute finds the pair, and a customer who carts coffee on day 2 gets a cart email
listing the filters (not what one customer once bought with coffee, not what they already have)."""

from __future__ import annotations

from typing import Any

import pytest

from nudge.core.clock import parse_time
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event, make_config

SETTINGS = "\nrecommendations: {bought_together: {top: 5, min_customers: 3, show: 4}}\n"
CART = """\
id: cart_pair
when: {event: cart_updated}
wait: 1h
channel: email
email:
  subject: "Your cart"
  text: "Goes well with it: {% for p in recommendations.bought_together %}{{ p.name }} \
({{ p.customers }} customers); {% else %}nothing new; {% endfor %}Unsubscribe: {{ unsubscribe_url }}"
"""


def line(pid: str, name: str, price: float) -> dict[str, Any]:
    return {"product_id": pid, "name": name, "category": "coffee", "price": price, "quantity": 1}


COFFEE = line("coffee-1kg", "House coffee 1kg", 24.0)
FILTERS = line("filters-100", "Paper filters x100", 4.0)
MUG = line("mug", "Stoneware mug", 12.0)


def order(cid: str, at: str, *items: dict[str, Any]) -> dict[str, Any]:
    value = sum(i["price"] for i in items)
    return event("order_placed", cid, at, order_id=f"{cid}-{at[:10]}", value=value, items=list(items))


def cart(cid: str, at: str, *items: dict[str, Any]) -> dict[str, Any]:
    value = sum(i["price"] for i in items)
    return event("cart_updated", cid, at, cart_id=f"k-{cid}", value=value, items=list(items))


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_cart_of_coffee_the_day_after_lists_the_filters_others_bought_with_it(
    tmp_path, backend
):
    settings = (CONFIG / "settings.yaml").read_text() + SETTINGS
    config = make_config(tmp_path, **{"settings.yaml": settings, "triggers/cart_pair.yaml": CART})
    events = []
    for n, cid in enumerate(("ada", "bob", "cy", "dee")):  # day 1: coffee with filters, 4 of them
        events += [
            customer(cid, "2027-03-01T09:00:00Z"),
            order(cid, f"2027-03-01T1{n}:00:00Z", COFFEE, FILTERS),
        ]
    events += [
        customer("moe", "2027-03-01T09:00:00Z"),
        order("moe", "2027-03-01T15:00:00Z", COFFEE, MUG),  # once: no recommendation
        customer("fay", "2027-02-01T09:00:00Z"),
        order("fay", "2027-02-01T15:00:00Z", FILTERS),  # bought filters a month ago
        # day 2, after the nightly recompute (03:00 New York): two carts of coffee
        customer("zoe", "2027-03-02T09:00:00Z"),
        cart("zoe", "2027-03-02T14:00:00Z", COFFEE),
        cart("fay", "2027-03-02T14:00:00Z", COFFEE),
    ]
    events.sort(key=lambda e: e["time"])
    with Simulation(
        config, start=parse_time("2027-01-31T00:00:00Z"), daily=True, backend=backend
    ) as sim:
        sim.run(events, until=parse_time("2027-03-02T16:00:00Z"))
        sent = {m["customer_id"]: m for m in sim.messages() if m["trigger"] == "cart_pair"}

    assert sent["zoe"]["at"] == "2027-03-02T15:01:00Z"  # 1h, plus the arbitration minute
    assert sent["zoe"]["text"].startswith(
        "Goes well with it: Paper filters x100 (4 customers); Unsubscribe:"
    )
    # Fay has filters already: nothing else was bought with coffee by enough customers
    assert sent["fay"]["text"].startswith("Goes well with it: nothing new; Unsubscribe:")
