"""settings.sources matches partner sources by prefix; merging an anonymous visitor moves
behaviour, never identity or consent."""

from __future__ import annotations

import pytest

from nudge.core.events import MalformedEvent, parse_event
from nudge.core.profile import merge_profile, new_profile, now_utc, remembers
from tests.conftest import event

SOURCES = ["shop.storefront", "aws.partner/shopify.com", "aws.partner/segment.com/"]


def _from(source: str) -> dict:
    env = event("page_viewed", "c-1", "2027-02-10T10:00:00Z", path="/")
    env["source"] = source
    return env


@pytest.mark.parametrize(
    "source",
    [
        "shop.storefront",
        "aws.partner/shopify.com/7183745/nudge-rose",
        "aws.partner/segment.com/qN4ZsT8vHk2YmB6cRx1Wd9",
    ],
)
def test_listed_sources_and_the_partner_sources_under_a_prefix_are_accepted(source):
    assert parse_event(_from(source), SOURCES).source == source


@pytest.mark.parametrize(
    "source",
    [
        "shop.storefront2",
        "aws.partner/shopify.community/1/x",
        "aws.partner",
        "evil/shop.storefront",
    ],
)
def test_a_prefix_matches_whole_path_segments_only(source):
    with pytest.raises(MalformedEvent, match=r"not in settings\.sources"):
        parse_event(_from(source), SOURCES)


def test_no_sources_list_accepts_any_source_but_nudges_own():
    assert parse_event(_from("anything.else"), None).source == "anything.else"
    with pytest.raises(MalformedEvent, match="nudge's own"):
        parse_event(_from("nudge"), None)


def test_aliases_are_carried_through_parse_event():
    env = event("customer_updated", "c-1", "2027-02-10T10:00:00Z", traits={"email": "a@x"})
    env["detail"]["aliases"] = ["anon:abc", "c-1"]
    parsed = parse_event(env)
    assert parsed.aliases == ["anon:abc"]  # never the customer itself
    assert parsed.to_envelope()["detail"]["aliases"] == ["anon:abc"]


def _anon() -> dict:
    anon = new_profile("anon:abc")
    anon.update(
        {
            "email": "someone@else.example",
            "traits": {"email": "someone@else.example"},
            "consent": {"email": True, "sms": True},
            "last_seen_at": "2027-02-10T11:00:00Z",
            "history": [
                {"type": "product_viewed", "ts": 100.0, "id": "v1", "properties": {}},
                {"type": "product_viewed", "ts": 300.0, "id": "v3", "properties": {}},
            ],
            "seen": ["v1", "v3"],
            "cart": {
                "value": 50.0,
                "items": [{"product_id": "p"}],
                "updated_at": "2027-02-10T11:00:00Z",
            },
            "orders": [{"order_id": "o-9", "value": 30.0, "at": "2027-02-10T10:30:00Z"}],
            "orders_count": 1,
            "lifetime_value": 30.0,
        }
    )
    return anon


def test_merge_moves_history_cart_and_orders_but_never_consent_or_contact():
    kim = new_profile("kim")
    kim.update(
        {
            "email": "kim@x",
            "consent": {"email": False},
            "history": [{"type": "page_viewed", "ts": 200.0, "id": "p2", "properties": {}}],
            "seen": ["p2"],
            "last_seen_at": "2027-02-10T09:00:00Z",
        }
    )

    now = now_utc(1000.0)  # history is kept for history_seconds before now
    merge_profile(kim, _anon(), history_seconds=10**6, now=now)
    merge_profile(kim, _anon(), history_seconds=10**6, now=now)  # twice changes nothing more

    assert [h["id"] for h in kim["history"]] == ["v1", "p2", "v3"]
    assert all(remembers(kim, i) for i in ["p2", "v1", "v3"])  # redelivered: duplicates
    assert not remembers(kim, "v2")
    assert kim["cart"]["value"] == 50.0 and kim["last_seen_at"] == "2027-02-10T11:00:00Z"
    assert kim["orders_count"] == 1 and kim["lifetime_value"] == 30.0
    assert kim["email"] == "kim@x" and kim["consent"] == {"email": False} and kim["traits"] == {}


def test_merge_folds_what_was_bought_and_milestones_reached_once():
    """A guest who bought coffee, then signs in as a customer who bought it before: the
    re-order interval sees both orders, and a milestone the guest reached is not reached again."""
    kim = new_profile("kim")
    kim.update(
        {
            "orders": [{"order_id": "o-1", "value": 20.0, "at": "2027-01-10T10:00:00Z"}],
            "orders_count": 1,
            "lifetime_value": 20.0,
            "purchases": {
                "p:coffee": ["2027-01-10T10:00:00Z", "2027-01-10T10:00:00Z", 1, "Coffee", "c"],
                "c:c": ["2027-01-10T10:00:00Z", "2027-01-10T10:00:00Z", 1, None, "c"],
            },
            "milestones": {"first_order": 1, "big_spender": 0},
        }
    )
    anon = _anon()
    anon["purchases"] = {
        "p:coffee": ["2027-02-10T10:30:00Z", "2027-02-10T10:30:00Z", 1, "Coffee beans", "c"],
        "p:filter": ["2027-02-10T10:30:00Z", "2027-02-10T10:30:00Z", 1, "Filters", None],
    }
    anon["milestones"] = {"first_order": 1, "big_spender": 1, "loyal": 0}

    now = now_utc(1000.0)
    merge_profile(kim, anon, history_seconds=10**6, now=now)
    merge_profile(kim, anon, history_seconds=10**6, now=now)  # twice changes nothing more

    assert kim["orders_count"] == 2
    assert kim["purchases"]["p:coffee"] == [
        "2027-01-10T10:00:00Z",
        "2027-02-10T10:30:00Z",
        2,
        "Coffee",
        "c",
    ]
    assert kim["purchases"]["p:filter"][2] == 1 and kim["purchases"]["c:c"][2] == 1
    assert kim["milestones"] == {"first_order": 1, "big_spender": 1, "loyal": 0}
