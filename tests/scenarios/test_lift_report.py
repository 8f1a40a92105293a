"""`nudge report lift` as a marketer runs it: on the sample day (too small to say anything, and
saying so), on a deployed table, as documented JSON, and as a chart page a browser opens with
no network."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from nudge.cli import main
from nudge.sim.synthetic import TrueLift, lift_shop
from tests.browser import Browser
from tests.conftest import CONFIG, EVENTS, ROOT
from tests.scenarios.test_attribution import _day, _global_control_customer

DOCS = ROOT / "docs" / "lift.md"


@pytest.fixture(scope="module")
def sample_day(tmp_path_factory):
    out = tmp_path_factory.mktemp("day") / "day.json"
    args = ["simulate", "--config", str(CONFIG), "--events", str(EVENTS / "sample_day.jsonl")]
    assert main([*args, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def shop_file(tmp_path_factory):
    """A seeded shop with two triggers that work and one global control group."""
    shop = lift_shop(
        [
            TrueLift("cart_jewelry_high_value", 0.08, 0.04, 80.0, 10.0, holdout=20),
            TrueLift("browse_repeat_view", 0.05, 0.02, 60.0, 0.0, holdout=10),
        ],
        customers=1500,
        seed=11,
        global_holdout=5,
    )
    path = tmp_path_factory.mktemp("shop") / "shop.json"
    path.write_text(json.dumps(shop))
    return path


def _report(capsys, *args: str) -> dict:
    assert main(["report", "lift", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_sample_days_two_held_out_customers_are_flagged_not_measured(sample_day, capsys):
    report = _report(capsys, "--from-file", str(sample_day))

    program = report["program"]
    assert program["control"]["customers"] == 2  # the global control group of the sample day
    power = program["power"]
    assert power["under_powered"] is True
    assert "control has 2 customer(s), fewer than 30" in power["why"]
    assert power["mde"] is not None and power["mde"] > 0.5  # nothing smaller is detectable
    assert report["attribution"] == {"event": "order_placed", "window": "5d", "model": "last_touch"}
    # no trigger of the sample config has a control group of its own: nothing to compare
    assert {r["verdict"] for r in report["rows"]} == {"not measurable: no control group"}

    assert main(["report", "lift", "--from-file", str(sample_day)]) == 0
    text = capsys.readouterr().out
    [verdict] = [line for line in text.splitlines() if "UNDER-POWERED" in line]
    assert "no detectable lift" in verdict
    assert "control has 2 customer(s), fewer than 30" in verdict
    assert "could be detected" in verdict or "smallest lift these sizes can detect" in verdict


def test_a_seeded_shop_shows_lift_with_intervals_and_the_funnel(shop_file, capsys):
    assert main(["report", "lift", "--from-file", str(shop_file)]) == 0
    text = capsys.readouterr().out
    assert "cart_jewelry_high_value (trigger)" in text
    assert "(newcombe hybrid wilson)" in text
    assert "(bootstrap percentile (2000 resamples, seed 0))" in text
    assert "sample ratio  control" in text
    assert "the whole program (global control group)" in text
    assert "Funnel per trigger and campaign" in text
    report = _report(capsys, "--from-file", str(shop_file), "--trigger", "browse_repeat_view")
    assert [r["id"] for r in report["rows"]] == ["browse_repeat_view"]
    funnel = report["funnel"]["browse_repeat_view"]
    row = report["rows"][0]
    assert funnel["sent"] == row["treated"]["messages"]
    assert funnel["held_out"]["trigger"] == row["control"]["customers"]
    assert funnel["converted"] == row["treated"]["converters"]


def test_unknown_trigger_or_bad_time_is_refused_with_the_reason(shop_file, capsys):
    assert main(["report", "lift", "--from-file", str(shop_file), "--trigger", "cartt"]) == 1
    assert "no trigger or campaign 'cartt'" in capsys.readouterr().err
    assert main(["report", "lift", "--from-file", str(shop_file), "--until", "soon"]) == 1
    assert "--until 'soon'" in capsys.readouterr().err
    assert main(["report", "lift", "--from-file", str(CONFIG / "settings.yaml")]) == 1
    assert "not a nudge simulate output" in capsys.readouterr().err


def test_the_period_counts_only_messages_inside_it(shop_file, capsys):
    whole = _report(capsys, "--from-file", str(shop_file))
    part = _report(
        capsys, "--from-file", str(shop_file), "--since", "2027-02-03", "--until", "2027-02-05"
    )
    doc = json.loads(shop_file.read_text())
    inside = {
        d["customer_id"]
        for d in doc["decisions"]
        if d["trigger"] == "cart_jewelry_high_value"
        and d["outcome"] == "sent"
        and "2027-02-03" <= d["at"] < "2027-02-05"
    }
    row = next(r for r in part["rows"] if r["id"] == "cart_jewelry_high_value")
    assert row["treated"]["customers"] == len(inside)
    assert 0 < len(inside) < whole["rows"][1]["treated"]["customers"]
    assert (part["since"], part["until"]) == ("2027-02-03T00:00:00Z", "2027-02-05T00:00:00Z")


def test_a_deployed_table_gives_the_same_report_as_the_simulation_file(sim, tmp_path, capsys):
    held = _global_control_customer()
    sim.run(_day(held))
    out = tmp_path / "day.json"
    out.write_text(json.dumps(sim.output(), default=str))

    from_table = _report(capsys, "--config", str(CONFIG))  # $NUDGE_TABLE: the simulated table
    from_file = _report(capsys, "--from-file", str(out))
    assert from_table == from_file
    program = from_table["program"]
    # ana (credited) and bo (outside the window) are treated; the held-out one converted
    assert (program["treated"]["customers"], program["treated"]["converters"]) == (2, 1)
    assert (program["control"]["customers"], program["control"]["converters"]) == (1, 1)
    assert program["treated"]["revenue"] == 120.0 and program["control"]["revenue"] == 60.0


def _json_block(text: str) -> object:
    block = re.search(r"<!-- lift-json -->\s*```json\n(.*?)```", text, re.S)
    assert block, "docs/lift.md has the JSON shape in a ```json block after <!-- lift-json -->"
    return json.loads(block.group(1))


def _shape(value: object, path: str = "") -> set[str]:
    """Every key path in a JSON value (lists by their first item)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            out.add(f"{path}.{key}")
            out |= _shape(item, f"{path}.{key}")
    elif isinstance(value, list) and value:
        out |= _shape(value[0], f"{path}[]")
    return out


def test_the_json_has_the_documented_shape(shop_file, capsys):
    documented = _shape(_json_block(DOCS.read_text()))
    report = _report(capsys, "--from-file", str(shop_file))
    # a funnel row is keyed by trigger id, its ends by reason: compare them under neutral names
    row = next(iter(report["funnel"].values()))
    for end in ("held_out", "suppressed", "failed"):
        row[end] = {"<reason>": 0}
    report["funnel"] = {"<trigger>": row}
    assert _shape(report) == documented


def test_the_html_page_opens_with_no_network_and_has_one_chart_per_trigger(
    shop_file, tmp_path, capsys
):
    page = tmp_path / "lift.html"
    assert main(["report", "lift", "--from-file", str(shop_file), "--html", str(page)]) == 0
    capsys.readouterr()
    html = page.read_text()
    # self-contained: nothing fetched (the only URL is SVG's namespace)
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "<script" not in html and "<link" not in html
    browser = Browser.find()
    if browser is None:
        pytest.skip("no Chromium: install Debian's chromium package to run this check")
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--proxy-server=127.0.0.1:9",  # any request would fail: there is no network
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    charts = re.findall(r'<svg class="rate-chart" data-trigger="([^"]+)"', dom)
    assert sorted(charts) == ["browse_repeat_view", "cart_jewelry_high_value"]
    assert dom.count('<svg class="program-chart"') == 1  # and one for the whole program
    # each chart: a bar per group with its interval whisker
    assert len(re.findall(r'class="bar (treated|control)"', dom)) == 3 * 2
    assert dom.count('class="whisker"') == 3 * 2
    # incremental revenue over time: a line per trigger and one for the program
    assert dom.count('<svg class="revenue-chart"') == 1
    assert len(re.findall(r'<path class="series"', dom)) == 3
    assert "the whole program (global control group)" in dom


def test_the_docs_table_of_control_shares_is_what_the_power_formula_gives():
    from nudge.lift.measure import control_share_needed

    text = DOCS.read_text()
    table = text.split("<!-- holdout-table -->", 1)[1].strip().split("\n\n", 1)[0]
    rows = [line.strip("|").split("|") for line in table.splitlines()[2:]]
    assert len(rows) >= 5
    for cells in rows:
        size = int(cells[0].strip().replace(",", ""))
        for cell, lift in zip(cells[1:], (0.01, 0.02, 0.05), strict=True):
            share = control_share_needed(size, 0.05, lift)
            shown = cell.strip()
            if share is None:
                assert shown == "not even 50%"
            elif share < 0.001:
                assert shown == "<0.1%"
            else:
                assert shown == f"{100 * share:.1f}%"
    # and a share read off the table does detect that lift: the report's MDE agrees
    from nudge.lift.measure import power

    share = control_share_needed(10_000, 0.05, 0.02)
    n_c = round(10_000 * share)
    got = power(0, 10_000 - n_c, round(0.05 * n_c), n_c, None)
    assert got["mde"] == pytest.approx(0.02, abs=0.0005)
