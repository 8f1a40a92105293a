"""The send-time verdict, table-driven: each story is a message, the customer as read at send
time and the clock; the answer is what a shopper would notice (sent, later and until when,
never and why, or held out as control)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nudge.config import load_config
from nudge.core.clock import iso, parse_time
from nudge.core.delivery import holdout_reason
from nudge.core.profile import new_profile
from nudge.core.verdict import Defer, HoldOut, Send, Suppress, verdict
from tests.conftest import make_config

DELIVERY_TEXT = """\
id: delivery_text
description: Delivery cut-off text (no audience rule, so only send-time checks decide)
enabled: true
when: {event: page_viewed}
priority: 90
expires: 24h
channel: sms
sms: {text: "Rose & Co: order by Fri 2pm ET. Reply STOP to opt out"}
"""
WISHLIST_EMAIL = """\
id: wishlist_email
description: Saved-for-later email, same priority as the browse email
enabled: true
when: {event: wishlist_added}
priority: 50
channel: email
email: {subject: "Saved for you", text: "Still there: {{ event.properties.name }}"}
"""
HOUR = 3600.0
DAY = 24 * HOUR


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder: Path = make_config(
        tmp_path_factory.mktemp("verdict"),
        **{
            "triggers/delivery_text.yaml": DELIVERY_TEXT,
            "triggers/wishlist_email.yaml": WISHLIST_EMAIL,
        },
    )
    return load_config(str(folder))


def _customer(held: bool) -> str:
    """A customer id in (or out of) the sample config's 5% global control group."""
    n = 0
    while True:
        cid = f"c-{n}"
        if (holdout_reason(cid, "", 5, "2027", 0) == "global") == held:
            return cid
        n += 1


BEA = _customer(held=False)
HAL = _customer(held=True)
NOW = parse_time("2027-02-10T15:00:00Z")  # 10:00 in New York, a Wednesday


def profile(cid: str = BEA, **changes: Any) -> dict[str, Any]:
    """A customer with an address, a phone, both consents, in New York."""
    doc = new_profile(cid)
    doc.update(
        traits={"first_name": "Bea"},
        email=f"{cid}@shop.example",
        phone="+15555550100",
        timezone="America/New_York",
        consent={"email": True, "sms": True},
    )
    doc.update(changes)
    return doc


def message(
    trigger: str = "browse_repeat_view",
    channel: str = "email",
    created: datetime = NOW - timedelta(minutes=1),
    mid: str = "m-mine",
    cid: str = BEA,
    **extra: Any,
) -> dict[str, Any]:
    """An outbox message as dispatch reads it, due now (created one arbitration window ago)."""
    priority = {"cart_jewelry_high_value": 80, "delivery_text": 90}.get(trigger, 50)
    return {
        "message_id": mid,
        "customer_id": cid,
        "trigger": trigger,
        "channel": channel,
        "created_at": iso(created),
        "send_at": iso(created + timedelta(minutes=1)),
        "priority": priority,
        "event": {"detail-type": "product_viewed", "detail": {"event_id": "e-1"}},
        "expires_at": None,
        "kind": "trigger",
        "variant": None,
        "status": "pending",
        **extra,
    }


def sent(trigger: str, channel: str, ago: float, mid: str = "m-old", state: str = "sent") -> dict:
    """A ledger entry: a message of ``trigger`` that went out ``ago`` seconds before NOW."""
    return {
        "trigger": trigger,
        "channel": channel,
        "ts": NOW.timestamp() - ago,
        "mid": mid,
        "state": state,
    }


def order(ago: float) -> dict[str, Any]:
    return {"type": "order_placed", "ts": NOW.timestamp() - ago, "id": "o-1", "properties": {}}


CART = "cart_jewelry_high_value"
TEXT = "delivery_text"
WISH = "wishlist_email"

# (story id, message, profile, now, pending, expected outcome class, reason, detail subset)
CASES = [
    pytest.param(message(), profile(), NOW, [], Send, None, {}, id="bea-gets-her-browse-email"),
    pytest.param(
        message(TEXT, "sms", expires_at=iso(NOW - timedelta(seconds=1))),
        profile(),
        NOW,
        [],
        Suppress,
        "expired",
        {},
        id="a-text-held-past-its-24h-expiry-is-dropped",
    ),
    pytest.param(
        message(TEXT, "sms", expires_at=iso(NOW)),
        profile(),
        NOW,
        [],
        Suppress,
        "expired",
        {"expires_at": iso(NOW)},
        id="expiry-exactly-at-now-drops-it",
    ),
    pytest.param(
        message(TEXT, "sms", expires_at=iso(NOW + timedelta(seconds=1))),
        profile(),
        NOW,
        [],
        Send,
        None,
        {},
        id="one-second-before-expiry-it-still-goes",
    ),
    pytest.param(
        message(),
        None,
        NOW,
        [],
        Suppress,
        "audience",
        {"error": "no profile"},
        id="an-erased-customer-gets-nothing",
    ),
    pytest.param(
        message(CART, created=parse_time("2027-02-14T23:59:00Z")),
        profile(),
        parse_time("2027-02-15T00:00:00Z"),
        [],
        Suppress,
        "inactive",
        {"at_send_time": True, "active_until": "2027-02-15T00:00:00Z"},
        id="cart-reminder-due-as-valentines-season-ends-is-inactive-at-send-time",
    ),
    pytest.param(
        message("retired_trigger"),
        profile(),
        NOW,
        [],
        Suppress,
        "inactive",
        {"at_send_time": True, "trigger_removed": True},
        id="a-trigger-deleted-from-the-config-stops-its-queued-message",
    ),
    pytest.param(
        message(CART),
        profile(sends=[sent(CART, "email", 30, mid="m-newer", state="queued")]),
        NOW,
        [],
        Suppress,
        "superseded",
        {"replaced_by": "m-newer"},
        id="a-newer-cart-reminder-supersedes-the-older-one",
    ),
    pytest.param(
        message(),
        profile(history=[order(2 * HOUR)], orders_count=1),
        NOW,
        [],
        Suppress,
        "audience",
        {"at_send_time": True},
        id="she-ordered-meanwhile-so-did-not-keeps-the-browse-email-back",
    ),
    pytest.param(
        message(),
        profile(consent={"email": False, "sms": True}),
        NOW,
        [],
        Suppress,
        "no_consent",
        {"consent.email": False},
        id="she-unsubscribed-from-email-while-it-waited",
    ),
    pytest.param(
        message(),
        profile(
            email_addresses={
                f"{BEA}@shop.example": {
                    "state": "bounced",
                    "at": "2027-02-10T11:02:10.669Z",
                    "sub_type": "General",
                }
            }
        ),
        NOW,
        [],
        Suppress,
        "no_address",
        {"address_state": "bounced", "address_sub_type": "General"},
        id="her-address-bounced-so-it-is-never-mailed-again",
    ),
    pytest.param(
        message(TEXT, "sms"),
        profile(),
        parse_time("2027-02-11T03:30:00Z"),  # 22:30 EST
        [],
        Defer,
        "quiet_hours",
        {"until": parse_time("2027-02-11T13:00:00Z"), "local_time": "22:30 America/New_York"},
        id="a-text-at-half-past-ten-at-night-waits-for-8am",
    ),
    pytest.param(
        message(),
        profile(),
        parse_time("2027-02-11T03:30:00Z"),
        [],
        Send,
        None,
        {},
        id="quiet-hours-are-for-texts-only-the-email-goes",
    ),
    pytest.param(
        message(TEXT, "sms"),
        profile(timezone="Europe/London"),
        parse_time("2027-02-11T03:30:00Z"),
        [],
        Defer,
        "quiet_hours",
        {"until": parse_time("2027-02-11T08:00:00Z"), "local_time": "03:30 Europe/London"},
        id="quiet-hours-follow-the-customers-own-time-zone",
    ),
    pytest.param(
        message(TEXT, "sms"),
        profile(),
        parse_time("2027-03-14T04:00:00Z"),  # 23:00 EST the night clocks spring forward
        [],
        Defer,
        "quiet_hours",
        {"until": parse_time("2027-03-14T12:00:00Z")},  # 08:00 EDT
        id="dst-spring-forward-night-the-text-still-waits-for-8am-local",
    ),
    pytest.param(
        message(TEXT, "sms"),
        profile(),
        parse_time("2027-11-07T02:30:00Z"),  # 22:30 EDT the night clocks fall back
        [],
        Defer,
        "quiet_hours",
        {"until": parse_time("2027-11-07T13:00:00Z")},  # 08:00 EST
        id="dst-fall-back-night-the-text-still-waits-for-8am-local",
    ),
    pytest.param(
        message(),
        profile(sends=[sent(CART, "email", 20 * HOUR, "m-1"), sent(WISH, "email", HOUR, "m-2")]),
        NOW,
        [],
        Defer,
        "frequency_cap",
        {
            "cap": "any 2/1d",
            "sent_in_window": 2,
            "until": datetime.fromtimestamp(NOW.timestamp() + 4 * HOUR + 1, NOW.tzinfo),
        },
        id="two-emails-today-the-third-waits-until-the-oldest-leaves-the-day",
    ),
    pytest.param(
        message(),
        profile(sends=[sent(CART, "email", 25 * HOUR, "m-1"), sent(WISH, "email", HOUR, "m-2")]),
        NOW,
        [],
        Send,
        None,
        {},
        id="yesterdays-email-has-left-the-sliding-day-window",
    ),
    pytest.param(
        message(),
        profile(
            sends=[
                sent(CART, "email", 20 * HOUR, "m-1", state="held_out"),
                sent(WISH, "email", HOUR, "m-2"),
            ]
        ),
        NOW,
        [],
        Defer,
        "frequency_cap",
        {"sent_in_window": 2},
        id="a-held-out-message-uses-its-cap-slot-like-a-real-send",
    ),
    pytest.param(
        message(TEXT, "sms"),
        profile(sends=[sent(TEXT, "sms", 6 * DAY, "m-1")]),
        NOW,
        [],
        Defer,
        "frequency_cap",
        {
            "cap": "sms 1/7d",
            "until": datetime.fromtimestamp(NOW.timestamp() + DAY + 1, NOW.tzinfo),
        },
        id="one-text-a-week-the-next-waits-for-day-seven",
    ),
    pytest.param(
        message(),
        profile(sends=[sent(WISH, "email", HOUR, "m-1")]),
        NOW,
        [message(CART, mid="m-cart")],
        Defer,
        "frequency_cap",
        {"outranked_by": 1, "sent_in_window": 1, "until": NOW + timedelta(minutes=1)},
        id="last-slot-today-the-cart-reminder-80-outranks-the-browse-email-50",
    ),
    pytest.param(
        message(CART, mid="m-cart"),
        profile(sends=[sent(WISH, "email", HOUR, "m-1")]),
        NOW,
        [message(mid="m-browse")],
        Send,
        None,
        {},
        id="and-the-cart-reminder-takes-that-slot",
    ),
    pytest.param(
        message(mid="m-browse"),
        profile(sends=[sent(WISH, "email", HOUR, "m-1"), sent(CART, "email", 2, "m-cart")]),
        NOW,
        [message(CART, mid="m-cart", status="sending", calling_at=iso(NOW - timedelta(seconds=2)))],
        Defer,
        "frequency_cap",
        {"outranked_by": 0, "sent_in_window": 2},
        id="one-already-at-the-provider-is-counted-once-by-the-ledger",
    ),
    pytest.param(
        message(mid="m-browse"),
        profile(sends=[sent(WISH, "email", HOUR, "m-1")]),
        NOW,
        [message(CART, mid="m-cart", status="sending")],
        Defer,
        "frequency_cap",
        {"outranked_by": 1, "sent_in_window": 1},
        id="one-claimed-not-yet-sending-that-outranks-takes-it-too",
    ),
    pytest.param(
        message(CART, mid="m-cart"),
        profile(sends=[sent(WISH, "email", HOUR, "m-1")]),
        NOW,
        [message(mid="m-browse", status="sending")],
        Send,
        None,
        {},
        id="but-one-claimed-that-it-outranks-leaves-it-the-slot",
    ),
    pytest.param(
        message(WISH, mid="m-b"),
        profile(sends=[sent(CART, "email", HOUR, "m-1")]),
        NOW,
        [message(mid="m-a", created=NOW - timedelta(minutes=2))],
        Defer,
        "frequency_cap",
        {"outranked_by": 1},
        id="priority-tie-the-older-message-wins-the-slot",
    ),
    pytest.param(
        message(WISH, mid="m-b"),
        profile(sends=[sent(CART, "email", HOUR, "m-1")]),
        NOW,
        [message(mid="m-a")],
        Defer,
        "frequency_cap",
        {"outranked_by": 1},
        id="priority-and-age-tie-the-lower-message-id-wins",
    ),
    pytest.param(
        message(WISH, mid="m-a"),
        profile(sends=[sent(CART, "email", HOUR, "m-1")]),
        NOW,
        [message(mid="m-b")],
        Send,
        None,
        {},
        id="priority-and-age-tie-the-lower-message-id-goes",
    ),
    pytest.param(
        message(),
        profile(sends=[sent(WISH, "email", HOUR, "m-1")]),
        NOW,
        [message(CART, mid="m-cart", created=NOW + timedelta(minutes=5))],
        Send,
        None,
        {},
        id="a-cart-reminder-due-after-the-arbitration-window-does-not-hold-it-back",
    ),
    pytest.param(
        message(),
        profile(sends=[sent(WISH, "email", HOUR, "m-1")]),
        parse_time("2027-02-15T00:00:00Z"),
        [message(CART, mid="m-cart", created=parse_time("2027-02-14T23:59:00Z"))],
        Send,
        None,
        {},
        id="a-cart-reminder-that-will-be-dropped-as-inactive-cannot-win-the-slot",
    ),
    pytest.param(
        message(),
        profile(sends=[sent(WISH, "email", HOUR, "m-1")], consent={"email": True, "sms": False}),
        NOW,
        [message(TEXT, "sms", mid="m-text")],
        Send,
        None,
        {},
        id="a-text-she-cannot-receive-does-not-take-the-email-slot",
    ),
    pytest.param(
        message(cid=HAL),
        profile(HAL),
        NOW,
        [],
        HoldOut,
        "global",
        {},
        id="hal-is-in-the-control-group-and-is-held-out-where-the-send-would-be",
    ),
    pytest.param(
        message(cid=HAL),
        profile(HAL, consent={"email": False}),
        NOW,
        [],
        Suppress,
        "no_consent",
        {},
        id="a-control-customer-without-consent-is-suppressed-not-held-out",
    ),
]


@pytest.mark.parametrize(("msg", "doc", "now", "pending", "kind", "reason", "detail"), CASES)
def test_verdict(config, msg, doc, now, pending, kind, reason, detail):
    answer = verdict(msg, doc, config, now, [msg, *pending])

    assert type(answer) is kind, answer
    if reason is not None:
        assert answer.reason == reason
    got = dict(getattr(answer, "detail", {}))
    if isinstance(answer, Defer):
        got["until"] = answer.until
    assert {k: got.get(k) for k in detail} == detail
    if isinstance(answer, Send | HoldOut):
        assert answer.trigger.id == msg["trigger"]
        assert answer.view["customer_id"] == msg["customer_id"]


def test_the_verdict_changes_nothing_it_reads(config):
    doc = profile(sends=[sent(WISH, "email", HOUR, "m-1")], history=[order(3 * DAY)])
    msg = message(CART)
    before = repr((doc, msg))
    verdict(msg, doc, config, NOW, [msg])
    assert repr((doc, msg)) == before


def test_a_template_is_compiled_once_per_container_and_renders_each_customer():
    from nudge.core.templates import compile_template, render

    source = "Hi {{ first_name }}"
    first = compile_template(source)
    assert compile_template(source) is first  # the second message reuses it
    assert compile_template(source, html=True) is not first  # escaping differs
    assert [render(first, {"first_name": n}) for n in ("Bea", "Hal")] == ["Hi Bea", "Hi Hal"]


def test_a_deferred_message_waits_for_the_slot_its_rank_leaves_it_under_a_2_a_day_cap():
    """Sends at 10:00 and 12:00 fill a 2-a-day cap. Three messages outrank ours: one due now
    takes the slot 10:00 frees tomorrow, one due by then takes the 12:00 one, one due next week
    takes none before ours: our turn is the next round's first slot, 10:00 in two days."""
    from types import SimpleNamespace

    from nudge.core.delivery import cap_block

    now = parse_time("2027-02-10T13:00:00Z")
    sends = [
        {"channel": "email", "ts": parse_time(t).timestamp(), "state": "sent"}
        for t in ("2027-02-10T10:00:00Z", "2027-02-10T12:00:00Z")
    ]
    cap = SimpleNamespace(channel="any", max=2, per="1d")
    later = [
        (parse_time("2027-02-11T10:00:01Z"), "email"),  # deferred earlier to the first slot
        (parse_time("2027-02-17T09:00:00Z"), "sms"),  # a wait that ends next week
    ]

    block = cap_block(sends, [cap], "email", now, ["sms"], timedelta(minutes=1), None, later)

    assert block is not None and (block.used, block.ahead) == (2, 1)
    assert iso(block.retry_at) == "2027-02-12T10:00:01Z"
    alone = cap_block(sends, [cap], "email", now, [], timedelta(minutes=1))
    assert alone is not None and iso(alone.retry_at) == "2027-02-11T10:00:01Z"
