"""One list of profile fields (``nudge.core.profile.PROFILE_FIELDS``, docs/reference.md#profile-fields): what the profile
view really provides, what the API answers and templates see, and what docs/config.md lists."""

from __future__ import annotations

import re

from nudge.core.clock import parse_time
from nudge.core.profile import PROFILE_FIELDS
from nudge.core.templates import known_names
from nudge.scoring.daily import SCORE_KEYS
from tests.conftest import ROOT, customer, event

# written by the daily recompute only (tests/scenarios/test_daily_recompute.py checks them)
SCORED = {*SCORE_KEYS, "scored_at"}
# in docs/reference.md#profile-fields but computed by nothing yet: present only if a source sets it
NOT_COMPUTED = {"preferred_channel"}


def test_the_view_of_a_customer_with_an_order_and_a_cart_provides_every_field(sim):
    items = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 90.0}]
    for envelope in (
        customer("ivy", "2027-01-02T10:00:00Z"),
        event("order_placed", "ivy", "2027-01-03T10:00:00Z", order_id="o-ivy", value=90.0),
        event("cart_updated", "ivy", "2027-01-04T10:00:00Z", value=90.0, items=items),
    ):
        sim.advance(parse_time(envelope["time"]))
        sim.put(envelope)

    got = sim.api("GET", "/profiles/ivy")

    assert got["status"] == 200
    assert set(got["body"]) == set(PROFILE_FIELDS) - SCORED - NOT_COMPUTED
    assert set(PROFILE_FIELDS) >= SCORED


def test_templates_see_every_profile_field():
    assert set(PROFILE_FIELDS) <= known_names()


def test_docs_list_the_same_profile_fields():
    text = (ROOT / "docs" / "config.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| profile fields |"))
    cell = row.split("|")[2]
    listed = {name.split(".")[0] for name in re.findall(r"`([^`]+)`", cell)}
    # traits are documented in their own row: templates see them flattened
    assert listed == set(PROFILE_FIELDS) - {"traits"}
