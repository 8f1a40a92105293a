"""``nudge dlq list|redrive``: every parked message shows why it is there, and goes back."""

from __future__ import annotations

import json

from nudge import cli
from nudge.aws import clients as aws
from nudge.core.clock import parse_time
from nudge.flows import ingest, wake
from tests.conftest import customer, event

ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]


def _park_three_kinds(sim, monkeypatch) -> None:
    """A malformed event (ingest parks it), a wake that fails its 3 tries (Lambda parks the
    invocation record), and an event that failed 5 receives (SQS moves it)."""
    broken = event("cart_updated", "gus", "2027-02-10T14:03:00Z", value=300.0, items=ITEMS)
    broken["detail"]["customer_id"] = ""
    sim.run(
        [customer("gus", "2027-02-10T14:00:00Z"), broken], until=parse_time("2027-02-10T14:04:00Z")
    )

    def down(payload, context=None):
        raise ConnectionError("DynamoDB went away")

    sim.run(
        [event("cart_updated", "gus", "2027-02-10T14:05:00Z", value=300.0, items=ITEMS)],
        until=parse_time("2027-02-10T15:00:00Z"),
    )
    monkeypatch.setattr(wake, "handle", down)
    sim.advance(parse_time("2027-02-10T16:00:00Z"))
    # its last receive: ingest raises once more and SQS moves it to the DLQ as it is
    monkeypatch.setattr(ingest, "ingest_event", down)
    body = json.dumps(event("page_viewed", "gus", "2027-02-10T16:00:00Z"))
    sim._ingest([{"messageId": "m-x", "body": body}], sim.timing.max_receives)
    monkeypatch.undo()


def test_list_shows_every_parked_message_with_its_reason(sim, monkeypatch, capsys):
    _park_three_kinds(sim, monkeypatch)
    queues = [sim.dlq_url, sim.dlqs["wake"]]

    assert cli.main(["dlq", "list", *(f"--queue={q}" for q in queues), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)

    reasons = sorted(item["reason"] for item in listed)
    assert len(listed) == 3
    assert all(reasons)
    assert any("customer_id" in r for r in reasons)  # ingest's own reason
    assert any(
        r.startswith("RetriesExhausted after 3 invocations: ConnectionError: DynamoDB went away")
        for r in reasons
    )
    assert any("maxReceiveCount" in r for r in reasons)
    wake_record = next(i for i in listed if i["redrive"] == "invoke")
    assert json.loads(wake_record["body"])["requestPayload"]["kind"] == "wait"


def test_redrive_sends_events_back_to_the_ingest_queue_and_empties_the_dlq(
    sim, monkeypatch, capsys
):
    _park_three_kinds(sim, monkeypatch)

    code = cli.main(["dlq", "redrive", f"--queue={sim.dlq_url}", f"--to={sim.queue_url}"])

    assert code == 0
    assert "2 message(s) handled" in capsys.readouterr().out
    assert [d for d in sim.dead_letters() if d["queue"] == "nudge-ingest-dlq"] == []
    back = aws.client("sqs").receive_message(QueueUrl=sim.queue_url, MaxNumberOfMessages=10)
    assert len(back["Messages"]) == 2


def test_list_without_queues_says_how_to_name_them(capsys):
    assert cli.main(["dlq", "list"]) == 2
    assert "--stack" in capsys.readouterr().err
