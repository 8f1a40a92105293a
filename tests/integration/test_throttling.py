"""30% of DynamoDB, SES and SNS requests throttled (the services' own throttling answers, so
botocore's retries see them): over 10 seeds, who got which message, every decision's outcome,
the profiles and the bus announcements are those of the clean run."""

from __future__ import annotations

from typing import Any

import pytest

from nudge.faults import AwsFaults
from tests.integration.test_fault_injection import Run, _nth, clean

SEEDS = range(10)


def outcomes(run: Run) -> dict[str, Any]:
    """What a user would notice: messages per customer and trigger (how many times each went),
    how each message ended, the profiles and the announcements."""
    result = run.result
    messages = sorted(
        (cid, trigger, result["emails"].get(mid, 0), *(result["finals"].get(mid) or ("?", None)))
        for mid, (cid, trigger, _status) in result["outbox"].items()
    )
    return {
        "messages": messages,
        "profiles": result["profiles"],
        "changes": result["changes"],
        "in_flight": result["in_flight"],
        "erased_left": result["cy_left"],
    }


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    """botocore's backoff and adaptive rate limiting wait on the wall clock: not here."""
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda seconds: None)
    monkeypatch.setattr(
        "botocore.retries.bucket.TokenBucket.acquire", lambda self, amount=1, block=True: True
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_thirty_percent_throttling_changes_no_outcome(seed):
    run = Run(AwsFaults(throttle=0.3, seed=seed)).play()

    assert run.faults.throttles >= 10  # it did throttle, a lot
    assert outcomes(run) == outcomes(clean())


def test_ses_throttling_through_every_retry_defers_the_email_instead_of_failing_it():
    # every attempt of the one SendEmail call is throttled: SES took nothing, so it is tried
    # again a minute later (before: recorded failed / provider_error, never sent)
    send = _nth("wake", "SendEmail")
    run = Run(AwsFaults(throttle_call=("wake", send, 99))).play()

    assert outcomes(run) == outcomes(clean())
    assert any("deferred provider_unavailable" in line for line in run.result["trace"])


def test_dynamodb_throttling_when_recording_a_sent_email_still_records_it_sent():
    # SES accepted ana's reminder; the write recording it is throttled through all of the
    # client's retries (before: left `sending` with no decision: sent without a record)
    record = _nth("wake", "TransactWriteItems", 3)
    run = Run(AwsFaults(throttle_call=("wake", record, 6))).play()

    assert outcomes(run) == outcomes(clean())
