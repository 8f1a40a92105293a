"""Bounces and complaints belong to the address they came from, not to the customer: after a
customer changes their email, the new address is mailed (once consent allows), and the decision
log says which address state stopped a message. Feedback payloads are SES's published examples
(tests/fixtures/ses), bound to the message really sent."""

from __future__ import annotations

from argparse import Namespace

from nudge.core.clock import parse_time
from nudge.core.decisions import Plan
from nudge.explain import explain_command
from nudge.flows import feedback
from nudge.flows.common import update_customer
from tests.conftest import customer, event
from tests.feedback_payloads import ses_for

ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]
OLD, NEW = "Bea.Old@Shop.Example", "bea.new@shop.example"
OLD_STORED = "Bea.Old@shop.example"  # kept with its domain lower-cased (docs/delivery.md)


def _cart(cid: str, at: str) -> dict:
    return event("cart_updated", cid, at, value=300.0, items=ITEMS, event_id=f"{cid}-{at}")


def _new_email(cid: str, at: str, address: str, **consent: bool) -> dict:
    """The customer changes their email address (and, if given, their consent)."""
    return event("customer_updated", cid, at, traits={"email": address}, consent=consent)


def _outcomes(sim, cid: str) -> list[tuple[str, str | None]]:
    return [(d["outcome"], d["reason"]) for d in sim.decisions() if d["customer_id"] == cid]


def _play(sim, events: list[dict], until: str | None = None) -> None:
    """Play ``events``; stop the clock at ``until`` (default: a week after the last one)."""
    sim.run(events, until=parse_time(until) if until else None)


def _first_email(sim, cid: str, email: str = OLD) -> dict:
    """A cart reminder sent on 2027-02-03 at 11:01; the clock stops at 12:00."""
    _play(
        sim,
        [customer(cid, "2027-02-03T09:00:00Z", email=email), _cart(cid, "2027-02-03T10:00:00Z")],
        "2027-02-03T12:00:00Z",
    )
    [mail] = sim.messages()
    return mail


def test_a_bounced_address_does_not_block_the_customers_new_address(sim):
    # Given an email to the old address that bounced permanently
    mail = _first_email(sim, "bea")
    assert feedback.handle(ses_for("bounce", mail)) == {"results": ["undeliverable"]}

    # When she fills a cart again, the old address is not used
    _play(sim, [_cart("bea", "2027-02-10T12:00:00Z")], "2027-02-10T13:00:00Z")
    blocked = sim.decisions()[-1]
    assert (blocked["outcome"], blocked["reason"]) == ("suppressed", "no_address")
    assert blocked["detail"]["address"] == "email"
    assert blocked["detail"]["address_state"] == "bounced"
    assert blocked["detail"]["address_sub_type"] == "General"

    # When she changes to a new address, the next cart reminder goes there
    _play(
        sim, [_new_email("bea", "2027-02-11T09:00:00Z", NEW), _cart("bea", "2027-02-12T10:00:00Z")]
    )
    messages = sim.messages()
    assert [m["to"] for m in messages] == [OLD_STORED, NEW]
    assert messages[-1]["at"].startswith("2027-02-12T11:0")
    states = sim.profiles()["bea"]["email_addresses"]
    assert states["bea.old@shop.example"]["state"] == "bounced"
    assert NEW not in states


def test_the_old_address_bouncing_after_the_change_does_not_block_the_new_one(sim):
    mail = _first_email(sim, "ben", "ben@old.example")
    _play(
        sim, [_new_email("ben", "2027-02-04T09:00:00Z", "ben@new.example")], "2027-02-04T10:00:00Z"
    )

    # SES's bounce for the mail sent to the old address arrives late
    late = ses_for("bounce", mail)
    assert late["detail"]["bounce"]["bouncedRecipients"][0]["emailAddress"] == "ben@old.example"
    feedback.handle(late)
    _play(sim, [_cart("ben", "2027-02-12T10:00:00Z")])

    assert [m["to"] for m in sim.messages()] == ["ben@old.example", "ben@new.example"]
    assert _outcomes(sim, "ben")[-1] == ("sent", None)


def test_the_bounce_is_matched_to_the_address_ses_names_not_to_the_customer(sim):
    # a bounce names another recipient than the customer's address: that one is marked
    mail = _first_email(sim, "bob", "bob@shop.example")
    feedback.handle(ses_for("bounce", mail, to="someone.else@shop.example"))
    _play(sim, [_cart("bob", "2027-02-12T10:00:00Z")])

    assert [m["to"] for m in sim.messages()] == ["bob@shop.example", "bob@shop.example"]
    assert set(sim.profiles()["bob"]["email_addresses"]) == {"someone.else@shop.example"}


def test_the_same_address_written_differently_is_still_the_bounced_one(sim):
    mail = _first_email(sim, "bel", "bel@shop.example")
    feedback.handle(ses_for("bounce", mail))
    _play(
        sim,
        [
            _new_email("bel", "2027-02-04T09:00:00Z", "  BEL@Shop.Example"),
            _cart("bel", "2027-02-12T10:00:00Z"),
        ],
    )

    assert len(sim.messages()) == 1
    assert _outcomes(sim, "bel")[-1] == ("suppressed", "no_address")


def test_a_complaint_withdraws_consent_and_marks_the_address(sim):
    mail = _first_email(sim, "cam")
    assert feedback.handle(ses_for("complaint", mail)) == {"results": ["email consent withdrawn"]}
    _play(sim, [_cart("cam", "2027-02-10T12:00:00Z")], "2027-02-10T13:00:00Z")

    blocked = sim.decisions()[-1]
    assert (blocked["outcome"], blocked["reason"]) == ("suppressed", "no_consent")
    assert blocked["detail"]["consent.email"] is False
    assert blocked["detail"]["address_state"] == "complained"
    assert blocked["detail"]["address_sub_type"] == "abuse"

    # a new address alone does not bring consent back ...
    _play(
        sim,
        [
            _new_email("cam", "2027-02-11T09:00:00Z", "cam@new.example"),
            _cart("cam", "2027-02-11T12:00:00Z"),
        ],
        "2027-02-11T13:00:00Z",
    )
    assert _outcomes(sim, "cam")[-1] == ("suppressed", "no_consent")
    # ... consent given again with it does: the new address is mailed
    _play(
        sim,
        [
            _new_email("cam", "2027-02-12T09:00:00Z", "cam@new.example", email=True),
            _cart("cam", "2027-02-12T12:00:00Z"),
        ],
    )
    assert [m["to"] for m in sim.messages()] == [OLD_STORED, "cam@new.example"]


def test_consent_given_again_does_not_reopen_the_address_that_complained(sim):
    mail = _first_email(sim, "col")
    feedback.handle(ses_for("complaint", mail))
    _play(
        sim,
        [
            event(
                "consent_updated",
                "col",
                "2027-02-11T09:00:00Z",
                channel="email",
                granted=True,
                source="shop",
            ),
            _cart("col", "2027-02-12T10:00:00Z"),
        ],
    )

    assert len(sim.messages()) == 1
    blocked = sim.decisions()[-1]
    assert (blocked["reason"], blocked["detail"]["address_state"]) == ("no_address", "complained")


def test_a_bounce_arriving_while_a_message_waits_stops_it_at_send_time(sim):
    # Given a browse email decided (it waits the 1 minute arbitration window) ...
    views = [
        event(
            "product_viewed",
            "bip",
            f"2027-02-10T10:0{n}:00Z",
            product_id="p-9",
            name="Locket",
            url="https://rose.example/p/locket",
        )
        for n in range(3)
    ]
    _play(sim, [customer("bip", "2027-02-10T09:00:00Z"), *views], "2027-02-10T10:02:30Z")
    assert sim.messages() == []
    # ... when SES reports an earlier mail to that address bounced
    earlier = {
        "customer_id": "bip",
        "message_id": "m-earlier",
        "provider_id": "ses-earlier",
        "to": "bip@shop.example",
    }
    feedback.handle(ses_for("bounce", earlier))
    _play(sim, [])

    assert sim.messages() == []
    last = sim.decisions()[-1]
    assert (last["outcome"], last["reason"]) == ("suppressed", "no_address")
    assert last["detail"]["at_send_time"] is True
    assert last["detail"]["address_state"] == "bounced"


def test_explain_shows_the_address_state_behind_no_address(sim, capsys):
    mail = _first_email(sim, "eve")
    feedback.handle(ses_for("bounce", mail))
    _play(sim, [_cart("eve", "2027-02-10T12:00:00Z")], "2027-02-10T13:00:00Z")

    args = Namespace(customer_id="eve", trigger=None, since=None, from_file=None, table=None)
    assert explain_command(args) == 0
    out = capsys.readouterr().out
    assert "cart_jewelry_high_value: suppressed (no_address" in out
    assert 'address_state = "bounced"' in out
    assert "eve@shop.example" not in out.split("suppressed (no_address")[1]  # no address in it


def test_an_old_profile_flagged_undeliverable_keeps_working(sim):
    # Given a profile written before bounces belonged to addresses (a customer-level flag)
    _play(sim, [customer("old", "2027-02-03T09:00:00Z")], "2027-02-03T09:30:00Z")

    def old_flag(profile, now):
        profile["email_undeliverable"] = True
        return Plan()

    update_customer("old", old_flag)

    # Then the current address counts as bounced
    _play(sim, [_cart("old", "2027-02-04T10:00:00Z")], "2027-02-04T11:00:00Z")
    blocked = sim.decisions()[-1]
    assert (blocked["reason"], blocked["detail"]["address_state"]) == ("no_address", "bounced")
    # and a new address is mailable; the old flag now belongs to the old address
    _play(
        sim,
        [
            _new_email("old", "2027-02-05T09:00:00Z", "old@new.example"),
            _cart("old", "2027-02-06T10:00:00Z"),
        ],
    )
    assert [m["to"] for m in sim.messages()] == ["old@new.example"]
    profile = sim.profiles()["old"]
    assert "email_undeliverable" not in profile
    assert profile["email_addresses"]["old@shop.example"]["state"] == "bounced"
