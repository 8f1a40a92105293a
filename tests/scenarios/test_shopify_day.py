"""The sample storefront day sent the Shopify way (webhooks through the partner source, browsing
from the pixel) reaches the same decisions and messages as the native day."""

from __future__ import annotations

import json
from collections import Counter

from nudge.sim import Simulation
from nudge.sim.runner import read_events
from tests.conftest import CONFIG, EVENTS
from tests.make_shopify_day import SHOPIFY_DAY, customer_ids, read_native, render, shopify_day


def _simulate(path):
    with Simulation(CONFIG) as sim:
        sim.run(read_events(path))
        return sim.output()


def test_the_shopify_day_reaches_the_same_decisions_as_the_native_day():
    # Given the same day, native and in Shopify format, with Shopify's ids for the same customers
    ids = customer_ids(read_native())

    # When each is simulated with the sample config
    native = _simulate(EVENTS / "sample_day.jsonl")
    shopify = _simulate(SHOPIFY_DAY)

    # Then every customer went through the same (trigger, outcome, reason) steps
    def steps(out, rename=lambda c: c):
        return Counter((rename(d["customer_id"]), d["trigger"], d["outcome"], d["reason"])
                       for d in out["decisions"])  # fmt: skip

    assert steps(shopify) == steps(native, ids.get)
    assert len(native["decisions"]) > 30  # the day exercises most paths, not nothing
    # and got the same messages, on the same channels
    sent = Counter((m["customer_id"], m["trigger"], m["channel"]) for m in shopify["messages"])
    assert sent == Counter((ids[m["customer_id"]], m["trigger"], m["channel"])
                           for m in native["messages"])  # fmt: skip
    assert shopify["dead_letters"] == []
    # the refund found its customer through the order index, to the cent
    tess = ids["c-021"]
    assert shopify["profiles"][tess]["lifetime_value"] == native["profiles"]["c-021"][
        "lifetime_value"] == 460.0  # fmt: skip


def test_the_shopify_day_file_is_what_the_generator_writes():
    # events/shopify_day.jsonl is generated from events/sample_day.jsonl: regenerate it with
    # `python -m tests.make_shopify_day` after changing the native day
    assert SHOPIFY_DAY.read_text() == render(shopify_day())


def test_shopify_ids_are_kept_digit_for_digit_in_the_file():
    lines = [json.loads(line) for line in SHOPIFY_DAY.read_text().splitlines()]
    webhooks = [e for e in lines if e["detail-type"] == "shopifyWebhook"]
    pixel = [e for e in lines if e["source"] == "shop.storefront"]
    assert webhooks and pixel
    assert {e["detail-type"] for e in pixel} <= {
        "product_viewed", "page_viewed", "checkout_started", "wishlist_added", "customer_updated",
    }  # fmt: skip
    big = [e["detail"]["payload"]["id"] for e in webhooks if "id" in e["detail"]["payload"]]
    assert all(isinstance(i, int) and i > 2**53 for i in big if i > 10**15)
