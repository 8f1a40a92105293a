"""What parse_event accepts and refuses (nudge.core.limits), and the profile byte budget."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from nudge.core.clock import parse_time
from nudge.core.events import MalformedEvent, parse_event
from nudge.core.limits import MAX_STRING, check_time
from nudge.core.profile import (
    PROFILE_BUDGET,
    apply_event,
    fit_budget,
    is_duplicate,
    new_profile,
)
from nudge.flows import ingest
from tests.conftest import ROOT, event, sample

NOW = parse_time("2027-02-10T12:00:00Z")


def _order(**properties) -> dict:
    return event("order_placed", "c-1", "2027-02-10T10:00:00Z", **properties)


def _refused(envelope: dict) -> str:
    with pytest.raises(MalformedEvent) as caught:
        parse_event(json.dumps(envelope, allow_nan=True))
    return caught.value.reason


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (float("nan"), "detail.properties.value: not a finite number"),
        (float("inf"), "detail.properties.value: not a finite number"),
        ("Infinity", "detail.properties.value: Value error, is not a finite amount"),
        ("1e400", "detail.properties.value: Value error, is more than 1,000,000,000,000"),
        (-5, "detail.properties.value: Input should be greater than or equal to 0"),
        ("twelve", "detail.properties.value: Value error, is not a decimal amount"),
        (True, "detail.properties.value: Value error, is not an amount"),
    ],
)
def test_an_order_value_that_is_not_a_sane_amount_is_refused(value, reason):
    assert _refused(_order(value=value)).startswith(reason)


def test_amounts_are_rounded_to_the_currencys_minor_unit():
    def parsed(value, currency, price):
        items = [{"product_id": "p", "price": price, "quantity": 1}]
        env = _order(value=value, currency=currency, items=items)
        return parse_event(env).properties

    usd = parsed("19.995", "usd", 0.125)
    assert (usd["value"], usd["currency"], usd["items"][0]["price"]) == (20.0, "USD", 0.12)
    jpy = parsed(1234.5, "JPY", "99.6")
    assert (jpy["value"], jpy["items"][0]["price"]) == (1234.0, 100.0)  # half to even; no yen cents
    kwd = parsed("12.3456", "KWD", 1)
    assert kwd["value"] == 12.346  # three decimals (fils)
    assert parsed(0.1, None, 0.2)["value"] == 0.1  # exact, not 0.1000000000000000055...


def test_a_refund_written_negative_counts_as_money_returned():
    env = event("order_refunded", "c-1", "2027-02-10T10:00:00Z", order_id="o-1", value=-30)
    assert parse_event(env).properties["value"] == 30.0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"currency": "dollars"}, "currency is not a three-letter ISO 4217 code"),
        ({"items": [{"product_id": "p", "quantity": 10_001}]}, "items.0.quantity"),
        ({"items": [{"product_id": "p", "quantity": -1}]}, "items.0.quantity"),
        ({"items": [{"product_id": "p"}] * 501}, "detail.properties.items"),
        ({"note": "x" * (MAX_STRING + 1)}, "detail.properties.note: 2049 characters"),
        ({"deep": [[[[[[[[["x"]]]]]]]]]}, "nested deeper than 8 levels"),
        ({"blob": ["y" * 2000] * 17}, "detail.properties: "),
        ({"count": 10**20}, "detail.properties.count: more than 2^64"),
        (
            {"order_id": "o-1\u2028evil"},
            "order_id: Value error, id holds control or line-separator characters",
        ),
        ({"order_id": "o" * 129}, "order_id: Value error, id is longer than 128 characters"),
    ],
)
def test_properties_over_a_limit_are_refused_naming_the_field(change, reason):
    assert reason in _refused(_order(**change))


def test_ids_are_normalised():
    env = _order(order_id=12345678901234567890)
    env["detail"]["customer_id"] = "  c-1\t"
    env["detail"]["event_id"] = 42
    parsed = parse_event(env)
    assert (parsed.customer_id, parsed.id) == ("c-1", "42")
    assert parsed.properties["order_id"] == "12345678901234567890"  # digit for digit


def test_a_customer_id_that_is_blank_or_an_object_is_refused():
    env = _order()
    env["detail"]["customer_id"] = "   "
    assert _refused(env) == "detail.customer_id: Value error, id is empty"
    env["detail"]["customer_id"] = {"id": 1}
    assert "id is not text or a whole number" in _refused(env)


def test_traits_nudge_reads_must_be_text():
    env = sample("customer_updated")
    env["detail"]["traits"]["email"] = ["a@x.example", "b@y.example"]
    assert _refused(env) == "detail.traits.email: not text"


def test_time_window():
    check_time(NOW + timedelta(minutes=59), NOW, 3600, None)
    with pytest.raises(MalformedEvent, match="after now"):
        check_time(NOW + timedelta(minutes=61), NOW, 3600, None)
    with pytest.raises(MalformedEvent, match="before 2000"):
        check_time(parse_time("1999-12-31T23:59:59Z"), NOW, 3600, None)
    with pytest.raises(MalformedEvent, match="max_age"):
        check_time(NOW - timedelta(days=8), NOW, 3600, 7 * 86400)


def test_a_time_at_the_edge_of_the_calendar_is_refused_not_raised():
    env = _order()
    env["time"] = "0001-01-01T00:00:00+01:00"  # out of range once turned into UTC
    assert "is not ISO 8601" in _refused(env)


def test_without_event_id_the_content_is_the_key():
    first, retry = _order(order_id="o-1", value=10), _order(order_id="o-1", value=10)
    for env in (first, retry):
        del env["detail"]["event_id"]
    retry["id"] = "a-new-envelope-id"  # what EventBridge gives a retried PutEvents
    key = parse_event(first).id
    assert re.fullmatch(r"content:[0-9a-f]{32}", key)
    assert parse_event(retry).id == key
    other = _order(order_id="o-1", value=11)
    del other["detail"]["event_id"]
    assert parse_event(other).id != key
    later = json.loads(json.dumps(first))
    later["time"] = "2027-02-10T10:00:01Z"
    assert parse_event(later).id != key


def test_the_last_receive_matches_the_queues_redrive_policy():
    template = (ROOT / "template.yaml").read_text()
    queue = template[template.index("  IngestQueue:") : template.index("  IngestDLQ:")]
    assert f"maxReceiveCount: {ingest.MAX_RECEIVES}" in queue


def test_a_profile_over_budget_loses_its_oldest_history_first():
    profile = new_profile("c-1")
    big = {"note": "z" * 2000, "more": ["w" * 2000] * 7}
    applied = []
    for n in range(200):
        env = event("wishlist_added", "c-1", "2027-02-10T10:00:00Z", **big)
        env["time"] = f"2027-02-{1 + n // 24:02d}T{n % 24:02d}:00:00Z"
        applied.append(parse_event(env))
        apply_event(profile, applied[-1], 90 * 86400, NOW)
    profile["orders"] = [{"order_id": f"o-{n}", "value": 1.0, "at": "x"} for n in range(50)]
    assert len(json.dumps(profile, separators=(",", ":"))) > 2 * PROFILE_BUDGET
    newest = profile["history"][-1]["id"]

    size = fit_budget(profile)

    assert size == len(json.dumps(profile, separators=(",", ":"))) <= PROFILE_BUDGET
    assert profile["history"][-1]["id"] == newest and len(profile["history"]) < 200
    assert len(profile["orders"]) == 50  # history was enough
    assert all(is_duplicate(profile, e) for e in applied)  # every id still remembered
