"""An erasure that lands while a message is being sent: nothing is sent if the provider call had
not been marked yet, and nothing about the customer is left behind either way."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nudge.aws import clients as aws
from nudge.core.clock import parse_time
from nudge.flows import dispatch, privacy
from tests.conftest import customer, event

ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]


def _left_about(cid: str) -> list[str]:
    """Every item that still names the customer (keys, or ``customer_id``), but the tombstone."""
    items = aws.client("dynamodb").scan(TableName="nudge-sim")["Items"]
    found = []
    for item in items:
        text = json.dumps(item)
        if item["pk"]["S"] == f"ERASED#{cid}":
            continue
        if cid in text:
            found.append(f"{item['pk']['S']} {item['sk']['S']}")
    return found


def _erase_at(monkeypatch: pytest.MonkeyPatch, step: str, cid: str) -> list[Any]:
    """Erase ``cid`` (as ``DELETE /profiles/{id}`` does) when dispatch reaches ``step``."""
    erased: list[Any] = []
    real = dispatch.checkpoint

    def at(name: str) -> None:
        if name == step and not erased:
            erased.append(privacy.erase_customer(cid))
        real(name)

    monkeypatch.setattr(dispatch, "checkpoint", at)
    return erased


@pytest.mark.parametrize(
    ("step", "sent"),
    [
        ("dispatch.after_claim", 0),
        ("dispatch.before_provider_call", 0),
        ("dispatch.after_calling_marked", 1),  # the call is under way: it goes, once
        ("dispatch.after_provider_accepted", 1),
    ],
)
def test_an_erase_mid_send_sends_nothing_unless_the_call_began_and_leaves_nothing(
    sim, monkeypatch, step, sent
):
    sim.run(
        [
            customer("eve", "2027-02-10T14:00:00Z"),
            event("cart_updated", "eve", "2027-02-10T14:03:00Z", value=300.0, items=ITEMS),
        ],
        until=parse_time("2027-02-10T14:05:00Z"),
    )
    erased = _erase_at(monkeypatch, step, "eve")
    sim.advance(parse_time("2027-02-11T00:00:00Z"))

    assert erased and erased[0] is not None  # the erasure happened at that step
    assert len(sim.messages()) == sent
    assert _left_about("eve") == []  # no profile, outbox stub, decision, index or announcement
    assert not sim.failures  # and nothing failed on the way (no retries, nothing parked)


def test_a_number_texted_after_an_erase_is_not_indexed(sim):
    from nudge.aws import store

    sim.run([customer("fay", "2027-02-10T14:00:00Z")], until=parse_time("2027-02-10T14:01:00Z"))
    privacy.erase_customer("fay")
    store.remember_phone("+15555550100", "fay")  # a send that was under way records its number

    assert store.customer_for_phone("+15555550100") is None
    assert _left_about("fay") == []
