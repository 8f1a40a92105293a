"""The replenishment model on hand-made histories: each customer's own interval, the median over
buyers with 2+ orders, the minimum number of buyers, the category and configured fallbacks, and
the reminder window (lead days before the run-out date, none once bought again)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from nudge.core.replenish import PURCHASES_MAX, due_reminders, own_interval, record_purchases
from nudge.scoring.replenish import add_profile, fit_intervals, median, merge

COFFEE = {"product_id": "coffee", "name": "House coffee", "category": "coffee", "price": 24}
TEA = {"product_id": "tea", "name": "Green tea", "category": "tea", "price": 9}


def buyer(*days: str, items: list | None = None) -> dict:
    profile: dict = {}
    for i, day in enumerate(days):
        record_purchases(profile, {"order_id": i, "items": items or [COFFEE]}, f"{day}T12:00:00Z")
    return profile


def test_an_order_counts_once_per_product_and_category_and_the_map_stays_bounded():
    profile = buyer("2027-01-01", items=[COFFEE, {**COFFEE, "quantity": 2}, TEA])
    assert profile["purchases"] == {
        "p:coffee": ["2027-01-01T12:00:00Z", "2027-01-01T12:00:00Z", 1, "House coffee", "coffee"],
        "c:coffee": ["2027-01-01T12:00:00Z", "2027-01-01T12:00:00Z", 1, None, "coffee"],
        "p:tea": ["2027-01-01T12:00:00Z", "2027-01-01T12:00:00Z", 1, "Green tea", "tea"],
        "c:tea": ["2027-01-01T12:00:00Z", "2027-01-01T12:00:00Z", 1, None, "tea"],
    }
    for n in range(PURCHASES_MAX):
        record_purchases(profile, {"items": [{"product_id": f"x{n}"}]}, f"2027-02-{1 + n % 28:02d}")
    assert len(profile["purchases"]) == PURCHASES_MAX
    assert "p:coffee" not in profile["purchases"]  # the least recently bought went first


def test_own_interval_is_the_mean_gap_between_a_customers_orders_of_the_product():
    assert (
        own_interval(buyer("2027-01-01", "2027-01-29", "2027-03-02")["purchases"]["p:coffee"]) == 30
    )
    assert own_interval(buyer("2027-01-01")["purchases"]["p:coffee"]) is None


def test_the_typical_interval_is_the_median_over_buyers_with_two_orders_or_more():
    hist: dict = {}
    for days in (
        ("2027-01-01", "2027-01-29"),  # 28
        ("2027-01-01", "2027-01-31"),  # 30
        ("2027-01-01", "2027-01-31", "2027-03-02"),  # 30
        ("2027-01-01", "2027-02-05"),  # 35
        ("2027-01-01",),  # one order: no interval of their own
    ):
        add_profile(hist, buyer(*days))
    add_profile(hist, buyer("2027-01-01", "2027-01-15", items=[TEA]))  # tea: 14, one buyer
    add_profile(hist, buyer("2027-01-01", "2027-01-15", "2027-01-30", items=[TEA]))  # 14.5
    assert hist["p:coffee"] == {"28": 1, "30": 2, "35": 1}
    assert hist["p:tea"] == {"14": 2}  # whole days
    assert fit_intervals(hist, min_buyers=3) == {"c:coffee": 30.0, "p:coffee": 30.0}
    assert fit_intervals(hist, min_buyers=5) == {}  # too few buyers: the configured interval
    assert median({"10": 1, "20": 1}) == 15.0
    assert merge([{"p:a": {"3": 1}}, {"p:a": {"3": 2, "4": 1}}]) == {"p:a": {"3": 3, "4": 1}}


def reminders(profile: dict, at: str, intervals: dict, by: str = "product") -> list:
    return due_reminders(
        profile,
        intervals,
        default_days=45.0,
        lead_days=3.0,
        by=by,
        now=datetime.fromisoformat(at).replace(tzinfo=UTC),
        zone=ZoneInfo("America/New_York"),
    )


def test_the_reminder_comes_lead_days_before_the_run_out_date_and_not_after_buying_again():
    ann = buyer("2027-01-31", "2027-03-02")
    intervals = {"p:coffee": 30.0}
    assert reminders(ann, "2027-03-28T12:00:00", intervals) == []  # day 26
    [(key, props)] = reminders(ann, "2027-03-29T12:00:00", intervals)  # day 27: 3 days before
    assert key == "p:coffee@2027-03-02T12:00:00Z"
    assert props == {
        "product_id": "coffee",
        "name": "House coffee",
        "category": "coffee",
        "interval_days": 30.0,
        "last_order_at": "2027-03-02T12:00:00Z",
        "due_at": "2027-04-01T12:00:00Z",
        "lead_days": 3.0,
        "basis": "product",
    }
    assert reminders(ann, "2027-04-02T12:00:00", intervals) == []  # past the run-out date
    record_purchases(ann, {"items": [COFFEE]}, "2027-03-27T12:00:00Z")  # bought again
    assert reminders(ann, "2027-03-29T12:00:00", intervals) == []


def test_a_product_without_enough_buyers_uses_its_category_then_the_configured_interval():
    bob = buyer("2027-03-01")
    [(_, by_category)] = reminders(bob, "2027-03-19T12:00:00", {"c:coffee": 21.0})
    assert (by_category["basis"], by_category["interval_days"]) == ("category", 21.0)
    [(_, configured)] = reminders(bob, "2027-04-12T12:00:00", {})
    assert (configured["basis"], configured["due_at"]) == ("configured", "2027-04-15T12:00:00Z")
    [(key, per_category)] = reminders(bob, "2027-03-19T12:00:00", {"c:coffee": 21.0}, "category")
    assert key.startswith("c:coffee@") and "product_id" not in per_category
