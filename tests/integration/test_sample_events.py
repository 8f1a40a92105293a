"""The files in events/ are valid for `sam local invoke -e` and for the handlers."""

from __future__ import annotations

import json

import pytest

from nudge.adapters import adapt
from nudge.core.events import NATIVE_TYPES, parse_event
from tests.conftest import EVENTS

FILES = sorted(p for p in EVENTS.glob("*.json"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_sample_event_is_an_eventbridge_envelope_nudge_understands(path):
    envelope = json.loads(path.read_text())
    if "Records" in envelope or "kind" in envelope or "routeKey" in envelope:
        pytest.skip("not an EventBridge envelope (a stream batch, schedule input or HTTP request)")
    if envelope.get("detail-type") == "Scheduled Event":
        pytest.skip("a rate schedule's event (the sweeper's), not a storefront event")
    for key in ("version", "id", "detail-type", "source", "account", "time", "region", "detail"):
        assert key in envelope, f"{path.name} lacks {key}"
    for native in adapt(envelope, order_owner=lambda order_id: "c-owner"):
        assert parse_event(native).customer_id


def test_there_is_a_sample_for_every_native_type():
    names = {p.stem for p in FILES}
    assert set(NATIVE_TYPES) <= names


def test_the_sample_day_is_sorted_and_every_line_parses():
    lines = (EVENTS / "sample_day.jsonl").read_text().splitlines()
    events = [parse_event(json.loads(line)) for line in lines if line.strip()]
    assert len({e.customer_id for e in events}) >= 30
    times = [e.time for e in events]
    assert times == sorted(times)
