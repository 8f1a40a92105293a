"""What mailboxes and phones tell us stops further messages: bounces, complaints, STOP replies,
and the signed one-click unsubscribe link."""

from __future__ import annotations

import json
from datetime import timedelta

from nudge.core.clock import parse_time
from nudge.flows import feedback
from tests.conftest import customer, event
from tests.feedback_payloads import ses_for

ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]


def _cart(cid: str, at: str) -> dict:
    return event("cart_updated", cid, at, value=300.0, items=ITEMS, event_id=f"{cid}-{at}")


def _first_email_then(sim, cid: str, feedback_event) -> list[dict]:
    sim.run([customer(cid, "2027-02-03T09:00:00Z"), _cart(cid, "2027-02-03T10:00:00Z")], until=None)
    [mail] = sim.messages()
    feedback_event(mail)
    sim.run([_cart(cid, "2027-02-12T10:00:00Z")])  # a week later: cooldown is over
    return sim.messages()


def test_a_permanent_bounce_stops_further_email(sim):
    def bounce(mail):
        result = feedback.handle(ses_for("bounce", mail))
        assert result == {"results": ["undeliverable"]}

    assert len(_first_email_then(sim, "bea", bounce)) == 1
    assert sim.decisions()[-1]["reason"] == "no_address"


def test_a_transient_bounce_changes_nothing(sim):
    def soft(mail):
        transient = ses_for("bounce", mail)
        transient["detail"]["bounce"].update(bounceType="Transient", bounceSubType="MailboxFull")
        assert feedback.handle(transient) == {"results": ["ignored: transient bounce"]}

    assert len(_first_email_then(sim, "bob", soft)) == 2


def test_a_complaint_withdraws_email_consent(sim):
    def complain(mail):
        feedback.handle(ses_for("complaint", mail))

    assert len(_first_email_then(sim, "cam", complain)) == 1
    assert sim.decisions()[-1]["reason"] == "no_consent"
    assert sim.profiles()["cam"]["consent"]["email"] is False


def test_every_email_carries_one_click_unsubscribe_headers_and_a_visible_link(sim):
    sim.run([customer("dee", "2027-02-10T09:00:00Z"), _cart("dee", "2027-02-10T10:00:00Z")])
    [mail] = sim.messages()
    header = mail["headers"]["List-Unsubscribe"]
    assert header.startswith("<https://rose.example/u?t=") and header.endswith(">")
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = header[1:-1]
    assert link in mail["text"] and link in mail["html"]


# What the link does when opened or posted: tests/scenarios/test_unsubscribe_link.py


def test_an_sms_stop_reply_withdraws_sms_consent(sim):
    view = event("page_viewed", "gus", "2027-02-10T15:00:00Z", path="/pages/delivery")
    sim.run([customer("gus", "2027-02-10T14:00:00Z"), view], until=parse_time("2027-02-11T00:00Z"))
    [sms] = sim.messages()
    reply = {
        "originationNumber": sms["to"],
        "destinationNumber": "+15550100",
        "messageBody": "stop",
        "inboundMessageId": "in-1",
    }
    result = feedback.handle({"Records": [{"Sns": {"Message": json.dumps(reply)}}]})
    assert result == {"results": ["sms consent withdrawn"]}
    assert sim.profiles()["gus"]["consent"]["sms"] is False
    # after the 2-day cooldown, before the trigger's Friday 2pm cut-off: only consent stops it
    later = event("page_viewed", "gus", "2027-02-12T16:00:00Z", path="/pages/delivery")
    sim.run([later], until=sim.clock.current + timedelta(days=1))
    assert len(sim.messages()) == 1
    last = sim.decisions()[-1]
    assert last["at"] == "2027-02-12T16:00:00Z"
    assert (last["outcome"], last["reason"]) == ("suppressed", "no_consent")


def test_a_customer_in_the_control_group_is_recorded_held_out_where_the_send_would_be(sim):
    from nudge.core.delivery import holdout_reason

    assert holdout_reason("cal", "cart_jewelry_high_value", 5, "2027", 0) == "global"
    sim.run([customer("cal", "2027-02-10T09:00:00Z"), _cart("cal", "2027-02-10T10:00:00Z")])

    assert sim.messages() == []
    timeline = [(d["at"], d["outcome"], d["reason"]) for d in sim.decisions()]
    # after the wait and the arbitration window, exactly when a treated customer is emailed
    assert timeline == [
        ("2027-02-10T10:00:00Z", "scheduled", None),
        ("2027-02-10T11:01:00Z", "held_out", "global"),
    ]
