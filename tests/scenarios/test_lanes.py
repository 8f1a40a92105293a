"""The transactional lane (docs/delivery.md, "Lanes"): an order confirmation goes out at once to a
customer who gave no marketing consent, at night, with the caps full and in the control group;
a marketing message in the same situations waits, is capped, held out or suppressed; texts of the
transactional lane are sent as SNS ``Transactional``."""

from __future__ import annotations

import pytest

from nudge.core.clock import parse_time
from nudge.sim import Simulation
from tests.conftest import customer, event, make_config

SETTINGS_EDIT = {
    'quiet_hours: {start: "21:00", end: "08:00", channels: [sms]}': (
        'quiet_hours: {start: "21:00", end: "08:00", channels: [email, sms]}'
    ),
    "  - {channel: any, max: 2, per: 1d}": "  - {channel: any, max: 1, per: 1d}",
}
CONFIRMATION = """id: order_confirmation
description: The receipt every customer needs
when: {event: order_placed}
lane: transactional
holdout: 100                      # ignored by the transactional lane
channel: best
email:
  subject: "Order {{ event.properties.order_id }} confirmed"
  text: "Thank you for order {{ event.properties.order_id }}."
sms: {text: "Rose & Co: order {{ event.properties.order_id }} confirmed."}
"""
OFFER = """id: order_offer
description: A promotion after an order
when: {event: order_placed}
holdout: 100                      # everyone who may get it is in the control group
email:
  subject: "10% off your next order"
  text: "Use code THANKS10. Unsubscribe: {{ unsubscribe_url }}"
"""


@pytest.fixture
def config(tmp_path):
    path = make_config(
        tmp_path,
        **{"triggers/order_confirmation.yaml": CONFIRMATION, "triggers/order_offer.yaml": OFFER},
    )
    settings = path / "settings.yaml"
    text = settings.read_text()
    for old, new in SETTINGS_EDIT.items():
        assert old in text
        text = text.replace(old, new)
    settings.write_text(text)
    return path


def _order(cid: str, at: str, order_id: str) -> dict:
    return event("order_placed", cid, at, order_id=order_id, event_id=f"{cid}-{order_id}")


def test_the_receipt_goes_out_at_night_capped_held_out_and_without_consent(config):
    sms_types: list[str] = []
    with Simulation(config, start=parse_time("2027-03-01T00:00:00Z"), backend="moto") as sim:
        _record_sms_types(sms_types)
        sim.run(
            [
                # no marketing consent for either channel; New York, 02:00 and 03:00 local
                customer("ann", "2027-03-03T06:00:00Z", email_ok=False, sms_ok=None),
                _order("ann", "2027-03-03T07:00:00Z", "o-1"),
                _order("ann", "2027-03-03T08:00:00Z", "o-2"),
                # consent to email; orders at 02:00 and 10:00 local
                customer("bob", "2027-03-03T06:00:00Z", email_ok=True, sms_ok=False),
                _order("bob", "2027-03-03T07:00:00Z", "o-3"),
                _order("bob", "2027-03-03T15:00:00Z", "o-4"),
            ],
            until=parse_time("2027-03-05T00:00:00Z"),
        )
        decisions = [d for d in sim.decisions() if d["outcome"] != "scheduled"]
        messages = sim.messages()

    receipts = [(m["customer_id"], m["channel"], m["subject"] or m["text"]) for m in messages]
    assert receipts == [
        ("ann", "email", "Order o-1 confirmed"),
        ("bob", "email", "Order o-3 confirmed"),
        ("ann", "email", "Order o-2 confirmed"),
        ("bob", "email", "Order o-4 confirmed"),
    ]
    sent_at = {m["subject"]: m["at"] for m in messages}
    assert sent_at["Order o-1 confirmed"].startswith("2027-03-03T07:0")  # 02:0x in New York
    assert sent_at["Order o-2 confirmed"].startswith("2027-03-03T08:0")  # the cap (1/day) is full

    def offer(cid: str) -> list[tuple[str, str | None]]:
        return [
            (d["outcome"], d["reason"])
            for d in decisions
            if d["customer_id"] == cid and d["trigger"] == "order_offer"
        ]

    assert offer("ann") == [("suppressed", "no_consent")] * 2
    bob = offer("bob")
    assert ("deferred", "quiet_hours") in bob  # 02:00 local: waits for 08:00
    assert ("held_out", "trigger") in bob  # then the control group takes it: no email
    assert ("deferred", "frequency_cap") in bob  # the 10:00 order's offer: the cap is used
    assert sms_types == []  # ann has no phone consent and bob said no to texts


def test_a_transactional_text_is_sent_as_transactional_and_a_stop_is_honoured(config):
    sms_types: list[str] = []
    with Simulation(config, start=parse_time("2027-03-01T00:00:00Z"), backend="moto") as sim:
        _record_sms_types(sms_types)
        sim.run(
            [
                customer("cat", "2027-03-03T06:00:00Z", email=None, email_ok=False, sms_ok=None),
                _order("cat", "2027-03-03T07:00:00Z", "o-5"),
                customer("dan", "2027-03-03T06:00:00Z", email=None, email_ok=False, sms_ok=False),
                _order("dan", "2027-03-03T07:00:00Z", "o-6"),
            ],
            until=parse_time("2027-03-04T00:00:00Z"),
        )
        texts = [(m["customer_id"], m["text"]) for m in sim.messages()]
        dan = [
            (d["outcome"], d["reason"])
            for d in sim.decisions()
            if d["customer_id"] == "dan" and d["trigger"] == "order_confirmation"
        ]

    assert texts == [("cat", "Rose & Co: order o-5 confirmed.")]  # no consent given: still sent
    assert sms_types == ["Transactional"]
    # a STOP (consent.sms false) is never overridden: no text; the first channel tried (email)
    # names why nothing went
    assert dan == [("suppressed", "no_address")]


def _record_sms_types(types: list[str]) -> None:
    """Keep the SMSType of every SNS Publish the handlers make (moto does not keep it)."""
    from nudge.aws.clients import client

    def seen(params: dict, **_kwargs: object) -> None:
        attrs = params.get("MessageAttributes") or {}
        types.append(attrs.get("AWS.SNS.SMS.SMSType", {}).get("StringValue"))

    client("sns").meta.events.register("provide-client-params.sns.Publish", seen)
