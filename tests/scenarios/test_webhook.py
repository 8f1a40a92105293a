"""The webhook channel (docs/delivery.md, "Webhooks"): a local HTTP receiver gets exactly one
signed call per message (the test checks the Standard Webhooks signature itself, with hmac); the
retry path as EventBridge's API destinations take it (429 and 5xx again, other 4xx never, an
endpoint that is down until the retry policy ends, then the dead-letter queue with the reason);
a webhook obeys consent, quiet hours, caps and holdouts like every channel; customer data never
breaks the JSON body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import os
import socket
import threading
from argparse import Namespace
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from nudge.aws import clients as aws
from nudge.core.clock import parse_time
from nudge.explain import explain_command
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event, make_config

START = parse_time("2027-03-01T00:00:00Z")
UNTIL = parse_time("2027-03-06T00:00:00Z")
PUSH = """id: order_push
description: Tell the shop's push service about an order
when: {event: order_placed}
channel: webhook
webhook:
  endpoint: crm
  body: |
    {"customer": {{ customer_id | tojson }},
     "name": {{ first_name | tojson }},
     "order": {{ event.properties.order_id | tojson }},
     "total": {{ event.properties.value | tojson }}}
"""


class Receiver:
    """An HTTP endpoint on 127.0.0.1 answering each POST with the next of ``answers`` (then
    200); it records every call: headers (lowercase names), body and the simulated time."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.calls: list[dict[str, Any]] = []
        self.now: Any = lambda: None
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                receiver.calls.append(
                    {
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": self.rfile.read(size),
                        "at": receiver.now(),
                    }
                )
                status, extra = receiver.answers.pop(0) if receiver.answers else (200, {})
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/nudge"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def _config(tmp_path: Any, url: str, *, trigger: str = PUSH, edits: dict[str, str] | None = None):
    settings = (CONFIG / "settings.yaml").read_text()
    for old, new in (edits or {}).items():
        assert old in settings
        settings = settings.replace(old, new)
    settings += f"\nwebhooks:\n  crm: {{url: '{url}', description: the shop's push service}}\n"
    return make_config(tmp_path, **{"settings.yaml": settings, "triggers/order_push.yaml": trigger})


def _shopper(cid: str, at: str, *, webhook_ok: bool | None = True, **traits: Any) -> dict:
    joined = customer(cid, at, **traits)
    if webhook_ok is not None:
        joined["detail"]["consent"]["webhook"] = webhook_ok
    return joined


def _order(cid: str, at: str, order_id: str, value: float = 120.0) -> dict:
    return event("order_placed", cid, at, order_id=order_id, value=value, event_id=order_id)


def _key() -> bytes:
    secret = aws.client("secretsmanager").get_secret_value(
        SecretId=os.environ["NUDGE_WEBHOOK_SECRET_ARN"]
    )["SecretString"]
    return base64.b64decode(secret)


def _verified(call: dict[str, Any], key: bytes) -> bool:
    """The receiver's check, written from the Standard Webhooks spec (not nudge's code)."""
    headers = call["headers"]
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + call["body"]
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if "," in s]
    return any(hmac.compare_digest(expected, s) for s in offered)


def _dead_letters(sim: Simulation) -> list[dict[str, Any]]:
    got = aws.client("sqs").receive_message(
        QueueUrl=sim.webhook_dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return [
        {
            "event": json.loads(m["Body"]),
            **{k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()},
        }
        for m in got.get("Messages", [])
    ]


def _run(sim: Simulation, receiver: Receiver, events: list[dict]) -> None:
    receiver.now = lambda: sim.clock.current
    sim.run(events, until=UNTIL)


def _pushes(sim: Simulation) -> list[dict[str, Any]]:
    return [d for d in sim.decisions() if d.get("trigger") == "order_push"]


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_the_receiver_gets_exactly_one_signed_call_per_message(tmp_path, receiver, backend):
    config = _config(tmp_path, receiver.url)
    with Simulation(config, start=START, backend=backend) as sim:
        _run(
            sim,
            receiver,
            [
                _shopper("ann", "2027-03-03T14:00:00Z"),
                _order("ann", "2027-03-03T15:00:00Z", "o-1", 120.5),
                _order("ann", "2027-03-04T15:00:00Z", "o-2", 80),
            ],
        )
        key = _key()
        sent = [d for d in _pushes(sim) if d["outcome"] == "sent"]
        dead = _dead_letters(sim)
        messages = sim.messages()

    assert [(d["customer_id"], d["channel"]) for d in sent] == [("ann", "webhook")] * 2
    # nudge simulate's messages list what the endpoint took, joined to the outbox
    assert [
        (m["message_id"], m["customer_id"], m["trigger"], m["channel"], m["to"]) for m in messages
    ] == [(d["message_id"], "ann", "order_push", "webhook", receiver.url) for d in sent]
    assert [m["text"].encode() for m in messages] == [c["body"] for c in receiver.calls]
    assert len(receiver.calls) == 2  # one call per message, no more
    ids = [c["headers"]["webhook-id"] for c in receiver.calls]
    assert ids == [d["message_id"] for d in sent]  # the idempotency key is the message id
    for call in receiver.calls:
        assert _verified(call, key)
        assert call["headers"]["content-type"].startswith("application/json")
        # signed when it was sent (the simulated clock), one minute after the order
        assert int(call["headers"]["webhook-timestamp"]) == int(call["at"].timestamp())
    bodies = [json.loads(c["body"]) for c in receiver.calls]
    assert bodies == [
        {"customer": "ann", "name": "Ann", "order": "o-1", "total": 120.5},
        {"customer": "ann", "name": "Ann", "order": "o-2", "total": 80},
    ]
    assert [c["at"] for c in receiver.calls] == [
        parse_time("2027-03-03T15:01:00Z"),
        parse_time("2027-03-04T15:01:00Z"),
    ]
    assert dead == []


def test_a_tampered_body_or_another_key_does_not_verify(tmp_path, receiver):
    config = _config(tmp_path, receiver.url)
    with Simulation(config, start=START) as sim:
        _run(
            sim,
            receiver,
            [_shopper("ann", "2027-03-03T14:00:00Z"), _order("ann", "2027-03-03T15:00:00Z", "o-1")],
        )
        key = _key()
    (call,) = receiver.calls
    assert _verified(call, key)
    assert not _verified({**call, "body": call["body"].replace(b"o-1", b"o-9")}, key)
    assert not _verified(call, b"x" * 32)


@pytest.mark.parametrize(
    ("first", "extra", "wait"),
    [
        (500, {}, timedelta(seconds=30)),  # the first retry of the policy
        (503, {}, timedelta(seconds=30)),
        (429, {"Retry-After": "120"}, timedelta(seconds=120)),  # the longer of the two
    ],
)
def test_a_retryable_answer_is_tried_again_with_the_same_id_and_signature(
    tmp_path, receiver, first, extra, wait
):
    receiver.answers = [(first, extra)]  # then 200
    config = _config(tmp_path, receiver.url)
    with Simulation(config, start=START) as sim:
        _run(
            sim,
            receiver,
            [_shopper("ann", "2027-03-03T14:00:00Z"), _order("ann", "2027-03-03T15:00:00Z", "o-1")],
        )
        key = _key()
        sent = [d for d in _pushes(sim) if d["outcome"] == "sent"]
        dead = _dead_letters(sim)

    assert len(sent) == 1
    failed, delivered = receiver.calls  # two calls: one refused, one delivered
    assert failed["headers"]["webhook-id"] == delivered["headers"]["webhook-id"]
    assert failed["headers"]["webhook-id"] == sent[0]["message_id"]
    assert failed["body"] == delivered["body"]
    assert failed["headers"]["webhook-signature"] == delivered["headers"]["webhook-signature"]
    assert _verified(delivered, key)
    assert delivered["at"] - failed["at"] == wait
    assert dead == []


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_a_4xx_other_than_429_is_not_retried_and_is_dead_lettered_with_the_reason(
    tmp_path, receiver, status
):
    receiver.answers = [(status, {})]
    config = _config(tmp_path, receiver.url)
    with Simulation(config, start=START) as sim:
        _run(
            sim,
            receiver,
            [_shopper("ann", "2027-03-03T14:00:00Z"), _order("ann", "2027-03-03T15:00:00Z", "o-1")],
        )
        dead = _dead_letters(sim)
        sent = [d for d in _pushes(sim) if d["outcome"] == "sent"]

    assert len(receiver.calls) == 1
    (letter,) = dead
    assert letter["ERROR_CODE"] == f"HTTP_{status}"
    assert letter["EXHAUSTED_RETRY_CONDITION"] == "NON_RETRYABLE_ERROR"
    assert letter["RETRY_ATTEMPTS"] == "0"
    assert letter["event"]["detail"]["webhook_id"] == sent[0]["message_id"]


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_an_endpoint_answering_5xx_is_retried_for_the_policy_then_dead_lettered(
    tmp_path, receiver, backend
):
    receiver.answers = [(502, {})] * 20
    config = _config(tmp_path, receiver.url)
    with Simulation(config, start=START, backend=backend) as sim:
        _run(
            sim,
            receiver,
            [_shopper("ann", "2027-03-03T14:00:00Z"), _order("ann", "2027-03-03T15:00:00Z", "o-1")],
        )
        dead = _dead_letters(sim)

    # 30 s doubling from the first try (15:01): tries until the next would be past an hour
    first = parse_time("2027-03-03T15:01:00Z")
    offsets = [0, 30, 90, 210, 450, 930, 1890]
    assert [c["at"] for c in receiver.calls] == [first + timedelta(seconds=s) for s in offsets]
    assert len({c["headers"]["webhook-id"] for c in receiver.calls}) == 1
    (letter,) = dead
    assert letter["ERROR_CODE"] == "HTTP_502"
    assert letter["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    assert letter["RETRY_ATTEMPTS"] == "6"


def test_an_endpoint_that_is_down_is_retried_then_dead_lettered(tmp_path):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    config = _config(tmp_path, f"http://127.0.0.1:{port}/hook")
    with Simulation(config, start=START) as sim:
        sim.run(
            [_shopper("ann", "2027-03-03T14:00:00Z"), _order("ann", "2027-03-03T15:00:00Z", "o-1")],
            until=UNTIL,
        )
        dead = _dead_letters(sim)
        tries = [f for f in sim.failures if f[1] == "webhook"]
        sent = [d for d in _pushes(sim) if d["outcome"] == "sent"]

    assert len(sent) == 1  # the bus took it; the endpoint never did
    assert len(tries) == 7
    (letter,) = dead
    assert letter["ERROR_CODE"] == "CONNECTION_ERROR"
    assert letter["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"


def test_a_redelivered_dispatch_does_not_call_the_endpoint_again(tmp_path, receiver):
    from nudge.flows import dispatch

    config = _config(tmp_path, receiver.url)
    with Simulation(config, start=START, backend="moto") as sim:
        _run(
            sim,
            receiver,
            [_shopper("ann", "2027-03-03T14:00:00Z"), _order("ann", "2027-03-03T15:00:00Z", "o-1")],
        )
        (sent,) = [d for d in _pushes(sim) if d["outcome"] == "sent"]
        # the stream or the schedule delivers the same message again: it is already sent
        again = dispatch.dispatch_message("ann", sent["message_id"])
        sim.pump()
        sim.advance(UNTIL + timedelta(days=1))
        outcomes = [d["outcome"] for d in _pushes(sim) if d["outcome"] != "scheduled"]

    assert again == "sent"
    assert outcomes == ["sent"]
    assert len(receiver.calls) == 1


def test_a_name_with_quotes_newlines_and_braces_stays_one_json_string(tmp_path, receiver):
    name = 'Ann", "admin": true, "x": "\n{{ 7 * 7 }}\\'
    config = _config(tmp_path, receiver.url)
    with Simulation(config, start=START) as sim:
        _run(
            sim,
            receiver,
            [
                _shopper("ann", "2027-03-03T14:00:00Z", first_name=name),
                _order("ann", "2027-03-03T15:00:00Z", "o-1"),
            ],
        )
    (call,) = receiver.calls
    body = json.loads(call["body"])
    assert set(body) == {"customer", "name", "order", "total"}  # never a second field
    assert body["name"] == name  # the name as given, not rendered as a template


def test_a_webhook_obeys_consent_quiet_hours_caps_and_holdouts(tmp_path, receiver, capsys):
    held = PUSH.replace("channel: webhook", "channel: webhook\nholdout: 100", 1)
    edits = {
        "channels: [sms]}": "channels: [sms, webhook]}",  # quiet hours apply to webhooks too
        "  - {channel: any, max: 2, per: 1d}": "  - {channel: webhook, max: 1, per: 1d}",
    }
    config = _config(tmp_path, receiver.url, edits=edits)
    with Simulation(config, start=START) as sim:
        _run(
            sim,
            receiver,
            [
                # no webhook consent recorded (opt_in): never sent
                _shopper("bea", "2027-03-03T14:00:00Z", webhook_ok=None),
                _order("bea", "2027-03-03T15:00:00Z", "o-b"),
                # ordered at 23:00 New York: waits for 08:00, then the cap lets one a day through
                _shopper("col", "2027-03-03T14:00:00Z"),
                _order("col", "2027-03-04T04:00:00Z", "o-c1"),
                _order("col", "2027-03-04T15:00:00Z", "o-c2"),
            ],
        )
        decisions = {
            (d["customer_id"], d["outcome"], d.get("reason"))
            for d in _pushes(sim)
            if d["outcome"] != "scheduled"
        }
        args = Namespace(customer_id="bea", trigger=None, since=None, from_file=None, table=None)
        assert explain_command(args) == 0
        explained = capsys.readouterr().out

    assert ("bea", "suppressed", "no_consent") in decisions
    assert ("col", "deferred", "quiet_hours") in decisions
    assert ("col", "deferred", "frequency_cap") in decisions
    assert "order_push: suppressed (no_consent" in explained
    assert "consent.webhook" in explained
    by_customer = [(json.loads(c["body"])["order"], c["at"]) for c in receiver.calls]
    assert by_customer == [
        ("o-c1", parse_time("2027-03-04T13:00:00Z")),  # 08:00 in New York
        ("o-c2", parse_time("2027-03-05T13:00:01Z")),  # the cap's window freed
    ]

    held_config = _config(tmp_path / "held", receiver.url, trigger=held)
    receiver.calls.clear()
    with Simulation(held_config, start=START) as sim:
        _run(
            sim,
            receiver,
            [_shopper("cyd", "2027-03-03T14:00:00Z"), _order("cyd", "2027-03-03T15:00:00Z", "o-d")],
        )
        outcomes = [
            (d["outcome"], d.get("reason")) for d in _pushes(sim) if d["outcome"] != "scheduled"
        ]
    assert outcomes == [("held_out", "trigger")]
    assert receiver.calls == []


def test_a_transactional_webhook_needs_no_marketing_consent(tmp_path, receiver):
    receipt = PUSH.replace("channel: webhook", "channel: webhook\nlane: transactional", 1)
    config = _config(tmp_path, receiver.url, trigger=receipt)
    with Simulation(config, start=START) as sim:
        _run(
            sim,
            receiver,
            [
                _shopper("eve", "2027-03-03T14:00:00Z", webhook_ok=False),
                _order("eve", "2027-03-04T04:00:00Z", "o-e"),  # 23:00 local: no quiet hours
            ],
        )
    assert [json.loads(c["body"])["order"] for c in receiver.calls] == ["o-e"]
    assert receiver.calls[0]["at"] == parse_time("2027-03-04T04:01:00Z")
