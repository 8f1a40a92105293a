"""`nudge report lift`'s numbers for a fixed shop, against a hand computation."""

from __future__ import annotations

import pytest

from nudge.lift.measure import NO_CONTROL, NO_LIFT, LiftInput, lift_report


def _decision(cid: str, outcome: str, reason: str | None, trigger: str = "cart") -> dict:
    return {
        "customer_id": cid,
        "trigger": trigger,
        "at": f"2027-02-1{int(cid[-1]) % 3}T10:00:00Z",
        "outcome": outcome,
        "reason": reason,
        "message_id": f"m-{trigger}-{cid}",
        "channel": "email",
    }


def _conversion(d: dict, value: str, n: int = 0) -> dict:
    return {
        "customer_id": d["customer_id"],
        "trigger": d["trigger"],
        "at": d["at"].replace("T10", "T12"),
        "outcome": "converted",
        "message_id": d["message_id"],
        "detail": {"value": value, "order_id": f"o-{d['customer_id']}-{n}"},
    }


@pytest.fixture(scope="module")
def shop() -> LiftInput:
    """Newcombe (1998)'s example as a shop: 56 of 70 treated customers bought, 48 of 80 held
    out by the trigger's control group (50%); every buyer spent 10.00 once, but two treated
    buyers ordered twice (2 x 5.00). Plus 10 customers of the global control group, 1 buyer."""
    decisions, conversions = [], []
    for k in range(70):
        d = _decision(f"t{k}", "sent", None)
        decisions.append(d)
        if k < 54:
            conversions.append(_conversion(d, "10.00"))
        elif k < 56:
            conversions += [_conversion(d, "5.00"), _conversion(d, "5.00", 1)]
    for k in range(80):
        d = _decision(f"c{k}", "held_out", "trigger")
        decisions.append(d)
        if k < 48:
            conversions.append(_conversion(d, "10.00"))
    for k in range(10):
        d = _decision(f"g{k}", "held_out", "global")
        decisions.append(d)
        if k < 1:
            conversions.append(_conversion(d, "10.00"))
    decisions.append(_decision("t0", "suppressed", "cooldown"))  # not an exposure
    return LiftInput(
        decisions=decisions,
        conversions=conversions,
        holdout={"global": 5.0, "triggers": {"cart": 50.0}},
        targets={"cart": {"kind": "trigger", "event": "cart_updated", "enabled": True}},
    )


def test_the_numbers_of_one_trigger_match_a_hand_computation(shop):
    [row] = lift_report(shop)["rows"]
    assert row["treated"] == {
        "customers": 70,
        "converters": 56,
        "conversion_rate": 0.8,
        "orders": 58,
        "revenue": 560.0,
        "revenue_per_customer": 8.0,
        "messages": 70,
    }
    assert row["control"]["customers"] == 80 and row["control"]["converters"] == 48
    assert row["control"]["revenue_per_customer"] == 6.0
    lift = row["lift"]
    # Newcombe 1998, Table II, example (a) 56/70 - 48/80, method 10: 0.0524 to 0.3339
    rate = lift["rate_difference"]
    assert rate["estimate"] == pytest.approx(0.2)
    assert (round(rate["low"], 4), round(rate["high"], 4)) == (0.0524, 0.3339)
    assert rate["method"] == "newcombe hybrid wilson"
    # relative: (0.8/0.6) - 1 = 1/3; Katz: exp(ln(4/3) +- 1.96 sqrt(1/56-1/70+1/48-1/80)) - 1
    rel = lift["relative"]
    assert rel["estimate"] == pytest.approx(1 / 3)
    assert (round(rel["low"], 4), round(rel["high"], 4)) == (0.0766, 0.6512)
    # 70 treated x 0.2 = 14 more buyers; x [0.0524, 0.3339]
    inc = lift["incremental_conversions"]
    assert inc["estimate"] == pytest.approx(14.0)
    assert (round(inc["low"], 1), round(inc["high"], 1)) == (3.7, 23.4)
    # revenue per customer 8.00 - 6.00 = 2.00, x 70 = 140.00 more revenue, 2.00 per message
    rev = lift["revenue_per_customer_difference"]
    assert rev["estimate"] == pytest.approx(2.0)
    assert rev["method"] == "bootstrap percentile (2000 resamples, seed 0)"
    # the bootstrap lands near Welch's 2.00 +- 1.96 sqrt(16/70 + 24/80) = [0.575, 3.425]
    assert rev["low"] == pytest.approx(0.575, abs=0.2)
    assert rev["high"] == pytest.approx(3.425, abs=0.2)
    assert lift["incremental_revenue"]["estimate"] == pytest.approx(140.0)
    assert lift["revenue_per_message"] == pytest.approx(8.0)
    assert lift["incremental_revenue_per_message"]["estimate"] == pytest.approx(2.0)
    # 70 vs 80 where 75/75 is expected: chi2 = 25/75 + 25/75 = 0.667, p = 0.414
    assert row["srm"]["chi2"] == pytest.approx(2 / 3)
    assert row["srm"]["p_value"] == pytest.approx(0.4142, abs=1e-4)
    assert row["srm"]["mismatch"] is False
    # MDE: (1.96 + 0.8416) sqrt(0.6 x 0.4 (1/70 + 1/80)) = 0.2246; to detect 0.2 at this
    # split: 7.849 (0.16/(70/150) + 0.24/(80/150)) / 0.04 = 155.6 -> 156, 6 more
    power = row["power"]
    assert power["mde"] == pytest.approx(0.2246, abs=1e-4)
    assert (power["customers_needed"], power["more_customers_needed"]) == (156, 6)
    assert power["under_powered"] is False and row["verdict"] == "lift"


def test_the_bootstrap_is_seeded_the_same_report_twice_is_identical(shop):
    assert lift_report(shop) == lift_report(shop)


def test_the_program_is_everyone_outside_the_global_control_group_against_it(shop):
    program = lift_report(shop)["program"]
    assert program["treated"]["customers"] == 150
    assert program["treated"]["converters"] == 104
    assert (program["control"]["customers"], program["control"]["converters"]) == (10, 1)
    assert program["power"]["under_powered"] is True
    assert "control has 10 customer(s), fewer than 30" in program["power"]["why"]
    # 5% expected of 160 is 8: 10 is no mismatch
    assert program["srm"]["expected_control_share"] == 0.05
    assert program["srm"]["mismatch"] is False


def test_a_lopsided_split_is_flagged_as_a_sample_ratio_mismatch(shop):
    data = LiftInput(
        shop.decisions,
        shop.conversions,
        {"global": 5.0, "triggers": {"cart": 10.0}},  # 80 of 150 in control, 10% configured
    )
    srm = lift_report(data)["rows"][0]["srm"]
    assert srm["mismatch"] is True and srm["p_value"] < 0.001


def test_the_period_and_the_trigger_filter_who_is_counted(shop):
    days = lift_report(shop, since="2027-02-11T00:00:00Z", until="2027-02-12T00:00:00Z")
    [row] = days["rows"]
    n_t = sum(1 for k in range(70) if k % 10 % 3 == 1)
    n_c = sum(1 for k in range(80) if k % 10 % 3 == 1)
    assert (row["treated"]["customers"], row["control"]["customers"]) == (n_t, n_c)
    assert lift_report(shop, only="nope")["rows"] == []


def test_no_control_group_is_said_not_measured():
    d = _decision("t1", "sent", None)
    report = lift_report(LiftInput([d], [_conversion(d, "5.00")]))
    [row] = report["rows"]
    assert row["verdict"] == NO_CONTROL
    assert row["lift"]["rate_difference"] is None


def test_equal_groups_say_no_detectable_lift_and_size_nothing():
    decisions = [_decision(f"t{k}", "sent", None) for k in range(40)]
    decisions += [_decision(f"c{k}", "held_out", "trigger") for k in range(40)]
    conversions = [_conversion(d, "10.00") for d in decisions if int(d["customer_id"][1:]) < 8]
    [row] = lift_report(LiftInput(decisions, conversions))["rows"]
    assert row["verdict"] == NO_LIFT
    assert row["lift"]["rate_difference"]["estimate"] == 0.0
    assert row["power"]["under_powered"] is True
    assert row["power"]["customers_needed"] is None


def test_split_variants_are_measured_apart():
    decisions = []
    for variant in (0, 1):
        for k in range(4):
            d = _decision(f"v{variant}t{k}", "sent", None)
            decisions.append({**d, "variant": variant})
            c = _decision(f"v{variant}c{k}", "held_out", "trigger")
            decisions.append({**c, "variant": variant})
    rows = lift_report(LiftInput(decisions, []))["rows"]
    assert [(r["id"], r["variant"], r["treated"]["customers"]) for r in rows] == [
        ("cart", 0, 4),
        ("cart", 1, 4),
    ]
