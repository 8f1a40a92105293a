"""Dead-letter queues: what is parked in them, why, and sending it back (``nudge dlq``).

Four kinds of message land in nudge's DLQs, each with its reason in a different place:

- an event ingest parked itself (malformed): the original body, the reason in the ``reason``
  message attribute;
- an event that failed ``maxReceiveCount`` receives (SQS's redrive moved it as it was): no reason
  of its own, so its receive count stands for it;
- an event the bus could not deliver: EventBridge's ``ERROR_CODE`` / ``ERROR_MESSAGE`` attributes;
- a Lambda failure record: an asynchronous invocation whose retries ran out (wake, campaign,
  score, feedback, sweeper: ``requestContext.condition`` and the ``responsePayload`` error, the
  original event in ``requestPayload``) or stream records dispatch gave up on
  (``DDBStreamBatchInfo``: a description, not the records; the outbox items stay in the table
  and the sweeper resolves them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from nudge.aws.clients import client

MAX_LIST = 1000


@dataclass(frozen=True)
class Parked:
    """One parked message: where, its id and receipt, why, and what redrive would do."""

    queue_url: str
    message_id: str
    receipt: str
    reason: str
    body: str
    redrive: str  # "queue" (back to the source queue), "invoke" (the function again), "sweeper"

    def as_dict(self) -> dict[str, Any]:
        """For JSON output (without the receipt handle)."""
        return {
            "queue": self.queue_url.rsplit("/", 1)[-1],
            "message_id": self.message_id,
            "reason": self.reason,
            "redrive": self.redrive,
            "body": self.body,
        }


def reason_of(message: dict[str, Any]) -> tuple[str, str]:
    """``(reason, redrive kind)`` of a message as ``ReceiveMessage`` returns it."""
    attributes = message.get("MessageAttributes") or {}
    own = (attributes.get("reason") or {}).get("StringValue")
    if own:
        return own, "queue"
    if "ERROR_CODE" in attributes:
        code = attributes["ERROR_CODE"].get("StringValue", "")
        text = (attributes.get("ERROR_MESSAGE") or {}).get("StringValue", "")
        return f"the bus could not deliver it: {code} {text}".strip(), "queue"
    try:
        record = json.loads(message.get("Body") or "")
    except ValueError:
        record = None
    context = record.get("requestContext") if isinstance(record, dict) else None
    if isinstance(context, dict) and context.get("condition"):
        assert isinstance(record, dict)
        invocations = context.get("approximateInvokeCount")
        batch = record.get("DDBStreamBatchInfo")
        if isinstance(batch, dict):
            return (
                f"{context['condition']} after {invocations} tries: stream records "
                f"{batch.get('startSequenceNumber')}..{batch.get('endSequenceNumber')} "
                "(the outbox items stay in the table; the sweeper resolves them)",
                "sweeper",
            )
        error = record.get("responsePayload") or {}
        if not isinstance(error, dict):
            error = {"errorMessage": str(error)}
        what = f"{error.get('errorType', 'error')}: {error.get('errorMessage', '')}".strip()
        return f"{context['condition']} after {invocations} invocations: {what}", "invoke"
    received = str((message.get("Attributes") or {}).get("ApproximateReceiveCount", ""))
    times = f"{received} receives" if received not in ("", "0", "1") else "every receive"
    return (
        f"failed {times} (maxReceiveCount); no reason recorded: the ingest function raised "
        "each time (see its logs for this message id)",
        "queue",
    )


def parked(queue_url: str, limit: int = MAX_LIST) -> list[Parked]:
    """Every message parked in ``queue_url`` (up to ``limit``), with its reason. Reading does not
    hide them (visibility timeout 0)."""
    sqs = client("sqs")
    out: dict[str, Parked] = {}
    while len(out) < limit:
        got = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
            VisibilityTimeout=0,
        )
        messages = got.get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in out]
        for message in messages:  # SQS deletes by the latest receipt handle only
            if message["MessageId"] in out:
                seen = out[message["MessageId"]]
                out[message["MessageId"]] = replace(seen, receipt=message["ReceiptHandle"])
        if not fresh:
            break
        for message in fresh:
            reason, redrive = reason_of(message)
            out[message["MessageId"]] = Parked(
                queue_url,
                message["MessageId"],
                message["ReceiptHandle"],
                reason,
                message.get("Body") or "",
                redrive,
            )
    return list(out.values())[:limit]


def redrive(item: Parked, source_queue: str | None) -> str:
    """Send a parked message back where it came from, then delete it; returns what was done.

    An event goes back to ``source_queue`` (ingest parks a still-malformed one again, with its
    reason); a failed invocation is invoked again, asynchronously, with its original event;
    stream records are left to the sweeper (deleted here: the outbox items are in the table).
    """
    if item.redrive == "queue":
        if not source_queue:
            return "kept: no source queue given (--to)"
        client("sqs").send_message(QueueUrl=source_queue, MessageBody=item.body)
        done = "sent back to " + source_queue.rsplit("/", 1)[-1]
    elif item.redrive == "invoke":
        record = json.loads(item.body)
        function = str(record["requestContext"]["functionArn"]).removesuffix(":$LATEST")
        client("lambda").invoke(
            FunctionName=function,
            InvocationType="Event",
            Payload=json.dumps(record.get("requestPayload")).encode(),
        )
        done = "invoked " + function.rsplit(":", 1)[-1] + " again"
    else:
        done = "left to the sweeper"
    client("sqs").delete_message(QueueUrl=item.queue_url, ReceiptHandle=item.receipt)
    return done


def stack_queues(stack: str) -> dict[str, str]:
    """The DLQ URLs of a deployed stack (outputs named ``*DLQUrl``), and ``IngestQueueUrl``."""
    described = client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    return {k: v for k, v in outputs.items() if k.endswith("DLQUrl") or k == "IngestQueueUrl"}
