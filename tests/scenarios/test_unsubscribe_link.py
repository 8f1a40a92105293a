"""The unsubscribe link (RFC 8058): opening it changes nothing, only a POST unsubscribes.

Requests are Lambda Function URL payloads (HTTP API v2 format, as in the events/unsubscribe_*.json
samples, modelled on aws-powertools/powertools-lambda-python tests/events/lambdaFunctionUrlEvent.json).
The one-click POST is what RFC 8058 §3.2 has a mail client send: ``List-Unsubscribe=One-Click`` as
``application/x-www-form-urlencoded`` or ``multipart/form-data``, to the URI of the
``List-Unsubscribe`` header, which carries the signed token.
"""

from __future__ import annotations

import base64
import json
import os
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import pytest

from nudge.aws.secrets import forget_keys, unsubscribe_keys
from nudge.core.clock import parse_time
from nudge.core.tokens import Keyring, make_token
from nudge.flows import unsubscribe
from nudge.sim import Simulation
from tests.conftest import CONFIG, EVENTS, customer, event, make_config

LOCAL_UNSUBSCRIBE_SECRET = "nudge-local-unsubscribe-secret-for-sam-local-only"  # as in .ci
ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]


def _cart(cid: str, at: str) -> dict:
    return event("cart_updated", cid, at, value=300.0, items=ITEMS, event_id=f"{cid}-{at}")


def _first_email(sim, cid: str) -> str:
    """Run until the customer's first cart reminder; the link of its List-Unsubscribe header."""
    sim.run(
        [customer(cid, "2027-02-03T09:00:00Z"), _cart(cid, "2027-02-03T10:00:00Z")],
        until=parse_time("2027-02-04T00:00:00Z"),
    )
    [mail] = sim.messages()
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = mail["headers"]["List-Unsubscribe"]
    assert header.startswith("<https://") and header.endswith(">")
    return header[1:-1]


def _token(link: str) -> str:
    return parse_qs(urlparse(link).query)["t"][0]


def _request(
    method: str,
    link: str,
    body: bytes | str | None = None,
    content_type: str | None = None,
    b64: bool = False,
) -> dict:
    """A Function URL request for ``link`` (path and query), as Lambda passes it on."""
    url = urlparse(link)
    headers = {"host": "abc.lambda-url.us-east-1.on.aws", "user-agent": "test"}
    if content_type:
        headers["content-type"] = content_type
    request = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path or "/",
        "rawQueryString": url.query,
        "headers": headers,
        "requestContext": {
            "http": {"method": method, "path": url.path or "/"},
            "requestId": f"req-{method}-{len(str(body))}-{url.query[-6:]}",
        },
        "isBase64Encoded": b64,
    }
    query = {k: ",".join(v) for k, v in parse_qs(url.query).items()}
    if query:
        request["queryStringParameters"] = query
    if body is not None:
        raw = body.encode() if isinstance(body, str) else body
        request["body"] = base64.b64encode(raw).decode() if b64 else raw.decode()
    return request


def _one_click(link: str, encoding: str = "urlencoded") -> dict:
    """The POST a mail client's unsubscribe button sends (RFC 8058 §3.2)."""
    if encoding == "multipart":
        boundary = "----nudgeTestBoundary7MA4YWxk"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"'
            f"\r\n\r\nOne-Click\r\n--{boundary}--\r\n"
        )
        return _request("POST", link, body, f"multipart/form-data; boundary={boundary}")
    body = "List-Unsubscribe=One-Click"
    return _request(
        "POST", link, body, "application/x-www-form-urlencoded", b64=encoding == "urlencoded-base64"
    )


class _Form(HTMLParser):
    """The page's form as a browser reads it: method, action and the fields it submits."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append(
                {"method": values.get("method"), "action": values.get("action"), "fields": []}
            )
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1]["fields"].append((values["name"], values.get("value") or ""))


def _submit(page: str, link: str) -> dict:
    """What a browser sends when the page's only button is pressed."""
    parser = _Form()
    parser.feed(page)
    form = parser.forms[0]  # the first form is the page's unsubscribe button
    assert form["method"].lower() == "post"
    target = urljoin(link, form["action"] or "")
    body = urlencode(form["fields"])
    return _request("POST", target, body, "application/x-www-form-urlencoded", b64=True)


def _consent(sim, cid: str) -> dict:
    return sim.profiles()[cid]["consent"]


def _later_cart(sim, cid: str) -> list[tuple[str, str | None]]:
    """A week later (the cart cooldown is over): what happened to the next cart reminder."""
    sim.run([_cart(cid, "2027-02-11T10:00:00Z")], until=parse_time("2027-02-12T00:00:00Z"))
    return [
        (d["outcome"], d["reason"])
        for d in sim.decisions()
        if d["customer_id"] == cid and d["at"] >= "2027-02-11"
    ]


def test_opening_the_link_shows_a_confirmation_page_and_changes_nothing(sim):
    link = _first_email(sim, "ada")

    for _ in range(3):  # a link scanner, a preview, the customer: all GET
        page = unsubscribe.handle(_request("GET", link))
        assert page["statusCode"] == 200
    assert page["headers"]["Content-Type"].startswith("text/html")
    assert "Rose &amp; Co" in page["body"]  # the sender's display name, escaped
    assert "<form method=post" in page["body"] and _token(link) in page["body"]
    assert "frame-ancestors 'none'" in page["headers"]["Content-Security-Policy"]

    assert _consent(sim, "ada")["email"] is True
    assert _later_cart(sim, "ada")[-1] == ("sent", None)
    assert len(sim.messages()) == 2


@pytest.mark.parametrize("encoding", ["urlencoded", "urlencoded-base64", "multipart"])
def test_the_one_click_post_unsubscribes_and_the_next_email_is_suppressed(sim, encoding):
    link = _first_email(sim, "bo")

    response = unsubscribe.handle(_one_click(link, encoding))

    assert response["statusCode"] == 200  # no redirect, no cookie (RFC 8058 §3.1)
    assert "Location" not in response["headers"] and "Set-Cookie" not in response["headers"]
    assert "You are unsubscribed" in response["body"]
    assert _consent(sim, "bo")["email"] is False
    assert _later_cart(sim, "bo")[-1] == ("suppressed", "no_consent")
    assert len(sim.messages()) == 1


def test_the_confirmation_pages_button_unsubscribes(sim):
    link = _first_email(sim, "cy")
    page = unsubscribe.handle(_request("GET", link))["body"]

    done = unsubscribe.handle(_submit(page, link))

    assert done["statusCode"] == 200
    assert "You will not receive marketing emails from Rose &amp; Co" in done["body"]
    assert _consent(sim, "cy")["email"] is False
    assert _later_cart(sim, "cy")[-1] == ("suppressed", "no_consent")


def test_unsubscribing_again_after_subscribing_again_counts(sim):
    link = _first_email(sim, "dot")
    assert unsubscribe.handle(_one_click(link))["statusCode"] == 200
    again = event("consent_updated", "dot", "2027-02-05T10:00:00Z", channel="email", granted=True)
    sim.run([again], until=parse_time("2027-02-06T00:00:00Z"))
    assert _consent(sim, "dot")["email"] is True

    # a different request (its own request id) with the same link
    second = _one_click(link)
    second["requestContext"]["requestId"] = "another-request"
    assert unsubscribe.handle(second)["statusCode"] == 200

    assert _consent(sim, "dot")["email"] is False


def _history_of_unsubscribes(sim, cid: str) -> list[dict]:
    from nudge.aws import store

    profile = store.get_profile(cid).doc or {}
    return [
        h
        for h in profile.get("history", [])
        if h["type"] == "consent_updated"
        and (h.get("properties") or {}).get("source") == "unsubscribe_link"
    ]


@pytest.mark.keeps({"consent_updated": ["source"]})
def test_forged_altered_or_cross_customer_tokens_get_403_and_change_nothing(sim):
    link = _first_email(sim, "eve")
    sim.run([customer("fay", "2027-02-04T09:00:00Z")], until=parse_time("2027-02-04T10:00:00Z"))
    eve = _token(link)
    now, keys = sim.clock.current, unsubscribe_keys()
    fay = make_token("fay", "email", now, keys)  # a genuine token of another customer
    version, kid, eve_payload, eve_mac = eve.split(".")
    fay_payload = fay.split(".")[2]
    sms_payload = make_token("eve", "sms", now, keys).split(".")[2]
    guessed = make_token("eve", "email", now, Keyring(("a guessed secret, long enough" * 2,)))
    base = link.split("?")[0]
    bad_links = {
        "forged with a guessed secret": f"{base}?t={guessed}",
        "guessed secret under our key id": f"{base}?t={version}.{kid}.{guessed.split('.', 2)[2]}",
        "altered signature": f"{base}?t={version}.{kid}.{eve_payload}.{eve_mac[:-2]}xx",
        "another customer's payload, eve's signature": f"{base}?t={version}.{kid}.{fay_payload}.{eve_mac}",
        "eve's payload switched to sms": f"{base}?t={version}.{kid}.{sms_payload}.{eve_mac}",
        "the first format (no key id, no issue time)": f"{base}?t={eve_payload}.{eve_mac}",
        "not a token": f"{base}?t=garbage",
        "no token": base,
    }
    for name, bad in bad_links.items():
        for request in (_request("GET", bad), _one_click(bad)):
            response = unsubscribe.handle(request)
            assert response["statusCode"] == 403, name
            assert "Rose" not in response["body"], name  # nothing about the shop or customer
    # eve's link, but fay's token in the form body: which customer? Neither.
    mixed = _request(
        "POST",
        link,
        urlencode({"t": fay, "List-Unsubscribe": "One-Click"}),
        "application/x-www-form-urlencoded",
    )
    assert unsubscribe.handle(mixed)["statusCode"] == 403

    assert _consent(sim, "eve") == {"email": True, "sms": True}
    assert _consent(sim, "fay") == {"email": True, "sms": True}
    assert _history_of_unsubscribes(sim, "eve") == _history_of_unsubscribes(sim, "fay") == []
    assert _later_cart(sim, "eve")[-1] == ("sent", None)


@pytest.mark.parametrize("method", ["HEAD", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_405_and_change_nothing(sim, method):
    link = _first_email(sim, "gil")
    response = unsubscribe.handle(_request(method, link, "List-Unsubscribe=One-Click"))
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "GET, POST"
    assert _consent(sim, "gil")["email"] is True


@pytest.mark.parametrize("body", [None, "", "List-Unsubscribe=Maybe", "unsubscribe=yes", "%%%"])
def test_a_post_without_the_one_click_field_changes_nothing(sim, body):
    link = _first_email(sim, "hal")
    request = _request("POST", link, body, "application/x-www-form-urlencoded")
    assert unsubscribe.handle(request)["statusCode"] == 400
    assert _consent(sim, "hal")["email"] is True


def test_a_hostile_shop_name_is_escaped_on_the_page(tmp_path):
    hostile = '<script>alert(1)</script> & "Co"\''
    settings = (
        (CONFIG / "settings.yaml")
        .read_text()
        .replace(
            'unsubscribe: {url: "https://rose.example/u"}',
            f'unsubscribe: {{url: "https://rose.example/u", shop_name: {json.dumps(hostile)}}}',
        )
    )
    config = make_config(tmp_path, **{"settings.yaml": settings})
    with Simulation(config, start=parse_time("2027-01-01T00:00:00Z")) as sim:
        link = _first_email(sim, "ivo")
        page = unsubscribe.handle(_request("GET", link))["body"]
        done = unsubscribe.handle(_submit(page, link))["body"]

    for html in (page, done):
        assert "<script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;&#x27;" in html


SMS_WITH_LINK = (
    (CONFIG / "triggers" / "last_minute_delivery.yaml")
    .read_text()
    .replace("Reply STOP to opt out", "Opt out: {{ unsubscribe_url }}")
)


def test_a_link_in_a_text_unsubscribes_from_texts_only(tmp_path):
    config = make_config(tmp_path, **{"triggers/last_minute_delivery.yaml": SMS_WITH_LINK})
    view = event("page_viewed", "jo", "2027-02-10T15:00:00Z", path="/pages/delivery")
    with Simulation(config, start=parse_time("2027-02-10T00:00:00Z")) as sim:
        sim.run(
            [customer("jo", "2027-02-10T14:00:00Z"), view], until=parse_time("2027-02-11T00:00:00Z")
        )
        [sms] = sim.messages()
        link = sms["text"].split("Opt out: ")[1].split()[0]
        page = unsubscribe.handle(_request("GET", link))["body"]
        assert "text messages" in page
        assert unsubscribe.handle(_one_click(link))["statusCode"] == 200
        assert _consent(sim, "jo") == {"email": True, "sms": False}


def test_the_sample_requests_in_events_do_what_their_names_say(sim):
    from nudge.aws import clients

    # the samples' token is signed with the local stack's secret (.ci/sam_local_check.py), on
    # 2026-11-01: put it in the simulated deployment's secret, as a rotation would
    secret = clients.client("secretsmanager")
    arn = os.environ["NUDGE_UNSUBSCRIBE_SECRET_ARN"]
    secret.put_secret_value(SecretId=arn, SecretString=LOCAL_UNSUBSCRIBE_SECRET)
    forget_keys()
    sim.run([customer("c-1001", "2027-02-10T09:00:00Z")], until=parse_time("2027-02-10T10:00:00Z"))

    def sample(name: str) -> dict:
        return unsubscribe.handle(json.loads((EVENTS / f"{name}.json").read_text()))

    opened = sample("unsubscribe_link_opened")
    assert opened["statusCode"] == 200 and "<form method=post" in opened["body"]
    assert _consent(sim, "c-1001")["email"] is True
    assert sample("unsubscribe_page_button")["statusCode"] == 200
    assert _consent(sim, "c-1001")["email"] is False
    assert sample("unsubscribe_one_click")["statusCode"] == 200  # again: still unsubscribed
    assert _consent(sim, "c-1001")["email"] is False
