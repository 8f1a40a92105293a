"""50 events for one customer at the same moment, on a threaded moto server: every one applied
exactly once, and the version-conflict loop's jittered backoff lets fewer than 10% of the first
deliveries give up (each of those is delivered again by SQS and applied then)."""

from __future__ import annotations

from bench.concurrency import at_once


def test_fifty_events_at_once_are_each_applied_once_and_few_need_a_second_delivery():
    got = at_once(50)

    assert got["applied"] == 50
    assert got["applied_twice"] == 0
    assert got["first_pass_failure_rate"] < 0.1
