"""Fault-injection benchmark: the full crash matrix (every call of every handler, before and
after each write) and 30% throttling over 10 seeds, with the deployed retry timing simulated.
``make test`` runs a reduced matrix (tests/integration/test_fault_injection.py)."""

from __future__ import annotations

from typing import Any


def run() -> dict[str, Any]:
    """Crash points and throttled runs that did not end as the clean run did (target 0)."""
    from unittest import mock

    from nudge.faults import AwsFaults
    from tests.integration.test_fault_injection import (
        HANDLERS,
        NAMES,
        Run,
        crash_points,
        matrix,
        named_point,
        verdict,
    )
    from tests.integration.test_throttling import outcomes

    ended: dict[str, str] = {f"named: {n}": verdict(Run(named_point(n)).play()) for n in NAMES}
    for handler in HANDLERS:
        ended.update(matrix(crash_points(handler)))
    bad = sorted(point for point, how in ended.items() if not how.startswith("ok"))
    throttled_off = 0
    with (
        mock.patch("botocore.endpoint.time.sleep", lambda seconds: None),
        mock.patch(
            "botocore.retries.bucket.TokenBucket.acquire", lambda self, amount=1, block=True: True
        ),
    ):
        from tests.integration.test_fault_injection import clean

        want = outcomes(clean())
        for seed in range(10):
            if outcomes(Run(AwsFaults(throttle=0.3, seed=seed)).play()) != want:
                throttled_off += 1
    return {
        "fault_crash_points": {"value": len(ended), "unit": "runs"},
        "fault_crash_points_lost": {"value": len(bad), "unit": "runs", "op": "<=", "target": 0},
        "fault_throttled_30pct_seeds_off": {
            "value": throttled_off,
            "unit": "of 10 seeds",
            "op": "<=",
            "target": 0,
        },
    }
