"""`nudge test`: the sample config's scenario files pass through the CLI entry point, a wrong
expectation fails with expected-vs-actual per customer, `--update` writes what happened for review,
and `--junit` writes what CI reads."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from nudge.cli import main
from nudge.config import load_config
from nudge.sim.scenario import find_scenarios, format_offset, load_scenarios, parse_offset
from tests.conftest import CONFIG

SCENARIOS = CONFIG / "tests"

WRONG = """\
name: the reminder is expected half an hour too early
start: 2027-02-10T09:00:00-05:00
customers:
  c-1: {first_name: Ava, email: ava@mail.example, consent: {email: true}}
events:
  - {at: +0m, customer: c-1, type: cart_updated, properties: {value: 180, checkout_url: "https://rose.example/checkout/c-1", items: [{product_id: p-1, name: Heart Pendant, category: jewelry, price: 180, quantity: 1}]}}
expect:
  - {customer: c-1, trigger: cart_jewelry_high_value, outcome: sent, at: +30m, channel: email}
  - {customer: c-1, outcome: not_sent, channel: sms}
"""


def test_the_sample_scenarios_pass_and_junit_counts_them(tmp_path, capsys):
    junit = tmp_path / "junit.xml"

    code = main(["test", str(SCENARIOS), "--junit", str(junit)])

    out = capsys.readouterr().out
    assert code == 0, out
    suite = ET.parse(junit).getroot()
    played = sum(len(load_scenarios(p)) for p in find_scenarios([str(SCENARIOS)]))
    assert suite.get("tests") == str(played) and played >= 8
    assert suite.get("failures") == "0"
    assert out.count("\nok    ") + out.startswith("ok    ") == played


def test_every_sample_trigger_and_campaign_has_a_scenario():
    config = load_config(str(CONFIG))
    named = {
        e.trigger
        for path in find_scenarios([str(SCENARIOS)])
        for s in load_scenarios(path)
        for e in s.expectations
        if e.outcome == "sent" and e.count != 0
    }
    # a trigger shipped switched off (cart_rescue, the journey: tests/scenarios/test_journeys.py)
    # sends nothing as the sample stands, so no scenario of the sample can expect it to
    enabled = {t for t, ct in config.triggers.items() if ct.model.enabled}
    assert enabled | set(config.campaigns) <= named
    assert "cart_rescue" not in enabled


def test_a_wrong_expectation_fails_with_the_timeline_per_customer(tmp_path, capsys):
    path = tmp_path / "wrong.yaml"
    path.write_text(WRONG)
    junit = tmp_path / "junit.xml"

    code = main(["test", str(path), "--config", str(CONFIG), "--junit", str(junit)])

    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and "customer c-1:" in out
    lines = out.splitlines()
    expected = next(line for line in lines if "+30m ±1m" in line)
    assert expected.strip().startswith("FAIL") and "no decision matched" in expected
    assert any(line.strip().startswith("ok   not_sent") for line in lines)  # the SMS one held
    # what happened, relative to the start: scheduled at once, sent after the hour's wait
    actual = lines[lines.index("    actual:") + 1 :]
    assert actual[0].split()[:3] == ["+0m", "cart_jewelry_high_value", "scheduled"]
    assert actual[1].split()[:4] == ["+1h1m", "cart_jewelry_high_value", "sent", "email"]
    assert "Heart Pendant is waiting" in actual[1]
    failure = ET.parse(junit).getroot().find("testcase/failure")
    assert failure is not None and "+1h1m" in (failure.text or "")


def test_update_writes_what_happened_beside_the_file_and_it_passes_as_a_scenario(tmp_path, capsys):
    path = tmp_path / "wrong.yaml"
    path.write_text(WRONG)

    assert main(["test", str(path), "--config", str(CONFIG), "--update"]) == 1

    actual = tmp_path / "wrong.actual.yaml"
    assert path.read_text() == WRONG  # the reviewed file is left alone
    written = load_scenarios(actual, CONFIG)[0]
    rows = [
        (e.trigger, e.outcome, format_offset(e.at - written.start)) for e in written.expectations
    ]
    assert ("cart_jewelry_high_value", "sent", "+1h1m") in rows
    capsys.readouterr()
    assert main(["test", str(actual), "--config", str(CONFIG)]) == 0
    # a folder run leaves *.actual.yaml files out
    assert find_scenarios([str(tmp_path)]) == [path]


def test_the_moto_backend_runs_the_same_scenarios(capsys):
    code = main(["test", str(SCENARIOS / "cart_jewelry_high_value.yaml"), "--backend", "moto"])
    assert code == 0, capsys.readouterr().out


def test_an_unreadable_scenario_is_reported_not_raised(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: x\nstart: 2027-02-10T09:00:00Z\nexpect:\n  - {customer: c-1, when: +1h}\n"
    )

    assert main(["test", str(path), "--config", str(CONFIG)]) == 1

    out = capsys.readouterr().out
    assert "expect[1]: unknown key(s) when" in out


@pytest.mark.parametrize(
    ("text", "minutes"), [("+0m", 0), ("+1h1m", 61), ("+2d", 2880), ("-30m", -30), ("+1h 30m", 90)]
)
def test_relative_times(text, minutes):
    delta = parse_offset(text)
    assert delta.total_seconds() == minutes * 60
    assert parse_offset(format_offset(delta)) == delta


def test_the_documented_scenario_passes_as_written(tmp_path, capsys):
    import re

    from tests.conftest import ROOT

    text = (ROOT / "docs" / "testing-rules.md").read_text()
    path = tmp_path / "documented.yaml"
    path.write_text(re.findall(r"```yaml\n(.*?)```", text, flags=re.S)[0])

    assert main(["test", str(path), "--config", str(CONFIG)]) == 0, capsys.readouterr().out


def test_the_same_event_listed_three_times_is_three_events(tmp_path, capsys):
    view = (
        "{at: +0m, customer: c-1, type: product_viewed, properties: {product_id: p-7, "
        "name: Pearl Bracelet, category: jewelry, price: 120, url: 'https://rose.example/p/p-7'}}"
    )
    path = tmp_path / "three.yaml"
    path.write_text(
        "name: three views in the same minute\nstart: 2027-02-10T10:00:00-05:00\n"
        "customers: {c-1: {first_name: Eve, email: eve@mail.example, consent: {email: true}}}\n"
        f"events:\n  - {view}\n  - {view}\n  - {view}\n"
        "expect:\n  - {customer: c-1, trigger: browse_repeat_view, outcome: sent, at: +1m}\n"
    )

    assert main(["test", str(path), "--config", str(CONFIG)]) == 0, capsys.readouterr().out
