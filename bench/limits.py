"""What ingest refuses and how big a profile gets, at full size (``make test`` runs both small).

- Fuzz: ``BENCH_FUZZ_CASES`` (default 10,000) real events from events/ and tests/fixtures/,
  mutated by hypothesis (tests/fuzz.py), through the real ingest handler on moto: crashes,
  corrupted profiles and parked items without a reason must all be 0.
- A customer with ``BENCH_LARGE_EVENTS`` (default 10,000) events of ~30 KB each, then an order
  and a one-click unsubscribe: all applied, the stored profile never over its byte budget.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from typing import Any

from bench.message_path import _metric


def fuzz(cases: int) -> dict[str, Any]:
    """``cases`` mutated real events through ingest; the tallies of tests/fuzz.py."""
    from hypothesis import HealthCheck, given, settings

    from nudge.core.clock import parse_time
    from nudge.sim import Simulation
    from tests.conftest import CONFIG
    from tests.fuzz import NOW, FuzzRun
    from tests.fuzz import cases as mutated

    started = time.perf_counter()
    with Simulation(CONFIG, start=parse_time("2027-01-01T00:00:00Z")) as sim:
        sim.advance(parse_time(NOW))
        run = FuzzRun(sim)

        @settings(
            max_examples=cases,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(mutated())
        def one(case: tuple[str, str]) -> None:
            run.case(case[1])
            if run.counts["cases"] % 500 == 0:
                run.check_profiles()

        one()
        run.check_profiles()
        profiles = len(sim.profiles())
    seconds = time.perf_counter() - started
    counts = run.counts
    return {
        "fuzz_cases": _metric(counts["cases"], "cases", ">=", cases),
        "fuzz_crashes": _metric(counts["crash"], "cases", "<=", 0),
        "fuzz_corrupted_profiles": _metric(counts["corrupted_profiles"], "profiles", "<=", 0),
        "fuzz_parked": _metric(counts["parked"], "cases"),
        "fuzz_parked_without_reason": _metric(counts["parked_without_reason"], "cases", "<=", 0),
        "fuzz_profiles_written": _metric(profiles, "profiles"),
        "fuzz_seconds": _metric(round(seconds, 1), "s"),
    }


def large_customer(n: int) -> dict[str, Any]:
    """``n`` ~30 KB events for one customer, then an order and an unsubscribe."""
    from nudge.core.clock import parse_time
    from nudge.core.profile import PROFILE_BUDGET
    from nudge.flows import unsubscribe
    from nudge.sim import Simulation
    from tests.conftest import CONFIG, customer, event
    from tests.integration.test_profile_size import (
        ITEMS,
        ingest_in_batches,
        large_events,
        stored_size,
    )
    from tests.scenarios.test_unsubscribe_link import _one_click

    with Simulation(CONFIG, start=parse_time("2027-02-03T00:00:00Z")) as sim:
        cart = event("cart_updated", "liv", "2027-02-03T10:00:00Z", value=300.0, items=ITEMS)
        sim.run([customer("liv", "2027-02-03T09:00:00Z"), cart], until=timedelta(hours=2))
        link = sim.messages()[0]["headers"]["List-Unsubscribe"][1:-1]
        events = large_events("liv", "2027-02-03T12:00:00Z", n)
        sim.advance(parse_time("2027-02-03T16:00:00Z"))  # n seconds apart: all in the past
        started = time.perf_counter()
        largest = 0
        for start in range(0, n, 100):
            ingest_in_batches(events[start : start + 100])
            largest = max(largest, stored_size("liv"))
        seconds = time.perf_counter() - started
        order = event("order_placed", "liv", "2027-02-03T16:00:00Z", order_id="o-1", value=300.0)
        ingest_in_batches([order])
        status = unsubscribe.handle(_one_click(link))["statusCode"]
        profile = sim.profiles()["liv"]
        ok = (
            not sim.dead_letters()
            and status == 200
            and profile["orders_count"] == 1
            and profile["consent"]["email"] is False
        )
    return {
        "large_customer_events": _metric(n, "events"),
        "large_customer_order_and_unsubscribe_ok": _metric(int(ok), "bool", ">=", 1),
        "large_customer_max_profile_bytes": _metric(largest, "bytes", "<=", PROFILE_BUDGET),
        "large_customer_ms_per_event": _metric(round(seconds * 1000 / n, 1), "ms"),
    }


def run() -> dict[str, Any]:
    """Both, sized by ``BENCH_FUZZ_CASES`` and ``BENCH_LARGE_EVENTS``."""
    logging.disable(logging.WARNING)  # every parked case logs a warning
    try:
        out = fuzz(int(os.environ.get("BENCH_FUZZ_CASES", "10000")))
        out.update(large_customer(int(os.environ.get("BENCH_LARGE_EVENTS", "10000"))))
    finally:
        logging.disable(logging.NOTSET)
    return out
