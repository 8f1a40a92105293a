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


def test_since_takes_a_duration_back_from_the_end_of_the_simulation(sample_day, capsys):
    doc = json.loads(sample_day.read_text())
    mine = [d for d in doc["decisions"] if d["customer_id"] == "c-025"]
    assert doc["simulated_until"] == "2027-02-18T04:30:00Z"
    # 8 days back reaches the whole day; 7 days back (2027-02-11T04:30Z) only the next morning
    main(["explain", "c-025", "--from-file", str(sample_day), "--since", "8d"])
    out = capsys.readouterr().out
    assert all(f"{d['at']}  {d['trigger']}: {d['outcome']}" in out for d in mine)
    main(["explain", "c-025", "--from-file", str(sample_day), "--since", "170h"])
    out = capsys.readouterr().out
    later = [d for d in mine if d["at"] >= "2027-02-11T06:30:00Z"]
    earlier = [d for d in mine if d["at"] < "2027-02-11T06:30:00Z"]
    assert later and earlier
    assert all(f"{d['at']}  {d['trigger']}: {d['outcome']}" in out for d in later)
    assert not any(f"{d['at']}  {d['trigger']}: {d['outcome']}" in out for d in earlier)
    # a time works as before, with or without a clock time
    main(["explain", "c-025", "--from-file", str(sample_day), "--since", "2027-02-11"])
    assert "2027-02-10T" not in capsys.readouterr().out.split("\n", 2)[2]


def test_a_bad_since_is_an_error(sample_day, capsys):
    assert main(["explain", "c-025", "--from-file", str(sample_day), "--since", "a week"]) == 1
    assert "--since 'a week': give a duration back from now (7d, 12h" in capsys.readouterr().err


def test_an_unknown_trigger_is_an_error_with_a_did_you_mean(sample_day, capsys):
    code = main(["explain", "c-011", "--from-file", str(sample_day), "--trigger", "browse_repeat"])
    assert code == 1
    err = capsys.readouterr().err
    assert "unknown trigger 'browse_repeat'; did you mean 'browse_repeat_view'?" in err
    # a known trigger that decided nothing for them is an answer, not an error
    code = main(
        ["explain", "c-011", "--from-file", str(sample_day), "--trigger", "monthly_value_tiers"]
    )
    assert code == 0
    assert "nothing was decided by monthly_value_tiers" in capsys.readouterr().out


def test_an_unknown_customer_is_an_error_with_a_did_you_mean(sample_day, capsys):
    assert main(["explain", "c-11", "--from-file", str(sample_day)]) == 1
    assert "no customer 'c-11' in" in (err := capsys.readouterr().err)
    assert "did you mean 'c-011'?" in err


def test_explain_without_a_source_says_where_to_look(monkeypatch, capsys):
    monkeypatch.delenv("NUDGE_TABLE", raising=False)
    assert main(["explain", "c-011", "--trigger", "browse_repeat_view"]) == 1
    err = capsys.readouterr().err
    assert "--from-file FILE (a `nudge simulate` output" in err
    assert "Traceback" not in err


def test_explain_of_a_table_without_an_aws_region_says_so(monkeypatch, tmp_path, capsys):
    from nudge.aws import clients

    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("NUDGE_TABLE", raising=False)  # restored after: --table sets it
    clients.reset_clients()  # clients made with a region by earlier tests
    try:
        assert main(["explain", "c-011", "--table", "nudge-prod"]) == 1
    finally:
        monkeypatch.undo()
        clients.reset_clients()
    assert "no AWS region: set AWS_REGION" in capsys.readouterr().err


def test_explain_of_a_table_knows_the_configs_triggers(sim, capsys):
    sim.run([customer("hana", "2027-02-10T14:00:00Z")])
    code = main(["explain", "hana", "--config", str(CONFIG), "--trigger", "cart_jewelry_high"])
    assert code == 1
    assert "did you mean 'cart_jewelry_high_value'?" in capsys.readouterr().err
    code = main(
        ["explain", "hana", "--config", str(CONFIG), "--trigger", "cart_jewelry_high_value"]
    )
    assert code == 0
    assert "nothing was decided by cart_jewelry_high_value" in capsys.readouterr().out
