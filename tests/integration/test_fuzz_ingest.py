"""Fuzz: real events (events/, tests/fixtures/) mutated by hypothesis, through the real ingest
handler on moto. No crash, no corrupted profile, every parked item with a reason. A short run
here; ``make bench`` runs 10,000 cases (bench/fuzz.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from nudge.core.clock import parse_time
from tests.fuzz import BASES, NOW, FuzzRun, cases

EXAMPLES = 150


def test_the_bases_are_the_real_events():
    names = [name for name, _ in BASES]
    assert "events/order_refunded.json" in names
    assert "fixtures/segment/track_order_refunded.json" in names
    assert "fixtures/shopify/2026-04/refunds/create.json" in names
    assert len(names) >= 35


def test_mutated_real_events_never_crash_ingest_nor_corrupt_a_profile(sim):
    sim.advance(parse_time(NOW))
    run = FuzzRun(sim)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(cases())
    def one(case: tuple[str, str]) -> None:
        _name, body = case
        run.case(body)

    one()
    run.check_profiles()

    assert run.problems == []
    assert run.counts["cases"] >= EXAMPLES
    assert run.counts["parked"] > EXAMPLES // 10  # the mutations do reach the limits
    assert len(sim.profiles()) > 0  # and some events get through
