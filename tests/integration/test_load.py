"""The load benchmark (bench/load.py) at test size: a day of 20 customers through the real
ingest and wake handlers on a threaded moto server (127.0.0.1 only). ``make bench`` runs the
same with 10,000 customers and records events/s and p99 per event."""

from __future__ import annotations

from bench.load import day_events, run_load


def test_a_small_day_on_a_moto_server_loses_nothing():
    got = run_load(customers=20, threads=3)

    assert got["events"] == sum(len(v) for v in day_events(20).values())
    assert got["ingest_failed"] == 0
    assert got["lost_events"] == 0  # every event recorded as applied by its customer's profile
    assert got["lost_messages"] == 0  # nothing left pending without a schedule
    assert got["outbox"].get("sent", 0) > 0  # the day's reminders went out
    assert got["events_per_s"] > 0 and got["p99_ms"] >= got["p50_ms"] > 0
