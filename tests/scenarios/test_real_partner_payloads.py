"""The partners' own published payloads, through the real handlers: Segment's spec examples as its
EventBridge destination delivers them (ingest), every SES event type as the configuration set's
EventBridge destination delivers it, and the two-way SMS example through SNS (feedback).
Sources of every payload: tests/fixtures/*/README.md."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from nudge.core.clock import iso, parse_time
from nudge.flows import feedback
from nudge.sim import Simulation
from tests.conftest import customer, event, keeping
from tests.feedback_payloads import SES_TYPES, fixture, ses_for, sms_reply

ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]
SEGMENT = [
    "identify",
    "page",
    "track_product_viewed",
    "track_product_added",
    "track_cart_viewed",
    "track_checkout_started",
    "track_order_completed",
    "track_order_refunded",
]


def _cart(cid: str, at: str) -> dict:
    return event("cart_updated", cid, at, value=300.0, items=ITEMS, event_id=f"{cid}-{at}")


def _history(profile: dict, kind: str) -> list[dict]:
    return [h for h in profile["history"] if h["type"] == kind]


# ------------------------------------------------------------------------------------ Segment


# what these tests read back from the customer's history, so the config reads it too
SPEC_READS = {
    "customer_updated": [],
    "page_viewed": ["path"],
    "product_viewed": ["product_id", "price"],
    "product_added": [],
    "cart_updated": ["value", "items"],
    "checkout_started": ["cart_id", "value"],
    "order_placed": [],
    "order_refunded": [],
}


def test_the_segment_spec_examples_become_the_profiles_they_describe(tmp_path):
    envelopes = [fixture("segment", name) for name in SEGMENT]
    with Simulation(keeping(tmp_path, SPEC_READS), start=parse_time("2015-02-01T00:00:00Z")) as sim:
        sim.run(envelopes)
        profiles = sim.profiles()
        dead = sim.dead_letters()

    assert dead == []
    # identify: who Peter is; no consent in the message, so nobody may be messaged
    peter = profiles["97980cfea0067"]
    assert (peter["email"], peter["traits"]["first_name"], peter["traits"]["plan"]) == (
        "peter@example.com",
        "Peter",
        "premium",
    )
    assert peter["consent"] == {}
    assert [(h["type"], h["properties"].get("path")) for h in peter["history"]] == [
        ("customer_updated", None),
        ("page_viewed", "/"),
    ]
    # the e-commerce visit, then the refund a week later
    shopper = profiles["AiUGstSDIg"]
    assert [h["type"] for h in shopper["history"] if not h["type"].startswith("value_tier")] == [
        "product_viewed",
        "product_added",
        "cart_updated",
        "checkout_started",
        "order_placed",
        "order_refunded",
    ]
    [viewed] = _history(shopper, "product_viewed")
    assert (viewed["properties"]["product_id"], viewed["properties"]["price"]) == (
        "507f1f77bcf86cd799439011",
        18.99,
    )
    [cart] = _history(shopper, "cart_updated")  # Cart Viewed sends the whole cart
    assert cart["properties"]["value"] == 22.0
    assert [i["quantity"] for i in cart["properties"]["items"]] == [1, 1]
    [checkout] = _history(shopper, "checkout_started")
    assert (checkout["properties"]["cart_id"], checkout["properties"]["value"]) == (
        "50314b8e9bcf000000000000",
        25.0,
    )  # revenue, not value (30)
    [order] = shopper["orders"]
    # the spec's refund (total 30) is more than its order's revenue (22.5): capped, order void
    assert (order["value"], order["refunded"], order["void"]) == (22.5, 22.5, True)
    assert (shopper["orders_count"], shopper["lifetime_value"]) == (0, 0.0)
    assert shopper["cart"]["items"] == []  # the order emptied the cart


def test_two_segment_messages_sharing_a_message_id_count_once(tmp_path):
    # as the spec's own identify and page examples do; Segment gives every real message its own
    identify, page = fixture("segment", "identify"), fixture("segment", "page")
    page["detail"]["messageId"] = identify["detail"]["messageId"]
    with Simulation(keeping(tmp_path, SPEC_READS), start=parse_time("2015-02-01T00:00:00Z")) as sim:
        sim.run([identify, page])
        history = sim.profiles()["97980cfea0067"]["history"]
        dead = sim.dead_letters()

    assert ([h["type"] for h in history], dead) == (["customer_updated"], [])


# ------------------------------------------------------------------------------------ SES


def _email_then(sim, cid: str, react) -> tuple[dict, list[dict]]:
    """Email ``cid`` once, let ``react(mail)`` deliver feedback, then a week later try again."""
    sim.run([customer(cid, "2027-02-03T09:00:00Z"), _cart(cid, "2027-02-03T10:00:00Z")], until=None)
    [mail] = sim.messages()
    react(mail)
    sim.run([_cart(cid, "2027-02-12T10:00:00Z")])
    return mail, sim.messages()


# What a user notices after each SES event type: the handler's answer, and whether the next
# email still goes out (and if not, why).
SES_EXPECTED = {
    "bounce": ("undeliverable", ("suppressed", "no_address")),
    "complaint": ("email consent withdrawn", ("suppressed", "no_consent")),
    "subscription": ("email consent withdrawn", ("suppressed", "no_consent")),
    "delivery": ("noted delivery", ("sent", None)),
    "open": ("noted open", ("sent", None)),
    "click": ("noted click", ("sent", None)),
    "send": ("ignored: Send", ("sent", None)),
    "reject": ("ignored: Reject", ("sent", None)),
    "rendering_failure": ("ignored: Rendering Failure", ("sent", None)),
    "delivery_delay": ("ignored: DeliveryDelay", ("sent", None)),
}


@pytest.mark.parametrize("name", SES_TYPES)
def test_every_ses_event_type_as_published_is_handled(sim, name):
    results = []

    def deliver(mail):
        payload = ses_for(name, mail)
        results.append(feedback.handle(payload)["results"])
        results.append(feedback.handle(payload)["results"])  # EventBridge delivers at least once

    _, messages = _email_then(sim, "ses", deliver)

    answer, (outcome, reason) = SES_EXPECTED[name]
    assert results[0][0].startswith(answer)
    if answer.startswith("ignored"):
        assert len(results[0][0]) > len(answer) + 3  # says why
    last = sim.decisions()[-1]
    assert (last["outcome"], last["reason"]) == (outcome, reason)
    assert len(messages) == (2 if outcome == "sent" else 1)
    if outcome == "sent":
        assert messages[-1]["to"] == "ses@shop.example"


@pytest.mark.keeps({"email_delivered": [], "email_opened": [], "email_clicked": ["link"]})
@pytest.mark.parametrize(
    ("name", "kind"),
    [("delivery", "email_delivered"), ("open", "email_opened"), ("click", "email_clicked")],
)
def test_deliveries_opens_and_clicks_are_recorded_once_against_nudges_message(sim, name, kind):
    sim.run([customer("oli", "2027-02-10T09:00:00Z"), _cart("oli", "2027-02-10T10:00:00Z")])
    [mail] = sim.messages()
    payload = ses_for(name, mail)
    feedback.handle(payload)
    feedback.handle(payload)  # redelivered

    [entry] = _history(sim.profiles()["oli"], kind)
    assert entry["properties"]["message_id"] == mail["message_id"]
    assert entry["properties"]["provider_id"] == mail["provider_id"]
    if name == "click":
        assert entry["properties"]["link"].startswith("http://docs.aws.amazon.com/ses/")


@pytest.mark.keeps({"email_opened": []})
def test_every_open_of_a_message_is_recorded_not_just_the_first(sim):
    sim.run([customer("opa", "2027-02-10T09:00:00Z"), _cart("opa", "2027-02-10T10:00:00Z")])
    [mail] = sim.messages()
    first = ses_for("open", mail)
    again = ses_for("open", mail)
    opened = parse_time(first["detail"]["open"]["timestamp"])
    again["detail"]["open"]["timestamp"] = iso(opened + timedelta(hours=20))  # opened again
    for payload in (first, again, first):
        feedback.handle(payload)

    assert len(_history(sim.profiles()["opa"], "email_opened")) == 2


def test_a_subscription_event_that_keeps_the_customer_subscribed_changes_nothing(sim):
    def resubscribe(mail):
        payload = ses_for("subscription", mail)
        payload["detail"]["subscription"]["newTopicPreferences"]["unsubscribeAll"] = False
        [result] = feedback.handle(payload)["results"]
        assert result.startswith("ignored: Subscription")

    _, messages = _email_then(sim, "sue", resubscribe)
    assert len(messages) == 2


def test_ses_events_nudge_cannot_use_are_ignored_with_a_reason_and_never_crash(sim):
    sim.run([customer("ned", "2027-02-10T09:00:00Z"), _cart("ned", "2027-02-10T10:00:00Z")])
    [mail] = sim.messages()
    before = sim.profiles()["ned"]
    unknown = ses_for("delivery", mail)
    unknown["detail"]["eventType"] = "Quarantine"
    not_ours = fixture("ses", "bounce")  # the published record: no nudge tags
    odd_tags = ses_for("bounce", mail)
    odd_tags["detail"]["mail"]["tags"]["customer"] = "ned"  # a string, not SES's list
    no_recipients = ses_for("bounce", mail)
    no_recipients["detail"]["bounce"]["bouncedRecipients"] = "oops"
    no_recipients["detail"]["mail"]["destination"] = None
    cases = {
        "unknown": (unknown, "ignored: unknown SES event type 'Quarantine'"),
        "not ours": (not_ours, "ignored: no customer tag"),
        "odd tags": (odd_tags, "ignored: no customer tag"),
        "no recipients": (no_recipients, "ignored: bounce names no address"),
        "detail not an object": (
            {"source": "aws.ses", "detail-type": "Email Bounced", "detail": "Bounce"},
            "ignored: not a feedback event",
        ),
        "nothing": ({}, "ignored: not a feedback event"),
    }
    for label, (payload, expected) in cases.items():
        assert feedback.handle(payload) == {"results": [expected]}, label

    after = sim.profiles()["ned"]
    assert (after["consent"], after["history"]) == (before["consent"], before["history"])


def test_ses_events_that_come_through_an_sns_destination_are_understood_too(sim):
    def through_sns(mail):
        record = ses_for("complaint", mail)["detail"]
        sns = fixture("sms", "inbound_sns_event")
        sns["Records"][0]["Sns"]["Message"] = json.dumps(record)
        assert feedback.handle(sns) == {"results": ["email consent withdrawn"]}

    _, messages = _email_then(sim, "sam", through_sns)
    assert len(messages) == 1
    assert sim.profiles()["sam"]["consent"]["email"] is False


# ------------------------------------------------------------------------------------ SMS


def _texted(sim, cid: str) -> dict:
    view = event("page_viewed", cid, "2027-02-10T15:00:00Z", path="/pages/delivery")
    sim.run([customer(cid, "2027-02-10T14:00:00Z"), view], until=parse_time("2027-02-10T16:00:00Z"))
    [sms] = sim.messages()
    return sms


def test_the_published_inbound_sms_from_an_unknown_number_is_ignored(sim):
    assert feedback.handle(fixture("sms", "inbound_sns_event")) == {
        "results": ["ignored: number not known"]
    }


@pytest.mark.parametrize("body", ["STOP", "stop", "Stop please", "  UNSUBSCRIBE  "])
def test_a_stop_reply_in_the_published_shape_withdraws_sms_consent(sim, body):
    sms = _texted(sim, "gus")
    assert feedback.handle(sms_reply(sms["to"], body)) == {"results": ["sms consent withdrawn"]}
    assert sim.profiles()["gus"]["consent"]["sms"] is False

    # within the trigger's season and past its 2d cooldown: only the STOP can stop it
    later = event("page_viewed", "gus", "2027-02-12T16:00:00Z", path="/pages/delivery")
    sim.run([later], until=sim.clock.current + timedelta(days=1))
    assert len(sim.messages()) == 1
    assert (sim.decisions()[-1]["outcome"], sim.decisions()[-1]["reason"]) == (
        "suppressed",
        "no_consent",
    )


@pytest.mark.keeps({"consent_updated": ["channel", "source"]})
def test_start_after_stop_grants_sms_consent_again_and_a_redelivered_reply_counts_once(sim):
    sms = _texted(sim, "gia")
    stop = sms_reply(sms["to"], "STOP", inbound_id="in-stop")
    results = [
        feedback.handle(p)["results"][0]
        for p in (stop, stop, sms_reply(sms["to"], "START", inbound_id="in-start"))
    ]

    assert results == ["sms consent withdrawn", "sms consent withdrawn", "sms consent granted"]
    profile = sim.profiles()["gia"]
    assert profile["consent"]["sms"] is True
    assert [
        h["properties"]["source"]
        for h in _history(profile, "consent_updated")
        if h["properties"].get("channel") == "sms"
        and h["properties"].get("source") in ("sms_stop", "sms_start")
    ] == ["sms_stop", "sms_start"]


def test_other_replies_and_broken_sns_messages_are_ignored_with_a_reason(sim):
    sms = _texted(sim, "hal")
    broken = fixture("sms", "inbound_sns_event")
    broken["Records"][0]["Sns"]["Message"] = "[1, 2]"
    not_json = fixture("sms", "inbound_sns_event")
    not_json["Records"][0]["Sns"]["Message"] = "STOP"
    no_message = fixture("sms", "inbound_sns_event")
    del no_message["Records"][0]["Sns"]["Message"]
    payloads = [sms_reply(sms["to"], "EXAMPLE"), broken, not_json, no_message]

    assert [feedback.handle(p)["results"][0] for p in payloads] == [
        "noted reply",  # an answer, not a keyword: recorded as sms_replied
        "ignored: not a JSON object",
        "ignored: not a JSON object",
        "ignored: not a JSON object",
    ]
    assert sim.profiles()["hal"]["consent"]["sms"] is True
    [reply] = _history(sim.profiles()["hal"], "sms_replied")
    assert reply["properties"]["message_id"] == sms["message_id"]


def test_a_complaint_that_names_no_address_still_withdraws_consent(sim):
    def complain(mail):
        payload = ses_for("complaint", mail)
        payload["detail"]["complaint"]["complainedRecipients"] = []
        del payload["detail"]["mail"]["destination"]
        assert feedback.handle(payload) == {"results": ["email consent withdrawn"]}

    _, messages = _email_then(sim, "cid", complain)
    assert len(messages) == 1
    profile = sim.profiles()["cid"]
    assert profile["consent"]["email"] is False
    assert "email_addresses" not in profile
