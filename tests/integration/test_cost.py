"""The cost model (bench/cost.py, docs/cost.md): DynamoDB's size rules, and a small case counted
from the real handlers on moto."""

from __future__ import annotations

from pathlib import Path

from bench.cost import BEGIN, END, MIX, item_size, measure_case, table, write_doc


def test_item_sizes_follow_dynamodbs_rules():
    # names count; strings are UTF-8 bytes; numbers about a byte per two digits, plus one
    assert item_size({"pk": {"S": "c#bea"}}) == 2 + 5
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"é": {"S": "ü"}}) == 2 + 2
    assert item_size({"ok": {"BOOL": True}, "x": {"NULL": True}}) == 3 + 2
    # lists and maps: 3 bytes, plus 1 per element
    assert item_size({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size(None) == 0


def test_a_small_case_counts_the_handlers_calls_and_capacity(tmp_path: Path):
    new = measure_case(history=0, triggers=10, customers=1)
    older = measure_case(history=50, triggers=10, customers=1)

    assert new["events"] == 4 and new["triggers"] == 10
    cart = new["per_type"]["cart_updated"]
    # ingest reads the profile (one Query, with its history segments); the cart's log entry
    # stays in the profile's write, so nothing is put after it and no tombstone is read
    assert cart["calls"]["dynamodb:Query"] == 1 and "dynamodb:GetItem" not in cart["calls"]
    assert "dynamodb:PutItem" not in cart["calls"]
    assert cart["write_units"] >= 1 and cart["invocations"] == 1
    assert new["messages"] == new["emails"] > 0  # the measured events' messages went out
    usd = new["usd_per_million_events"]
    assert abs(sum(v for k, v in usd.items() if k != "total") - usd["total"]) < 0.01
    # the storefront mix weighs each type's measured cost by how often a visit has it: the
    # browsing events not in the one-of-each play were measured too, and left out of its average
    assert set(MIX) <= set(new["per_type"]) and new["events"] == 4
    units = [new["per_type"][k]["write_units"] for k in MIX]
    assert min(units) <= new["mix"]["write_units"] <= max(units)
    mix = new["mix"]["usd_per_million_events"]
    assert mix["eventbridge"] >= 1.0 and mix["sqs"] > 0  # every event comes over the bus and queue
    assert abs(sum(v for k, v in mix.items() if k != "total") - mix["total"]) < 0.01
    # a longer history is moved out to history segments: the items written stay small
    assert older["per_event"]["item_kb_max"] <= new["per_event"]["item_kb_max"] <= 2

    got = {"cases": [new, older], "decide_200_p99_ms": 0.5}
    text = table(got, "2026-11-30")
    assert (
        "Measured 2026-11-30" in text
        and "| decide p99 < 1 ms with 200 triggers | 0.5 ms | met |" in text
        and "At a storefront's mix of events" in text
        and f"| new | 10 | {new['mix']['write_units']} |" in text
    )
    judged = max(c["mix"]["usd_per_million_events"]["total"] for c in (new, older))
    assert f"at a storefront's mix | max ${judged:.2f} |" in text
    assert "| (not judged) one event of each type |" in text
    assert "stress config" not in text.split("The dollar targets")[1]  # none was measured
    doc = tmp_path / "cost.md"
    doc.write_text(f"# cost\n{BEGIN}\nold\n{END}\nafter\n")
    write_doc(got, "2026-11-30", doc)
    assert "old" not in doc.read_text() and doc.read_text().endswith(f"{END}\nafter\n")
