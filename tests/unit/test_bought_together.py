"""Frequently bought together on hand-made baskets: pairs bought in one order by enough customers
are recommended, a single co-occurrence is not, the ranking and its ties are deterministic, the
counts stay bounded, and a customer is never recommended what they bought or have in the cart."""

from __future__ import annotations

import json
import zlib

import pytest

from nudge.core.replenish import record_purchases
from nudge.core.together import anchors, bought_together
from nudge.scoring import together
from nudge.scoring.together import add_profile, baskets, empty, fit, merge, parts


def item(pid: str, name: str | None = None) -> dict:
    return {"product_id": pid, "name": name or pid.title(), "category": "c", "price": 10}


COFFEE, FILTERS, MUG, TEA = item("coffee"), item("filters"), item("mug"), item("tea")


def shopper(*orders: list[dict]) -> dict:
    """A profile whose orders are ``orders`` (one a day in January), as ingest records them."""
    profile: dict = {}
    for n, lines in enumerate(orders):
        when = f"2027-01-{n + 1:02d}T12:00:00Z"
        record_purchases(profile, {"order_id": f"o{n}", "items": lines}, when)
    return profile


def counted(*profiles: dict) -> dict:
    counts = empty()
    for profile in profiles:
        add_profile(counts, profile)
    return counts


def test_products_of_one_order_are_a_basket_and_orders_of_one_product_are_not():
    profile = shopper([COFFEE, FILTERS], [TEA], [COFFEE, MUG])
    # coffee: first in order 1, last in order 3; filters only in 1; mug only in 3; tea alone
    assert baskets(profile["purchases"]) == [["coffee", "filters"], ["coffee", "mug"]]


def test_coffee_and_filters_bought_together_by_many_customers_are_recommended_both_ways():
    counts = counted(*(shopper([COFFEE, FILTERS]) for _ in range(4)), shopper([COFFEE]))
    lists = fit(counts, top=5, min_customers=3)
    assert [c["product_id"] for c in lists["coffee"]] == ["filters"]
    assert [c["product_id"] for c in lists["filters"]] == ["coffee"]
    assert lists["coffee"][0]["customers"] == 4
    assert lists["coffee"][0]["name"] == "Filters"
    # lift: 4 co-buyers x 5 customers / (5 coffee buyers x 4 filter buyers)
    assert lists["coffee"][0]["lift"] == 1.0


def test_a_pair_below_the_minimum_support_is_not_recommended():
    counts = counted(
        shopper([COFFEE, MUG]),  # one basket: a coincidence
        *(shopper([COFFEE, FILTERS]) for _ in range(3)),
    )
    lists = fit(counts, top=5, min_customers=3)
    assert [c["product_id"] for c in lists["coffee"]] == ["filters"]
    assert "mug" not in lists


def test_one_customer_buying_the_pair_every_week_is_still_one_customer():
    regular = shopper(*([COFFEE, MUG] for _ in range(10)))
    counts = counted(regular, shopper([COFFEE, MUG]))
    assert counts["p"] == {"coffee": {"mug": 2}}
    assert fit(counts, top=5, min_customers=3) == {}


def test_companions_are_ranked_by_co_buyers_then_lift_then_id_and_cut_to_top():
    people = [
        *(shopper([COFFEE, FILTERS]) for _ in range(5)),  # filters: 5 co-buyers
        *(shopper([COFFEE, MUG]) for _ in range(3)),  # mug: 3 co-buyers, bought only with coffee
        *(shopper([COFFEE, TEA]) for _ in range(3)),  # tea: 3 co-buyers, also bought alone...
        *(shopper([TEA]) for _ in range(3)),  # ...so its lift with coffee is lower than mug's
        *(shopper([COFFEE, item("zest")]) for _ in range(3)),  # zest: same as mug, id after
    ]
    lists = fit(counted(*people), top=3, min_customers=3)
    assert [c["product_id"] for c in lists["coffee"]] == ["filters", "mug", "zest"]
    # the same counts in another order give the same lists
    assert fit(counted(*reversed(people)), top=3, min_customers=3) == lists


def test_counts_are_bounded_and_survive_chunking(monkeypatch):
    monkeypatch.setattr(together, "MAX_PAIRS", 40)
    monkeypatch.setattr(together, "ENTRIES_PER_CHUNK", 7)
    people = [shopper([COFFEE, FILTERS]) for _ in range(6)]
    people += [shopper([item(f"a{n}"), item(f"b{n}")]) for n in range(60)]  # 60 one-off pairs
    counts = counted(*people)
    assert counts["np"] <= 40
    assert counts["p"]["coffee"]["filters"] == 6  # the frequent pair is kept, and exact
    pieces = parts(counts)
    assert len(pieces) > 1
    stored = [json.loads(zlib.decompress(zlib.compress(json.dumps(p).encode()))) for p in pieces]
    again = merge(stored)
    assert (again["n"], again["i"], again["p"]) == (counts["n"], counts["i"], counts["p"])
    assert fit(again, 5, 3) == fit(counts, 5, 3)


def test_a_huge_order_counts_only_its_first_products(monkeypatch):
    monkeypatch.setattr(together, "BASKET_MAX", 3)
    profile = shopper([item(f"p{n}") for n in range(10)])
    assert baskets(profile["purchases"]) == [["p0", "p1", "p2"]]


TABLE = {
    "coffee": [
        {"product_id": "filters", "name": "Filters", "customers": 9},
        {"product_id": "mug", "name": "Mug", "customers": 4},
        {"product_id": "grinder", "name": "Grinder", "customers": 3},
    ],
    "tea": [
        {"product_id": "mug", "name": "Mug", "customers": 6},
        {"product_id": "honey", "name": "Honey", "customers": 5},
    ],
}


def names(found: list[dict]) -> list[str]:
    return [p["product_id"] for p in found]


def test_the_customers_own_purchases_and_cart_are_left_out():
    view = {
        "purchases": shopper([item("filters")])["purchases"],
        "cart": {"items": [{"product_id": "coffee"}, {"product_id": "grinder"}]},
    }
    about = anchors(view, {"properties": {"items": [{"product_id": "coffee"}]}})
    assert about == ["coffee"]
    found = bought_together(view, about, TABLE, show=4)
    assert names(found) == ["mug"]  # not filters (bought), not grinder (in the cart)
    assert found[0] == {
        "product_id": "mug",
        "name": "Mug",
        "category": None,
        "price": None,
        "currency": None,
        "url": None,
        "image_url": None,
        "customers": 4,
    }


def test_several_products_merge_their_lists_each_product_once_and_bounded():
    found = bought_together({}, ["coffee", "tea"], TABLE, show=3)
    # mug: 4 + 6 co-buyers; filters 9; honey 5
    assert names(found) == ["mug", "filters", "honey"]
    assert found[0]["customers"] == 10
    assert names(bought_together({}, ["coffee", "tea"], TABLE, show=1)) == ["mug"]


@pytest.mark.parametrize(
    ("view", "event", "expected"),
    [
        ({}, {"properties": {"items": [{"product_id": "tea"}, {"product_id": "tea"}]}}, ["tea"]),
        ({}, {"properties": {"product_id": "coffee"}}, ["coffee"]),
        ({"cart": {"items": [{"product_id": "mug"}]}}, {"properties": {}}, ["mug"]),
        ({"purchases": shopper([TEA], [COFFEE, MUG])["purchases"]}, None, ["coffee", "mug"]),
        (
            {
                "history": [
                    {
                        "type": "product_viewed",
                        "ts": 1.8e9,
                        "properties": {"product_id": "honey"},
                    }
                ]
            },
            None,
            ["honey"],
        ),
        ({}, None, []),
    ],
    ids=["event lines", "event product", "cart", "last order", "viewed", "nothing"],
)
def test_a_message_is_about_its_event_else_the_cart_else_the_last_order_else_views(
    view, event, expected
):
    assert anchors(view, event) == expected


SHOWS = """\
id: cart_pair
when: {event: cart_updated}
channel: email
email:
  subject: "Your cart"
  text: "{% for p in recommendations.bought_together %}{{ p.NAME }} {{ p.price }}; {% endfor %}\
{{ unsubscribe_url }}"
"""
ON = "\nrecommendations: {bought_together: {top: 5, min_customers: 3}}\n"


def _validate(tmp_path, template_field: str, settings: str, capsys) -> tuple[int, str]:
    from nudge.cli import main
    from tests.conftest import CONFIG, make_config

    config = make_config(
        tmp_path,
        **{
            "settings.yaml": (CONFIG / "settings.yaml").read_text() + settings,
            "triggers/cart_pair.yaml": SHOWS.replace("NAME", template_field),
        },
    )
    code = main(["validate", str(config)])
    return code, capsys.readouterr().out


def test_validate_knows_bought_together_and_its_fields(tmp_path, capsys):
    code, out = _validate(tmp_path, "name", ON, capsys)
    assert code == 0, out


def test_validate_catches_a_typo_in_a_bought_together_field_with_a_hint(tmp_path, capsys):
    code, out = _validate(tmp_path, "nme", ON, capsys)
    assert code == 1
    assert "recommendations.bought_together[].nme" in out
    assert "did you mean 'recommendations.bought_together[].name'?" in out


def test_validate_says_bought_together_needs_its_setting(tmp_path, capsys):
    code, out = _validate(tmp_path, "name", "", capsys)
    assert code == 1
    assert "settings.recommendations.bought_together is not set" in out
