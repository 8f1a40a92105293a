"""`nudge explain` answers for every customer of the sample day, from a simulation file and
from the table itself."""

from __future__ import annotations

import json
from argparse import Namespace

import pytest

from nudge.cli import main
from nudge.explain import explain_command
from tests.conftest import CONFIG, EVENTS, customer, event


@pytest.fixture(scope="module")
def sample_day(tmp_path_factory):
    out = tmp_path_factory.mktemp("day") / "day.json"
    code = main(
        [
            "simulate",
            "--config",
            str(CONFIG),
            "--events",
            str(EVENTS / "sample_day.jsonl"),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_explain_answers_for_every_customer_of_the_sample_day(sample_day, capsys):
    doc = json.loads(sample_day.read_text())
    customers = sorted(
        {
            json.loads(line)["detail"]["customer_id"]
            for line in (EVENTS / "sample_day.jsonl").read_text().splitlines()
        }
    )
    assert len(customers) >= 30
    for cid in customers:
        assert main(["explain", cid, "--from-file", str(sample_day)]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"Customer {cid}")
        mine = [d for d in doc["decisions"] if d["customer_id"] == cid]
        if mine:
            for decision in mine:
                assert (
                    f"{decision['at']}  {decision['trigger'] or '-'}: {decision['outcome']}" in out
                )
        else:
            assert "nothing was decided" in out


def test_explain_says_why_a_cart_reminder_was_cancelled(sample_day, capsys):
    main(["explain", "c-004", "--from-file", str(sample_day)])
    out = capsys.readouterr().out
    assert "cart_jewelry_high_value: scheduled" in out
    assert "cart_jewelry_high_value: cancelled" in out
    assert 'cancelled_by = "order_placed"' in out


def test_explain_of_an_unknown_customer_fails(sample_day, capsys):
    assert main(["explain", "nobody", "--from-file", str(sample_day)]) == 1


def test_explain_reads_a_deployed_table(sim, capsys):
    sim.run(
        [
            customer("hana", "2027-02-10T14:00:00Z", sms_ok=False),
            event("page_viewed", "hana", "2027-02-10T15:00:00Z", path="/pages/delivery"),
        ]
    )
    args = Namespace(customer_id="hana", trigger=None, since=None, from_file=None, table=None)
    assert explain_command(args) == 0
    out = capsys.readouterr().out
    assert "last_minute_delivery: suppressed (no_consent" in out
    assert "consent.sms = false" in out


def test_outcomes_are_counted_by_reason_as_cloudwatch_metrics(sim, monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    sim.run(
        [
            customer("ines", "2027-02-10T14:00:00Z", sms_ok=False),
            event("page_viewed", "ines", "2027-02-10T15:00:00Z", path="/pages/delivery"),
            customer("joel", "2027-02-10T14:00:00Z"),
            event("page_viewed", "joel", "2027-02-10T15:00:00Z", path="/pages/delivery"),
        ]
    )
    emitted = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]
    counted = {(m["outcome"], m["reason"]): m["Decisions"] for m in emitted}
    assert counted[("suppressed", "no_consent")] == [1.0]
    assert counted[("sent", "none")] == [1.0]
    assert all(m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "nudge" for m in emitted)
