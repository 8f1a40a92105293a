"""Engagement events drive rules: what SES and phones report about nudge's messages, and nudge's
own sends, are recorded on the customer and decided on in that same write (docs/config.md,
"Engagement events"). Everything runs through the real handlers on the simulated AWS with the
simulated clock.

SES events are built as the configuration set's EventBridge destination delivers them: the
``detail-type`` names are EventBridge's (https://docs.aws.amazon.com/eventbridge/latest/ref/
events-ref-ses.html: "Email Opened", "Email Clicked", ...) and ``detail`` has the fields of the
published examples (awsdocs/amazon-ses-developer-guide, doc-source/
event-publishing-retrieving-firehose-examples.md: ``open: {ipAddress, timestamp, userAgent}``,
``click: {ipAddress, link, linkTags, timestamp, userAgent}``, ``mail.tags`` as name -> [values]).
``mail.tags`` are the EmailTags nudge really passed to SES's SendEmail, captured on the boto3
client (the simulated SES does not keep them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from nudge.aws import clients as aws
from nudge.core.clock import iso, parse_time
from nudge.flows import feedback
from nudge.sim import Simulation
from tests.conftest import customer, event, make_config, reading

ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]
DETAIL_TYPES = {
    "Delivery": "Email Delivered",
    "Open": "Email Opened",
    "Click": "Email Clicked",
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
}

OPENED_THANKS = """\
id: opened_thanks
description: "Opened the cart reminder: follow up with the gift guide at once"
when: {event: email_opened, where: {properties.trigger: cart_jewelry_high_value}}
channel: email
email:
  subject: "Our gift guide, {{ first_name | default('friend') }}"
  text: "Picked for you. Unsubscribe: {{ unsubscribe_url }}"
"""
SMS_IF_UNOPENED = """\
id: cart_sms_if_unopened
description: "Cart reminder emailed and not opened within 2 days: text instead"
when: {event: message_sent, where: {properties.trigger: cart_jewelry_high_value}}
wait: 2d
cancel_if: [{event: email_opened, same_message: true}]
channel: sms
sms: {text: "Rose & Co: your ring is still in your cart. Reply STOP to opt out"}
"""
GIFT_GUIDE = """\
id: gift_guide
description: "Looked at gifts and clicked none of our emails in a week"
when: {event: page_viewed, where: {properties.path: {contains: /gifts}}}
who: {did_not: {event: email_clicked, within: 7d}}
channel: email
email:
  subject: "Need a hand choosing?"
  text: "Our stylists can help. Unsubscribe: {{ unsubscribe_url }}"
"""
ECHO = """\
id: echo_every_send
description: "A careless rule that reacts to every message nudge sends, its own included"
when: {event: message_sent}
channel: email
email:
  subject: "One more thing"
  text: "And another. Unsubscribe: {{ unsubscribe_url }}"
"""
PING = """\
id: ping
when: {event: message_sent, where: {properties.trigger: {in: [cart_jewelry_high_value, pong]}}}
channel: email
email: {subject: "ping", text: "ping {{ unsubscribe_url }}"}
"""
PONG = """\
id: pong
when: {event: message_sent, where: {properties.trigger: ping}}
channel: email
email: {subject: "pong", text: "pong {{ unsubscribe_url }}"}
"""


class Shop(Simulation):
    """The simulation, plus the EmailTags nudge passed to SES's SendEmail, by our message id
    (the simulated SES does not keep them; SES echoes them back in every event as
    ``mail.tags``)."""

    def __enter__(self) -> Shop:
        super().__enter__()
        self.tags: dict[str, dict[str, str]] = {}
        aws.client("sesv2").meta.events.register(
            "provide-client-params.sesv2.SendEmail", self._keep_tags
        )
        return self

    def _keep_tags(self, params: dict[str, Any], **_: Any) -> None:
        tags = {t["Name"]: t["Value"] for t in params.get("EmailTags") or ()}
        self.tags[tags.get("message", "?")] = tags


@pytest.fixture
def engage(tmp_path) -> Iterator[Any]:
    """A factory: a simulation of the sample config plus the given triggers."""
    shops: list[Shop] = []

    def start(_reads: dict[str, list[str]] | None = None, **triggers: str) -> Shop:
        files = {f"triggers/{name}.yaml": text for name, text in triggers.items()}
        if _reads:  # the history keeps only what the config reads (tests/conftest.py reading)
            files["segments.yaml"] = reading(_reads)
        shop = Shop(make_config(tmp_path, **files), start=parse_time("2027-01-01T00:00:00Z"))
        shops.append(shop.__enter__())
        return shop

    yield start
    for shop in shops:
        shop.__exit__(None, None, None)


def _ses(sim: Shop, kind: str, mail: dict[str, Any], **section: Any) -> dict[str, Any]:
    """An SES event about a message nudge sent (``mail`` as ``sim.messages()`` lists it)."""
    at = iso(sim.clock.current)
    tags = {name: [value] for name, value in sim.tags[mail["message_id"]].items()}
    tags.update({"ses:configuration-set": ["nudge"], "ses:from-domain": ["rose.example"]})
    detail: dict[str, Any] = {
        "eventType": kind,
        "mail": {
            "timestamp": mail["at"],
            "source": "hello@rose.example",
            "messageId": mail["provider_id"],
            "destination": [mail["to"]],
            "headersTruncated": False,
            "tags": tags,
        },
        kind.lower(): {"timestamp": at, **section},
    }
    return {
        "version": "0",
        "id": f"ses-{kind}-{mail['provider_id']}",
        "source": "aws.ses",
        "detail-type": DETAIL_TYPES[kind],
        "account": "123456789012",
        "time": at,
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def _report(sim: Simulation, event: dict[str, Any]) -> list[str]:
    """Hand a provider's report to the feedback handler, then let the outbox stream flow."""
    results = feedback.handle(event)["results"]
    sim.pump()
    return results


def _opened(sim: Shop, mail: dict[str, Any]) -> dict[str, Any]:
    return _ses(
        sim,
        "Open",
        mail,
        ipAddress="192.0.2.1",
        userAgent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
    )


def _clicked(sim: Shop, mail: dict[str, Any], link: str) -> dict[str, Any]:
    return _ses(
        sim,
        "Click",
        mail,
        ipAddress="192.0.2.1",
        link=link,
        linkTags={"cta": ["checkout"]},
        userAgent="Mozilla/5.0",
    )


def _cart(cid: str, at: str) -> dict[str, Any]:
    return event("cart_updated", cid, at, value=300.0, items=ITEMS, event_id=f"{cid}-cart-{at}")


def _sent(sim: Simulation, cid: str | None = None) -> list[tuple[str, str, str, str]]:
    """(customer, trigger, channel, at) of every message that went out, in send order."""
    return [
        (m["customer_id"], m["trigger"], m["channel"], m["at"])
        for m in sim.messages()
        if cid in (None, m["customer_id"])
    ]


def _steps(sim: Simulation, cid: str, trigger: str) -> list[tuple[str, str, str | None, str]]:
    return [
        (d["at"], d["outcome"], d["reason"], d["event_type"])
        for d in sim.decisions()
        if d["customer_id"] == cid and d["trigger"] == trigger
    ]


def _reminded(sim: Simulation, *cids: str, before: list[dict[str, Any]] = ()) -> list[dict]:
    """Customers whose jewelry carts (14:03Z) were reminded by email at 15:04Z; their emails."""
    carts = [
        e
        for cid in cids
        for e in (customer(cid, "2027-02-10T14:00:00Z"), _cart(cid, "2027-02-10T14:03:00Z"))
    ]
    sim.run([*before, *carts], until=parse_time("2027-02-10T15:30:00Z"))
    mails = [m for m in sim.messages() if m["trigger"] == "cart_jewelry_high_value"]
    assert [(m["customer_id"], m["at"]) for m in mails] == [
        (cid, "2027-02-10T15:04:00Z") for cid in cids
    ]
    return mails


def test_an_email_opened_trigger_sends_its_message_to_the_opener_after_the_open(engage):
    sim = engage(
        _reads={"email_opened": ["message_id", "trigger", "channel", "kind"]},
        opened_thanks=OPENED_THANKS,
    )
    # Given pia reminded of her cart, and rui emailed by another trigger (3 product views)
    views = [event("product_viewed", "rui", f"2027-02-10T12:0{i}:00Z") for i in range(3)]
    [mail] = _reminded(sim, "pia", before=[customer("rui", "2027-02-10T11:00:00Z"), *views])
    [browse] = [m for m in sim.messages() if m["customer_id"] == "rui"]
    assert browse["trigger"] == "browse_repeat_view"
    sim.advance(parse_time("2027-02-10T16:00:00Z"))

    # (nudge tagged the email with whom and what it is about; SES echoes the tags back)
    assert sim.tags[mail["message_id"]] == {
        "customer": "pia",
        "message": mail["message_id"],
        "trigger": "cart_jewelry_high_value",
    }

    # When both open their email
    open_report = _opened(sim, mail)
    assert _report(sim, open_report) == ["noted open"]
    assert _report(sim, _opened(sim, browse)) == ["noted open"]
    sim.advance(parse_time("2027-02-11T00:00:00Z"))

    # Then the gift guide went to pia, one arbitration minute after her open; rui's open was
    # of another trigger's email, which `where: {properties.trigger: ...}` leaves out
    assert _sent(sim, "pia") == [
        ("pia", "cart_jewelry_high_value", "email", "2027-02-10T15:04:00Z"),
        ("pia", "opened_thanks", "email", "2027-02-10T16:01:00Z"),
    ]
    assert sim.messages()[-1]["to"] == "pia@shop.example"
    assert _steps(sim, "pia", "opened_thanks") == [
        ("2027-02-10T16:01:00Z", "sent", None, "email_opened")
    ]
    assert _sent(sim, "rui") == [("rui", "browse_repeat_view", "email", "2027-02-10T12:03:00Z")]
    assert _steps(sim, "rui", "opened_thanks") == []  # its `when` did not match: no decision
    # and the open is in pia's history, about that message
    [opened] = [h for h in sim.profiles()["pia"]["history"] if h["type"] == "email_opened"]
    assert opened["properties"]["message_id"] == mail["message_id"]
    assert opened["properties"]["trigger"] == "cart_jewelry_high_value"
    assert opened["properties"]["channel"] == "email"
    assert opened["properties"]["kind"] == "trigger"
    assert opened["ts"] == parse_time("2027-02-10T16:00:00Z").timestamp()
    assert sim.profiles()["pia"]["last_seen_at"] == "2027-02-10T14:03:00Z"  # the cart, not us

    # The same report delivered again changes nothing: no second gift guide
    _report(sim, open_report)
    sim.advance(parse_time("2027-02-12T00:00:00Z"))
    assert [m["trigger"] for m in sim.messages()].count("opened_thanks") == 1


def test_send_email_wait_two_days_and_text_only_if_that_email_was_not_opened(engage):
    sim = engage(cart_sms_if_unopened=SMS_IF_UNOPENED)
    # Given three customers reminded of their cart by email at 15:04Z, one of whom (uma) had
    # another email before (the browse reminder, 12:03Z)
    views = [event("product_viewed", "uma", f"2027-02-10T12:0{i}:00Z") for i in range(3)]
    before = [customer("uma", "2027-02-10T11:00:00Z"), *views]
    _, opener, _ = _reminded(sim, "sol", "tev", "uma", before=before)
    [browse] = [m for m in sim.messages() if m["trigger"] == "browse_repeat_view"]
    assert (browse["customer_id"], browse["at"]) == ("uma", "2027-02-10T12:03:00Z")
    for cid in ("sol", "tev", "uma"):
        assert _steps(sim, cid, "cart_sms_if_unopened") == [
            ("2027-02-10T15:04:00Z", "scheduled", None, "message_sent")
        ]

    # When tev opens the cart reminder, and uma opens only the other (browse) email
    sim.advance(parse_time("2027-02-11T09:00:00Z"))
    _report(sim, _opened(sim, opener))
    _report(sim, _opened(sim, browse))
    sim.advance(parse_time("2027-02-14T00:00:00Z"))

    # Then the text goes two days after the email to sol (never opened) and to uma (opened
    # another message), at 10:05 New York time; tev's wait was cancelled by the open
    texts = [(m["customer_id"], m["to"], m["at"]) for m in sim.messages() if m["channel"] == "sms"]
    assert texts == [
        ("sol", "+15555550100", "2027-02-12T15:05:00Z"),
        ("uma", "+15555550100", "2027-02-12T15:05:00Z"),
    ]
    [cancelled] = [
        d
        for d in sim.decisions()
        if d["customer_id"] == "tev"
        and d["trigger"] == "cart_sms_if_unopened"
        and d["outcome"] == "cancelled"
    ]
    assert (cancelled["at"], cancelled["event_type"]) == ("2027-02-11T09:00:00Z", "email_opened")
    assert cancelled["detail"]["cancelled_by"] == "email_opened"
    assert cancelled["detail"]["same_message"] == opener["message_id"]
    assert _steps(sim, "uma", "cart_sms_if_unopened")[-1][:2] == ("2027-02-12T15:05:00Z", "sent")


def test_did_not_click_within_7d_picks_the_audience(engage):
    sim = engage(
        _reads={"email_clicked": ["link", "message_id", "link_tags"]}, gift_guide=GIFT_GUIDE
    )
    clicker, _ = _reminded(sim, "vik", "wyn")
    sim.advance(parse_time("2027-02-10T16:00:00Z"))
    result = _report(sim, _clicked(sim, clicker, "https://rose.example/cart?token=secret#top"))
    assert result == ["noted click"]

    gifts = [
        event("page_viewed", cid, "2027-02-11T15:00:00Z", path="/collections/gifts")
        for cid in ("vik", "wyn")
    ]
    later = event("page_viewed", "vik", "2027-02-18T15:00:00Z", path="/collections/gifts")
    sim.run([*gifts, later], until=parse_time("2027-02-19T00:00:00Z"))

    # Then only the customer who clicked none of our emails in 7 days got the guide; the
    # clicker got it once the click was more than 7 days old
    guides = [(m["customer_id"], m["at"]) for m in sim.messages() if m["trigger"] == "gift_guide"]
    assert guides == [("wyn", "2027-02-11T15:01:00Z"), ("vik", "2027-02-18T15:01:00Z")]
    assert _steps(sim, "vik", "gift_guide")[0] == (
        "2027-02-11T15:00:00Z",
        "suppressed",
        "audience",
        "page_viewed",
    )
    # and the click is kept without the link's query (it may carry the customer's tokens)
    [click] = [h for h in sim.profiles()["vik"]["history"] if h["type"] == "email_clicked"]
    assert click["properties"]["link"] == "https://rose.example/cart"
    assert click["properties"]["message_id"] == clicker["message_id"]
    assert click["properties"]["link_tags"] == {"cta": ["checkout"]}


def test_a_trigger_on_message_sent_never_fires_on_its_own_messages(engage):
    from tests.scenarios.test_daily_recompute import BusTap

    sim = engage(echo_every_send=ECHO)
    tap = BusTap()
    sim.run(
        [customer("xan", "2027-02-10T14:00:00Z"), _cart("xan", "2027-02-10T14:03:00Z")],
        until=parse_time("2027-02-20T00:00:00Z"),
    )

    # Then the echo answered the cart reminder once, and never its own message, over ten days
    assert _sent(sim, "xan") == [
        ("xan", "cart_jewelry_high_value", "email", "2027-02-10T15:04:00Z"),
        ("xan", "echo_every_send", "email", "2027-02-10T15:05:00Z"),
    ]
    # and both sends were announced on the bus for other consumers
    announced = [
        e["detail"]["properties"] for e in tap.events() if e["detail-type"] == "message_sent"
    ]
    assert [(p["trigger"], p["channel"], p["chain"]) for p in announced] == [
        ("cart_jewelry_high_value", "email", ["cart_jewelry_high_value"]),
        ("echo_every_send", "email", ["cart_jewelry_high_value", "echo_every_send"]),
    ]
    assert [p["message_id"] for p in announced] == [m["message_id"] for m in sim.messages()]


def test_two_triggers_answering_each_others_sends_stop_after_one_round(engage):
    sim = engage(ping=PING, pong=PONG)
    sim.run(
        [customer("yul", "2027-02-10T14:00:00Z"), _cart("yul", "2027-02-10T14:03:00Z")],
        until=parse_time("2027-02-20T00:00:00Z"),
    )

    # cart -> ping -> pong, and pong's send does not start ping again (ping is in its chain);
    # the frequency cap (2 a day) holds pong until the next day
    assert [(m["trigger"], m["at"]) for m in sim.messages()] == [
        ("cart_jewelry_high_value", "2027-02-10T15:04:00Z"),
        ("ping", "2027-02-10T15:05:00Z"),
        ("pong", "2027-02-11T15:04:01Z"),
    ]


def test_an_sms_reply_that_is_not_a_keyword_is_sms_replied_about_the_last_text(engage):
    replied = """\
id: reply_received
when: {event: sms_replied, where: {properties.trigger: last_minute_delivery}}
channel: email
email: {subject: "Thanks for your reply", text: "We will call you. {{ unsubscribe_url }}"}
"""
    sim = engage(_reads={"sms_replied": ["message_id", "keyword"]}, reply_received=replied)
    view = event("page_viewed", "zed", "2027-02-10T15:00:00Z", path="/pages/delivery")
    sim.run(
        [customer("zed", "2027-02-10T14:00:00Z"), view], until=parse_time("2027-02-10T15:30:00Z")
    )
    [sms] = sim.messages()
    reply = {
        "originationNumber": sms["to"],
        "destinationNumber": "+15550100",
        "messageKeyword": "JOIN",
        "messageBody": "Can I pick it up?",
        "inboundMessageId": "cae173d2-66b9-564c-8309-21f858e9fb84",
        "previousPublishedMessageId": sms["provider_id"],
    }
    sim.advance(parse_time("2027-02-10T16:00:00Z"))

    result = _report(sim, {"Records": [{"Sns": {"Message": json.dumps(reply)}}]})
    sim.advance(sim.clock.current + timedelta(hours=1))

    assert result == ["noted reply"]
    assert _sent(sim, "zed")[-1] == ("zed", "reply_received", "email", "2027-02-10T16:01:00Z")
    [entry] = [h for h in sim.profiles()["zed"]["history"] if h["type"] == "sms_replied"]
    assert entry["properties"]["message_id"] == sms["message_id"]
    assert entry["properties"]["keyword"] == "CAN"
    assert "Can I pick it up?" not in json.dumps(sim.profiles()["zed"])  # the text is not kept


def test_a_complaint_about_the_email_cancels_the_follow_up_text_too(engage):
    journey = SMS_IF_UNOPENED.replace(
        "cancel_if: [{event: email_opened, same_message: true}]",
        "cancel_if: [{event: email_opened, same_message: true},"
        " {event: email_complained, same_message: true}]",
    )
    sim = engage(
        _reads={"email_delivered": [], "consent_updated": [], "email_complained": []},
        cart_sms_if_unopened=journey,
    )
    [mail] = _reminded(sim, "abe")
    delivered = _ses(
        sim,
        "Delivery",
        mail,
        processingTimeMillis=1200,
        recipients=[mail["to"]],
        smtpResponse="250 2.6.0 Message received",
        reportingMTA="a8-1.smtp-out.example",
    )
    assert _report(sim, delivered) == ["noted delivery"]
    sim.advance(parse_time("2027-02-11T09:00:00Z"))

    complaint = _ses(
        sim,
        "Complaint",
        mail,
        complainedRecipients=[{"emailAddress": mail["to"]}],
        feedbackId="0100017c-example-000000",
        complaintFeedbackType="abuse",
        userAgent="Mozilla/5.0",
        arrivalDate=iso(sim.clock.current),
    )
    assert _report(sim, complaint) == ["email consent withdrawn"]
    sim.advance(parse_time("2027-02-14T00:00:00Z"))

    # Then no text: the complaint (recorded after the consent withdrawal) cancelled the wait
    assert _sent(sim, "abe") == [
        ("abe", "cart_jewelry_high_value", "email", "2027-02-10T15:04:00Z")
    ]
    assert _steps(sim, "abe", "cart_sms_if_unopened") == [
        ("2027-02-10T15:04:00Z", "scheduled", None, "message_sent"),
        ("2027-02-11T09:00:00Z", "cancelled", None, "email_complained"),
    ]
    history = [
        (h["type"], h["properties"].get("message_id"))
        for h in sim.profiles()["abe"]["history"]
        if h["type"] != "customer_updated"
    ]
    assert history[-3:] == [
        ("email_delivered", mail["message_id"]),
        ("consent_updated", None),
        ("email_complained", mail["message_id"]),
    ]
    assert sim.profiles()["abe"]["consent"]["email"] is False
