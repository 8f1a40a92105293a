"""Catalog events: a restock of a viewed product reaches its viewers once; a price drop reaches
only those who viewed it at a higher price; Shopify's products/update and
inventory_levels/update (as published) drive the same."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nudge.core.clock import parse_time
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event, make_config
from tests.partners import published, shopify

SETTINGS = "\ncatalog: {window: 30d, max_fanout: 1000}\n"
RESTOCK = """\
id: restock
when: {event: back_in_stock}
channel: email
email:
  subject: "{{ event.properties.name | default('It') }} is back"
  text: "Back in stock. Unsubscribe: {{ unsubscribe_url }}"
"""
CHEAPER = """\
id: cheaper
when: {event: price_dropped}
channel: email
email:
  subject: "Now {{ event.properties.price }} instead of {{ event.properties.previous_price }}"
  text: "It got cheaper. Unsubscribe: {{ unsubscribe_url }}"
"""


def catalog_config(tmp_path) -> Any:
    settings = (CONFIG / "settings.yaml").read_text() + SETTINGS
    return make_config(
        tmp_path,
        **{
            "settings.yaml": settings,
            "triggers/restock.yaml": RESTOCK,
            "triggers/cheaper.yaml": CHEAPER,
        },
    )


def product(at: str, **properties: Any) -> dict[str, Any]:
    env = event("product_updated", "x", at)
    del env["detail"]["customer_id"]  # about the catalog, not a customer
    env["detail"]["properties"] = {"product_id": "p-101", "name": "Pendant", **properties}
    return env


def view(cid: str, at: str, price: float) -> dict[str, Any]:
    return event("product_viewed", cid, at, product_id="p-101", price=price)


def news(sim: Simulation) -> list[tuple[str, str, str]]:
    return sorted(
        (d["customer_id"], d["trigger"], d["at"][:10])
        for d in sim.decisions()
        if d["trigger"] in ("restock", "cheaper") and d["outcome"] == "sent"
    )


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_restock_reaches_its_recent_viewers_once_and_a_price_drop_only_higher_price_viewers(
    tmp_path, backend
):
    people = [customer(c, "2027-01-01T09:00:00Z") for c in ("ann", "bea", "cat", "eve")]
    events = [
        *people,
        view("cat", "2027-01-10T10:00:00Z", 185.0),  # too long ago by March
        product("2027-03-01T09:00:00Z", price=185.0, inventory=0),  # sold out
        view("ann", "2027-03-01T10:00:00Z", 185.0),
        view("eve", "2027-03-02T10:00:00Z", 185.0),
        product("2027-03-05T12:00:00Z", inventory=5),  # restock
        product("2027-03-05T12:01:00Z", inventory=5),  # the same news again
        product("2027-03-06T12:00:00Z", inventory=0),  # sold out again...
        product("2027-03-07T12:00:00Z", inventory=3),  # ...and back: no second news per view
        product("2027-03-08T12:00:00Z", price=160.0),  # cheaper than ann and eve saw
        view("bea", "2027-03-09T10:00:00Z", 160.0),
        product("2027-03-10T12:00:00Z", price=170.0),  # dearer: nothing
        product("2027-03-11T12:00:00Z", price=160.0),  # 160 again: nobody twice
        product("2027-03-12T12:00:00Z", price=140.0),  # cheaper than everyone saw
    ]
    config = catalog_config(tmp_path)
    with Simulation(config, start=parse_time("2027-01-01T00:00:00Z"), backend=backend) as sim:
        sim.run(events, until=parse_time("2027-03-13T00:00:00Z"))
        got = news(sim)
        subjects = sorted(m["subject"] for m in sim.messages() if m["customer_id"] == "bea")

    assert got == [
        ("ann", "cheaper", "2027-03-08"),
        ("ann", "cheaper", "2027-03-12"),
        ("ann", "restock", "2027-03-05"),
        ("bea", "cheaper", "2027-03-12"),
        ("eve", "cheaper", "2027-03-08"),
        ("eve", "cheaper", "2027-03-12"),
        ("eve", "restock", "2027-03-05"),
    ]
    assert subjects == ["Now 140.0 instead of 160.0"]


def test_shopify_products_update_and_inventory_levels_update_as_published(tmp_path):
    body = published("2026-04/products/update")
    pid = str(body["id"])
    sold_out = copy.deepcopy(body)
    for n, variant in enumerate(sold_out["variants"]):
        variant["inventory_item_id"] = 4100 + n
        variant["inventory_quantity"] = 0
    level = published("2024-04/inventory_levels/update")
    untracked = copy.deepcopy(level)  # as published: available null (inventory not tracked)
    restocked = {**copy.deepcopy(level), "inventory_item_id": 4101, "available": 7}
    events = [
        customer("ann", "2027-03-01T09:00:00Z"),
        shopify(
            "products/update", body, "2027-03-01T10:00:00Z", sample_name="shopify_orders_create"
        ),
        shopify(
            "products/update",
            sold_out,
            "2027-03-02T10:00:00Z",
            key="out",
            sample_name="shopify_orders_create",
        ),
        event("product_viewed", "ann", "2027-03-02T11:00:00Z", product_id=pid, price=19.99),
        shopify(
            "inventory_levels/update",
            untracked,
            "2027-03-03T10:00:00Z",
            sample_name="shopify_orders_create",
        ),
        shopify(
            "inventory_levels/update",
            restocked,
            "2027-03-04T10:00:00Z",
            key="in",
            sample_name="shopify_orders_create",
        ),
    ]
    with Simulation(catalog_config(tmp_path), start=parse_time("2027-03-01T00:00:00Z")) as sim:
        sim.run(events, until=parse_time("2027-03-05T00:00:00Z"))
        got = news(sim)
        sent = [m for m in sim.messages() if m["trigger"] == "restock"]
    assert got == [("ann", "restock", "2027-03-04")]
    assert sent[0]["subject"] == "Example T-Shirt is back"


SUGGEST = """\
id: suggest
when: {event: page_viewed}
channel: email
email:
  subject: "Still looking?"
  text: "{% for p in recommendations.recently_viewed %}{{ p.name }} ({{ p.price }}); {% endfor %}\
Unsubscribe: {{ unsubscribe_url }}"
"""


def test_templates_list_recently_viewed_products_newest_first_without_those_bought_since(
    tmp_path,
):
    config = make_config(tmp_path, **{"triggers/suggest.yaml": SUGGEST})

    def seen(pid: str, name: str, at: str, price: float) -> dict[str, Any]:
        return event("product_viewed", "ann", at, product_id=pid, name=name, price=price)

    bought = event(
        "order_placed",
        "ann",
        "2027-03-01T10:30:00Z",
        order_id="o-1",
        value=40.0,
        items=[{"product_id": "p-2", "name": "Candle", "price": 40.0, "quantity": 1}],
    )
    events = [
        customer("ann", "2027-03-01T09:00:00Z"),
        seen("p-1", "Pendant", "2027-03-01T10:00:00Z", 185.0),
        seen("p-2", "Candle", "2027-03-01T10:05:00Z", 40.0),
        seen("p-1", "Pendant", "2027-03-01T10:10:00Z", 185.0),
        seen("p-3", "Perfume", "2027-03-01T10:15:00Z", 95.0),
        bought,
        event("page_viewed", "ann", "2027-03-01T11:00:00Z"),
    ]
    with Simulation(config, start=parse_time("2027-03-01T00:00:00Z")) as sim:
        sim.run(events, until=parse_time("2027-03-01T12:00:00Z"))
        [text] = [m["text"] for m in sim.messages() if m["trigger"] == "suggest"]
    assert text.startswith("Perfume (95.0); Pendant (185.0); Unsubscribe:")


def test_an_erased_customer_no_longer_watches_and_hears_of_no_restock(tmp_path):
    from nudge.aws import store
    from nudge.flows import privacy

    events = [
        customer("ann", "2027-03-01T09:00:00Z"),
        customer("eve", "2027-03-01T09:00:00Z"),
        product("2027-03-01T09:30:00Z", price=185.0, inventory=0),
        view("ann", "2027-03-01T10:00:00Z", 185.0),
        view("eve", "2027-03-01T10:05:00Z", 185.0),
    ]
    with Simulation(catalog_config(tmp_path), start=parse_time("2027-03-01T00:00:00Z")) as sim:
        sim.run(events, until=parse_time("2027-03-01T11:00:00Z"))
        assert {w["customer_id"] for w in store.watchers("p-101", 10)} == {"ann", "eve"}
        assert privacy.erase_customer("ann") is not None
        assert [w["customer_id"] for w in store.watchers("p-101", 10)] == ["eve"]
        sim.run(
            [product("2027-03-02T12:00:00Z", inventory=5)], until=parse_time("2027-03-03T00:00:00Z")
        )
        assert news(sim) == [("eve", "restock", "2027-03-02")]
