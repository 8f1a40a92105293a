"""`nudge backtest`: the sample day through two configs. A 15-minute cart wait instead of an hour
adds reminders, and the report names the customers who then ordered anyway within the attribution
window; a template change shows the rendered difference; a tighter cap shows its pressure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from nudge.cli import main
from nudge.sim import Simulation
from nudge.sim.backtest import events_from_table, since_filter
from nudge.sim.runner import read_events
from tests.conftest import CONFIG, EVENTS

DAY = EVENTS / "sample_day.jsonl"
CART = "cart_jewelry_high_value"


def _copy(tmp_path: Path, name: str, edit: tuple[str, str, str] | None = None) -> Path:
    root = tmp_path / name
    shutil.copytree(CONFIG, root, ignore=shutil.ignore_patterns("tests"))
    if edit:
        path = root / edit[0]
        text = path.read_text()
        assert edit[1] in text
        path.write_text(text.replace(edit[1], edit[2]))
    return root


def _backtest(capsys, base: Path, change: Path, *extra: str) -> tuple[int, str]:
    code = main(
        ["backtest", "--base", str(base), "--change", str(change), "--events", str(DAY), *extra]
    )
    return code, capsys.readouterr().out


def test_a_15_minute_cart_wait_adds_reminders_to_customers_who_ordered_anyway(tmp_path, capsys):
    base = _copy(tmp_path, "base")
    change = _copy(
        tmp_path, "change", ("triggers/cart_jewelry_high_value.yaml", "wait: 1h ", "wait: 15m")
    )

    code, out = _backtest(capsys, base, change, "--json")

    assert code == 0
    report = json.loads(out)
    cart = report["triggers"][CART]
    assert (cart["added"], cart["removed"]) == (2, 0)
    assert cart["messages"]["change"] == cart["messages"]["base"] + 2
    assert sorted(m["customer_id"] for m in report["added"]) == ["c-004", "c-007"]
    # c-004 got the reminder at 15:16 and ordered at 15:20 anyway (attribution window 5d)
    assert cart["added_ordered_anyway"] == [
        {"customer": "c-004", "sent": "2027-02-10T15:16:00Z", "ordered": "2027-02-10T15:20:00Z"}
    ]
    assert report["attribution"] == {"window": "5d", "event": "order_placed"}
    # under the hour's wait both were cancelled: by the order, and by the emptied cart
    instead = {m["customer_id"]: m["instead"] for m in report["added"]}
    assert (
        instead["c-004"]["outcome"] == "cancelled"
        and instead["c-004"]["event_type"] == "order_placed"
    )
    assert (
        instead["c-007"]["outcome"] == "cancelled"
        and instead["c-007"]["event_type"] == "cart_updated"
    )
    others = {t: r for t, r in report["triggers"].items() if t != CART}
    assert all(r["added"] == r["removed"] == 0 for r in others.values())
    assert report["overall"]["added"] == 2

    code, text = _backtest(capsys, base, change)
    assert "cart_jewelry_high_value: 8 -> 10 messages (+2; +2 added, -0 removed)" in text
    assert "1 of the 2 added went to customers who ordered anyway within 5d:" in text
    assert "c-004: sent 2027-02-10T15:16:00Z, ordered 2027-02-10T15:20:00Z" in text


def test_a_changed_template_shows_the_rendered_difference_for_a_few_customers(tmp_path, capsys):
    base = _copy(tmp_path, "base")
    change = _copy(
        tmp_path, "change", ("templates/cart_reminder.yaml", "}} is waiting", "}} is still waiting")
    )

    code, out = _backtest(capsys, base, change, "--json")

    assert code == 0
    report = json.loads(out)
    assert report["overall"]["added"] == report["overall"]["removed"] == 0
    assert report["changed_content"] == [CART]
    diffs = report["template_diffs"]
    assert 1 <= len(diffs) <= 3
    for d in diffs:
        minus = [line for line in d["diff"] if line.startswith("-Subject:")]
        plus = [line for line in d["diff"] if line.startswith("+Subject:")]
        assert len(minus) == len(plus) == 1
        assert minus[0].endswith("is waiting") and plus[0].endswith("is still waiting")
        assert not any(line.startswith(("-", "+")) and "Unsubscribe" in line for line in d["diff"])


def test_a_tighter_cap_shows_its_pressure_and_the_messages_it_delays(tmp_path, capsys):
    base = _copy(tmp_path, "base")
    change = _copy(
        tmp_path,
        "change",
        ("settings.yaml", "{channel: any, max: 2, per: 1d}", "{channel: any, max: 1, per: 1d}"),
    )

    _code, out = _backtest(capsys, base, change, "--json")

    report = json.loads(out)
    overall, text = report["overall"], report["triggers"]["last_minute_delivery"]
    # one message a day: a text is held back by the cap and goes out later instead
    assert overall["added"] == overall["removed"] == 0
    assert text["cap_pressure"] == {"base": 0, "change": 1}
    assert text["deferred"]["change"] == text["deferred"]["base"] + 1
    assert text["later"] == 1 and text["customers_affected"] == 1


def test_the_table_gives_back_only_the_history_its_config_keeps():
    """The table keeps what the config's conditions read (docs/storage.md), so a replay from it
    is partial: every event it gives back is of a type the config keeps, none is nudge's own,
    and the sample day's cart events (read by the cart reminder's cancel_if) are there."""
    from nudge.config import load_config

    played = read_events(DAY)
    policy = load_config(CONFIG).history
    with Simulation(CONFIG) as sim:
        sim.run(played)
        kept = events_from_table()
    kinds = {e["detail-type"] for e in kept}
    assert "segment_entered" not in kinds and "message_sent" not in kinds
    assert {k for k in kinds if k != "customer_updated"} <= set(policy.keep)
    assert "cart_updated" in kinds
    assert len(kept) < len(played)  # partial: the archive is the complete source


def test_since_keeps_the_last_days_before_the_last_event():
    events = [
        {"time": "2027-01-01T00:00:00Z", "n": 1},
        {"time": "2027-01-20T00:00:00Z", "n": 2},
        {"time": "2027-02-10T00:00:00Z", "n": 3},
    ]
    assert [e["n"] for e in since_filter(events, "30d")] == [2, 3]
    assert [e["n"] for e in since_filter(events, None)] == [1, 2, 3]


def test_an_eventbridge_archive_of_the_bus_gives_back_the_events_it_kept():
    from nudge.aws import clients as aws
    from nudge.core.clock import parse_time
    from nudge.sim.backends import make_backend
    from nudge.sim.backtest import events_from_archive

    played = read_events(DAY)
    old = json.loads(json.dumps(played[-1]))  # the same kind of event, two months earlier
    old["time"], old["detail"]["event_id"] = "2026-12-01T10:00:00Z", "e-old"
    backend = make_backend("moto")
    backend.start()
    try:
        events = aws.client("events")
        bus = events.create_event_bus(Name="nudge")["EventBusArn"]
        events.create_archive(ArchiveName="nudge-all", EventSourceArn=bus)
        for e in [old, *played]:
            entry = {
                "Source": e["source"],
                "DetailType": e["detail-type"],
                "Detail": json.dumps(e["detail"]),
                "EventBusName": "nudge",
                "Time": parse_time(e["time"]),
            }
            assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0

        got = events_from_archive("nudge-all", "30d", parse_time("2027-02-12T00:00:00Z"))

        rules = events.list_rules(EventBusName="nudge")["Rules"]
        queues = aws.client("sqs").list_queues().get("QueueUrls", [])
    finally:
        backend.stop()

    def key(e):
        return (e["detail-type"], e["detail"]["event_id"], e["time"], e["source"])

    assert sorted(map(key, got)) == sorted(set(map(key, played)))  # not the one 30d+ before
    assert [e["time"] for e in got] == sorted(e["time"] for e in got)
    assert "replay-name" not in got[0]
    assert not [r for r in rules if r["Name"].startswith("nudge-backtest-")]  # cleaned up
    assert not [q for q in queues if "nudge-backtest-" in q]


def test_the_template_offers_the_archive_backtest_reads():
    from nudge.sim.infra import load_template
    from tests.conftest import ROOT

    doc = load_template(ROOT / "template.yaml")
    archive = doc["Resources"]["EventArchive"]

    assert archive["Type"] == "AWS::Events::Archive"
    assert archive["Properties"]["SourceArn"] == {"Fn::GetAtt": "NudgeBus.Arn"}
    assert archive["Condition"] == "HasEventArchive"  # only when EventArchiveDays is not 0
    assert doc["Parameters"]["EventArchiveDays"]["Default"] == 0
    assert doc["Outputs"]["EventArchiveName"]["Value"] == {"Ref": "EventArchive"}
