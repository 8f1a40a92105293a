"""Addresses are addresses, headers are headers, templates are sandboxed (docs/delivery.md).

Run as an attacker would: a customer record whose email is a list of addresses, a name with line
breaks used in a subject, templates that recurse, grow without bound or try to change what the
next customer sees. Every case goes through the real handlers on moto; what SES received is read
from moto's SES backend (its recipients are the request's Destination plus the raw message's
To/Cc/Bcc headers, as SES itself does).
"""

from __future__ import annotations

import json
from email import message_from_string, policy
from email.utils import getaddresses

import pytest

from nudge.core.clock import parse_time
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event, make_config

ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]
DAY = "2027-02-03"
UNTIL = parse_time("2027-02-04T00:00:00Z")


@pytest.fixture
def sim():
    """The sample config on moto: what SES received is read from moto's SES backend."""
    with Simulation(CONFIG, start=parse_time("2027-01-01T00:00:00Z"), backend="moto") as simulation:
        yield simulation


def _cart(cid: str, at: str = f"{DAY}T10:00:00Z") -> dict:
    return event("cart_updated", cid, at, value=300.0, items=ITEMS, event_id=f"{cid}-{at}")


def _ses_sent() -> list[dict]:
    """Every message SES accepted: its recipients (bare addresses) and parsed raw message."""
    from moto.ses.models import ses_backends

    from nudge.sim.infra import ACCOUNT, REGION

    out = []
    for raw in ses_backends[ACCOUNT][REGION].sent_messages:
        data = getattr(raw, "raw_data", None)
        if data is None:
            continue
        recipients = sorted({a.lower() for _n, a in getaddresses(list(raw.destinations)) if a})
        out.append({"to": recipients, "mime": message_from_string(data, policy=policy.default)})
    return out


def _decisions(sim, cid: str) -> list[dict]:
    """The customer's decisions, but for ``scheduled`` (the trigger's wait before sending)."""
    return [d for d in sim.decisions() if d["customer_id"] == cid and d["outcome"] != "scheduled"]


def _outbox_states(cid: str) -> list[str]:
    from nudge.aws import store

    items = store.scan_kind("outbox")
    return [i["status"]["S"] for i in items if i["customer_id"]["S"] == cid]


@pytest.mark.parametrize(
    "hostile",
    [
        "victim@x.example, evil@y.example",
        '"A" <a@x.example>, b@y.example',
        "victim@x.example\r\nBcc: evil@y.example",
        "victim@x.example\u2028evil@y.example",
        "Victim <victim@x.example>",
    ],
)
def test_an_email_that_is_not_one_address_is_never_stored_or_mailed(sim, hostile):
    sim.run(
        [
            customer("vic", f"{DAY}T09:00:00Z", email=hostile, phone=None, sms_ok=False),
            _cart("vic"),
        ],
        until=UNTIL,
    )

    assert _ses_sent() == []  # neither the victim nor anyone else got mail
    profile = sim.profiles()["vic"]
    assert "email" not in profile and "email" not in profile["traits"]
    assert profile["address_errors"]["email"]["error"] == "invalid_email"
    [decision] = [d for d in _decisions(sim, "vic") if d["trigger"] == "cart_jewelry_high_value"]
    assert (decision["outcome"], decision["reason"]) == ("suppressed", "no_address")
    assert decision["detail"]["address_error"] == "invalid_email"
    assert "@" not in json.dumps(decision)  # the decision names why, never the address


def test_every_message_ses_accepts_has_exactly_the_one_customer_as_recipient(sim):
    sim.run(
        [
            customer("ann", f"{DAY}T09:00:00Z", email="  Ann@Shop.Example "),
            customer("vic", f"{DAY}T09:00:00Z", email="victim@x.example, evil@y.example"),
            _cart("ann"),
            _cart("vic"),
        ],
        until=UNTIL,
    )

    sent = _ses_sent()
    assert [m["to"] for m in sent] == [["ann@shop.example"]]
    assert sim.profiles()["ann"]["email"] == "Ann@shop.example"  # normalised, domain lower-cased


def test_a_customer_who_fixes_an_invalid_email_is_mailed_at_the_new_one(sim):
    sim.run(
        [
            customer("vic", f"{DAY}T08:00:00Z", email="victim@x.example", sms_ok=False),
            customer("vic", f"{DAY}T09:00:00Z", email="victim@x.example, evil@y.example"),
            _cart("vic"),
        ],
        until=UNTIL,
    )
    # the invalid value replaced the old one: the old address is not silently kept
    assert _ses_sent() == []
    sim.run(
        [
            customer("vic", "2027-02-11T09:00:00Z", email="vic@new.example"),
            _cart("vic", "2027-02-11T10:00:00Z"),
        ],
        until=parse_time("2027-02-12T00:00:00Z"),
    )
    assert [m["to"] for m in _ses_sent()] == [["vic@new.example"]]
    assert "address_errors" not in sim.profiles()["vic"] or not sim.profiles()["vic"][
        "address_errors"
    ].get("email")


VIEW = "2027-02-10T15:00:00Z"


def _delivery_view(cid: str) -> dict:
    return event("page_viewed", cid, VIEW, path="/pages/delivery")


def _texts() -> list[tuple[str, str]]:
    from moto.sns.models import sns_backends

    from nudge.sim.infra import ACCOUNT, REGION

    return list(sns_backends[ACCOUNT][REGION].sms_messages.values())


@pytest.mark.parametrize(
    "phone", ["555-555-5555", "+1555", "+1 555 555 SHIP", "+15555550100, +1666"]
)
def test_a_phone_that_is_not_an_international_number_is_not_stored_or_texted(phone):
    with Simulation(CONFIG, start=parse_time("2027-02-10T00:00:00Z"), backend="moto") as sim:
        sim.run(
            [
                customer("pat", "2027-02-10T14:00:00Z", phone=phone, email_ok=False),
                _delivery_view("pat"),
            ],
            until=parse_time("2027-02-11T00:00:00Z"),
        )
        assert _texts() == []
        profile = sim.profiles()["pat"]
        assert "phone" not in profile and "phone" not in profile["traits"]
        [decision] = [d for d in _decisions(sim, "pat") if d["trigger"] == "last_minute_delivery"]
        assert (decision["outcome"], decision["reason"]) == ("suppressed", "no_address")
        assert decision["detail"]["address_error"] == "invalid_phone"


def test_a_phone_is_kept_in_e164_and_texted_there():
    with Simulation(CONFIG, start=parse_time("2027-02-10T00:00:00Z"), backend="moto") as sim:
        sim.run(
            [
                customer("jo", "2027-02-10T14:00:00Z", phone="+1 (613) 555-1111"),
                _delivery_view("jo"),
            ],
            until=parse_time("2027-02-11T00:00:00Z"),
        )
        assert sim.profiles()["jo"]["phone"] == "+16135551111"
        assert [to for to, _text in _texts()] == ["+16135551111"]


@pytest.mark.parametrize(
    "name",
    [
        "Bob\r\nBcc: evil@y.example",
        "Bob\nBcc: evil@y.example",
        "Bob\u2028Bcc: evil@y.example",
        "Bob\u2029\x85\x0b\x0cBcc: evil@y.example",
    ],
)
def test_a_name_with_line_breaks_in_the_subject_is_one_header_line_and_one_recipient(sim, name):
    sim.run([customer("bob", f"{DAY}T09:00:00Z", first_name=name), _cart("bob")], until=UNTIL)

    [decision] = [d for d in _decisions(sim, "bob") if d["trigger"] == "cart_jewelry_high_value"]
    assert (decision["outcome"], decision["reason"]) == ("sent", None)
    [mail] = _ses_sent()
    assert mail["to"] == ["bob@shop.example"]
    mime = mail["mime"]
    assert "Bcc" not in mime
    subject = str(mime["Subject"])
    assert subject.startswith("Bob") and "Bcc: evil@y.example" in subject  # kept as text
    assert not any(ch in subject for ch in "\r\n\u2028\u2029\x85\x0b\x0c")


def _with_template(tmp_path, html: str):
    source = (CONFIG / "templates" / "cart_reminder.yaml").read_text()
    head, _sep, _rest = source.partition("html: |")
    text = head + "html: |\n" + "".join(f"  {line}\n" for line in html.splitlines())
    text += 'text: "Hi {{ first_name }}"\n'
    return make_config(tmp_path, **{"templates/cart_reminder.yaml": text})


@pytest.mark.parametrize(
    ("html", "words"),
    [
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recurs"),
        ("{% include 'cart_reminder' %}", ""),
        ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "size"),
        ("{{ 'x' * 100000000 }}", "size"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "time",
        ),
        (
            "{% set x = range(100000) | list %}"
            "{% for a in x %}{% for b in x %}{% endfor %}{% endfor %}",
            "time",
        ),
    ],
    ids=["recursive-macro", "include", "output-size", "one-huge-string", "time", "time-no-calls"],
)
def test_a_template_that_cannot_be_rendered_ends_failed_template_error_never_sending(
    tmp_path, html, words
):
    with Simulation(
        _with_template(tmp_path, html), start=parse_time("2027-01-01T00:00:00Z"), backend="moto"
    ) as sim:
        sim.run([customer("ann", f"{DAY}T09:00:00Z"), _cart("ann")], until=UNTIL)
        [decision] = [
            d for d in _decisions(sim, "ann") if d["trigger"] == "cart_jewelry_high_value"
        ]
        assert (decision["outcome"], decision["reason"]) == ("failed", "template_error")
        assert words in decision["detail"]["error"].lower()
        assert _outbox_states("ann") == ["failed"]
        assert _ses_sent() == []


@pytest.mark.parametrize(
    "attempt",
    [
        "content.home_hero.update({'headline': 'HACKED'})",
        "content.update({'home_hero': {'headline': 'HACKED'}})",
        "content.home_hero.__setitem__('headline', 'HACKED')",
        "event.properties['items'].append({'name': 'HACKED'})",
    ],
)
def test_a_template_cannot_change_what_later_renders_see(tmp_path, attempt):
    # `nudge validate` already refuses `content.home_hero.update` (no such field); `| default`
    # makes the name optional, as a template author may, so the attempt reaches the sandbox
    target, args = attempt.split("(", 1)
    attempt = f"({target} | default(none))({args}"
    html = (
        "{% set done = first_name == 'Mal' and " + attempt + " %}"
        "<p>{{ content.home_hero.headline }}</p>"
    )
    with Simulation(
        _with_template(tmp_path, html), start=parse_time("2027-01-01T00:00:00Z"), backend="moto"
    ) as sim:
        sim.run(
            [
                customer("mal", f"{DAY}T08:00:00Z"),
                customer("ann", f"{DAY}T08:00:00Z"),
                _cart("mal", f"{DAY}T09:00:00Z"),
                _cart("ann", f"{DAY}T10:00:00Z"),
            ],
            until=UNTIL,
        )
        [to_ann] = [m for m in _ses_sent() if m["to"] == ["ann@shop.example"]]
        html_part = to_ann["mime"].get_body(preferencelist=("html",)).get_content()
        assert "Valentine&#39;s gifts" in html_part and "HACKED" not in html_part
        outcomes = {
            d["customer_id"]: (d["outcome"], d["reason"])
            for d in sim.decisions()
            if d["trigger"] == "cart_jewelry_high_value" and d["outcome"] != "scheduled"
        }
        assert outcomes == {"mal": ("failed", "template_error"), "ann": ("sent", None)}
        assert "HACKED" not in json.dumps(sim.profiles()["ann"])
