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
    return event(
        "order_placed", cid, at, order_id=f"{cid}-{at[:10]}", value=value, items=list(items)
    )


def cart(cid: str, at: str, *items: dict[str, Any]) -> dict[str, Any]:
    value = sum(i["price"] for i in items)
    return event("cart_updated", cid, at, cart_id=f"k-{cid}", value=value, items=list(items))


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_cart_of_coffee_the_day_after_lists_the_filters_others_bought_with_it(tmp_path, backend):
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


def _lists_after_run(config, base, **run: Any) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The stored bought-together lists after one daily run, the run's summary, and how many
    invocations it took."""
    from nudge.aws import store
    from nudge.flows import score
    from tests.scenarios.test_daily_recompute import seed

    with Simulation(config, start=parse_time("2027-03-01T00:00:00Z"), daily=False) as sim:
        seed(sim, base)
        sim.clock.set(parse_time("2027-03-02T08:00:00Z"))
        steps = 0
        while True:
            steps += 1
            result = score.run_daily(**run)
            if result["done"]:
                break
            assert result.get("resume") and steps < 80
        state = store.get_run(f"score#{result['date']}")
        assert state is not None
        lists = store.bought_together(["coffee-1kg", "filters-100", "mug", "tea"])
        return lists, state["model"]["bought_together"], steps


def test_a_recompute_stopped_half_way_finds_the_same_lists_as_one_run(tmp_path):
    settings = (CONFIG / "settings.yaml").read_text() + SETTINGS
    config = make_config(tmp_path, **{"settings.yaml": settings})
    tea = line("tea", "Green tea", 9.0)
    base = []
    for i in range(24):
        cid = f"b{i:02d}"
        base.append(customer(cid, "2027-02-01T09:00:00Z"))
        basket = [(COFFEE, FILTERS), (COFFEE, MUG), (tea, MUG)][i % 3] if i < 21 else (COFFEE,)
        base.append(order(cid, f"2027-02-{1 + i % 20:02d}T12:00:00Z", *basket))
    base.sort(key=lambda e: e["time"])

    whole, summary, one = _lists_after_run(config, base, segments=3, page_size=4)
    parts, _, many = _lists_after_run(config, base, budget=7, segments=3, page_size=4)

    assert one == 1 and many > 4  # the second run did stop and resume, many times
    assert parts == whole
    assert summary == {"customers": 24, "pairs": 3, "products": 4}
    # 7 customers each bought coffee+filters, coffee+mug, tea+mug: ties broken by lift (filters
    # are bought only with coffee; the mug also with tea), then id
    assert [(c["product_id"], c["customers"]) for c in whole["coffee-1kg"]] == [
        ("filters-100", 7),
        ("mug", 7),
    ]
    # for the mug, tea (7 buyers, all with the mug) is more specific than coffee (17 buyers)
    assert [c["product_id"] for c in whole["mug"]] == ["tea", "coffee-1kg"]
    assert whole["filters-100"][0]["name"] == "House coffee 1kg"


LINKED = """\
id: cart_pair
when: {event: cart_updated}
wait: 1h
channel: email
email:
  subject: "Your cart"
  text: "{% for p in recommendations.bought_together %}{{ p.name }} {{ p.price }} \
{{ p.url | default('-', true) }}; {% endfor %}Unsubscribe: {{ unsubscribe_url }}"
"""


def product(at: str, pid: str, **properties: Any) -> dict[str, Any]:
    env = event("product_updated", "x", at)
    del env["detail"]["customer_id"]  # about the catalog, not a customer
    env["detail"]["properties"] = {"product_id": pid, **properties}
    return env


def test_the_list_shows_what_the_catalog_knows_and_leaves_out_what_is_sold_out(tmp_path):
    settings = (CONFIG / "settings.yaml").read_text() + SETTINGS
    config = make_config(tmp_path, **{"settings.yaml": settings, "triggers/cart_pair.yaml": LINKED})
    grinder = line("grinder", "Hand grinder", 45.0)
    events = [
        product(
            "2027-03-01T08:00:00Z",
            "filters-100",
            name="Filters (100)",
            price=3.5,
            url="https://shop.example/filters",
            inventory=40,
        ),
        product("2027-03-01T08:00:00Z", "grinder", price=45.0, inventory=0),  # sold out
    ]
    for n, cid in enumerate(("ada", "bob", "cy", "dee")):
        basket = (COFFEE, FILTERS, MUG) if n < 3 else (COFFEE, FILTERS, grinder)
        extra = (grinder,) if n < 2 else ()
        events += [
            customer(cid, "2027-03-01T09:00:00Z"),
            order(cid, f"2027-03-01T1{n}:00:00Z", *basket, *extra),
        ]
    events += [customer("zoe", "2027-03-02T09:00:00Z"), cart("zoe", "2027-03-02T14:00:00Z", COFFEE)]
    events.sort(key=lambda e: e["time"])
    with Simulation(config, start=parse_time("2027-02-28T00:00:00Z"), daily=True) as sim:
        sim.run(events, until=parse_time("2027-03-02T16:00:00Z"))
        [text] = [m["text"] for m in sim.messages() if m["trigger"] == "cart_pair"]
    # filters (4 co-buyers): the catalog's name, price and link; the mug (3): what the orders
    # said, no link; the grinder (3 co-buyers) is sold out: left out
    assert text.startswith(
        "Filters (100) 3.5 https://shop.example/filters; Stoneware mug None -; Unsubscribe:"
    )


def test_a_list_rewritten_by_a_later_run_is_what_the_next_message_shows(tmp_path, monkeypatch):
    from nudge.aws import store

    settings = (CONFIG / "settings.yaml").read_text() + SETTINGS
    config = make_config(tmp_path, **{"settings.yaml": settings, "triggers/cart_pair.yaml": CART})
    reads: list[list[str]] = []
    real = store.bought_together

    def counted(products: list[str]) -> dict[str, Any]:
        reads.append(list(products))
        return real(products)

    monkeypatch.setattr(store, "bought_together", counted)
    filters = {"product_id": "filters-100", "name": "Paper filters x100", "customers": 5}
    mug = {"product_id": "mug", "name": "Stoneware mug", "customers": 8}
    with Simulation(config, start=parse_time("2027-03-02T00:00:00Z")) as sim:
        store.put_bought_together({"coffee-1kg": [filters]}, "2027-03-02")
        sim.run(
            [customer("ann", "2027-03-02T09:00:00Z"), cart("ann", "2027-03-02T10:00:00Z", COFFEE)],
            until=parse_time("2027-03-02T12:00:00Z"),
        )
        store.put_bought_together({"coffee-1kg": [mug]}, "2027-03-03")  # a later night's run
        sim.run(
            [customer("bo", "2027-03-02T12:00:00Z"), cart("bo", "2027-03-02T13:00:00Z", COFFEE)],
            until=parse_time("2027-03-02T15:00:00Z"),
        )
        sent = {m["customer_id"]: m["text"] for m in sim.messages() if m["trigger"] == "cart_pair"}
    assert sent["ann"].startswith("Goes well with it: Paper filters x100 (5 customers);")
    assert sent["bo"].startswith("Goes well with it: Stoneware mug (8 customers);")
    assert reads == [["coffee-1kg"], ["coffee-1kg"]]  # one read per message's invocation
