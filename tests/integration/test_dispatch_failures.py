"""Dispatch under failure: throttling is retried with backoff; a crash at any step ends with
exactly one message or a `failed` decision, never two and never silence (docs/delivery.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from nudge.core.clock import parse_time
from nudge.faults import crash_at
from nudge.flows import ingest
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event

ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]


def _ses_refuses(monkeypatch, status: int, code: str, times: int) -> None:
    """SES answers SendEmail with an error ``times`` times (before accepting anything)."""
    from moto.core.exceptions import JsonRESTError
    from moto.ses.models import SESBackend

    real = SESBackend.send_raw_email
    left = {"n": times}

    def refuse(self, *args, **kwargs):
        if left["n"] > 0:
            left["n"] -= 1
            error = JsonRESTError(code, code)
            error.code = status
            raise error
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SESBackend, "send_raw_email", refuse)


def _cart_due(sim, cid: str) -> None:
    """A customer with a jewelry cart whose reminder is due; the clock stops just before."""
    sim.run(
        [
            customer(cid, "2027-02-10T14:00:00Z"),
            event("cart_updated", cid, "2027-02-10T14:03:00Z", value=300.0, items=ITEMS),
        ],
        until=parse_time("2027-02-10T14:05:00Z"),
    )


def _outcomes(sim, cid: str) -> list[tuple[str, str | None]]:
    return [(d["outcome"], d["reason"]) for d in sim.decisions() if d["customer_id"] == cid]


@pytest.fixture
def moto_sim() -> Iterator[Any]:
    """The sample config on moto: these tests make moto's SES refuse, and botocore retry."""
    with Simulation(CONFIG, start=parse_time("2027-01-01T00:00:00Z"), backend="moto") as sim:
        yield sim


def test_ses_throttling_is_retried_with_backoff_and_the_email_goes_once(moto_sim, monkeypatch):
    sim = moto_sim
    delays: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", delays.append)
    _cart_due(sim, "tia")
    _ses_refuses(monkeypatch, 429, "TooManyRequestsException", 2)
    sim.advance(sim.clock.current + timedelta(hours=2))

    assert len(sim.messages()) == 1
    assert _outcomes(sim, "tia")[-1] == ("sent", None)
    assert len(delays) == 2  # two backoffs, then success


def test_a_rejected_email_is_a_failed_decision_not_silence(moto_sim, monkeypatch):
    sim = moto_sim
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda s: None)
    _cart_due(sim, "uli")
    _ses_refuses(monkeypatch, 400, "MessageRejected", 99)
    sim.advance(sim.clock.current + timedelta(hours=2))

    assert sim.messages() == []
    assert _outcomes(sim, "uli")[-1] == ("failed", "provider_error")


@pytest.mark.parametrize("point", ["dispatch.after_claim", "dispatch.before_provider_call"])
def test_a_crash_before_the_provider_call_is_resent_once_within_minutes(sim, point):
    _cart_due(sim, "vic")
    with crash_at(point):  # the wake run dies; Lambda retries it after 1 and 2 minutes
        sim.advance(parse_time("2027-02-10T15:04:00Z"))
    assert sim.messages() == []
    sim.advance(sim.clock.current + timedelta(minutes=10))  # the sweeper's bound has passed

    assert len(sim.messages()) == 1
    assert _outcomes(sim, "vic")[-1] == ("sent", None)
    assert parse_time(sim.messages()[0]["at"]) < parse_time("2027-02-10T15:15:00Z")


def test_a_crash_after_the_provider_accepted_ends_with_one_message_and_no_resend(sim):
    _cart_due(sim, "wes")
    with crash_at("dispatch.after_provider_accepted"):
        sim.advance(parse_time("2027-02-10T15:04:00Z"))
    assert len(sim.messages()) == 1
    sim.advance(sim.clock.current + timedelta(hours=1))

    assert len(sim.messages()) == 1  # never two
    outcome, reason = _outcomes(sim, "wes")[-1]
    assert (outcome, reason) == ("failed", "provider_error")  # and the uncertainty is recorded
    [failed] = [d for d in sim.decisions() if d["outcome"] == "failed"]
    assert failed["detail"]["calling_at"] and failed["detail"]["claimed_at"]  # the evidence


def test_a_crash_in_ingest_after_the_write_is_redelivered_without_a_second_message(
    sim, monkeypatch
):
    from nudge.aws import store

    cart = event("cart_updated", "xia", "2027-02-10T14:03:00Z", value=300.0, items=ITEMS)
    sim.run([customer("xia", "2027-02-10T14:00:00Z")], until=parse_time("2027-02-10T14:03:00Z"))
    real_commit = store.commit
    calls = {"n": 0}

    def commit_then_crash(*args, **kwargs):
        real_commit(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the run failed after ingest wrote")

    monkeypatch.setattr(store, "commit", commit_then_crash)
    body = json.dumps(cart)
    first = ingest.handle({"Records": [{"messageId": "m1", "body": body}]})
    assert first["batchItemFailures"] == [{"itemIdentifier": "m1"}]  # SQS will redeliver
    ingest.handle({"Records": [{"messageId": "m1", "body": body}]})
    monkeypatch.undo()
    sim.advance(sim.clock.current + timedelta(hours=2))

    assert len(sim.messages()) == 1
