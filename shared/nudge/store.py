"""DynamoDB access: the only module that talks to the table.

Single-table design (``pk``, ``sk``):
- ``C#<customer>`` / ``PROFILE``: the profile as JSON (``doc``), with ``version`` for optimistic
  writes. History, sends ledger, duplicate ids and pending waits live inside it, so the common
  path is one GetItem and one write.
- ``C#<customer>`` / ``O#<message_id>``: outbox item (``kind`` = ``outbox``); the table stream
  delivers new ones to dispatch.
- ``C#<customer>`` / ``D#<time>#<id>``: decision log entries, with a 90-day ``ttl``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nudge.aws import client
from nudge.clock import now, parse_time
from nudge.env import get_env
from nudge.model.decision import Decision, Message, stable_id

DECISION_TTL_DAYS = 90
OUTBOX_TTL_DAYS = 30


class VersionConflict(Exception):
    """Someone else wrote the profile since we read it; read again and retry."""


class AlreadyExists(Exception):
    """A conditional put found the item already there."""


@dataclass(slots=True)
class Stored:
    """A profile as read: the document and the version it had."""

    doc: dict[str, Any] | None
    version: int


def _pk(customer_id: str) -> str:
    return f"C#{customer_id}"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int | float) -> dict[str, str]:
    return {"N": str(value)}


def table() -> str:
    """Table name from the environment."""
    return get_env().table


def get_profile(customer_id: str) -> Stored:
    """Read a profile (strongly consistent, so an optimistic write starts from the latest)."""
    item = (
        client("dynamodb")
        .get_item(
            TableName=table(),
            Key={"pk": _s(_pk(customer_id)), "sk": _s("PROFILE")},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if not item:
        return Stored(None, 0)
    return Stored(json.loads(item["doc"]["S"]), int(item["version"]["N"]))


def _ttl(days: int) -> dict[str, str]:
    return _n(int(now().timestamp()) + days * 86400)


def _profile_put(customer_id: str, doc: dict[str, Any], version: int) -> dict[str, Any]:
    put: dict[str, Any] = {
        "TableName": table(),
        "Item": {
            "pk": _s(_pk(customer_id)),
            "sk": _s("PROFILE"),
            "kind": _s("profile"),
            "version": _n(version + 1),
            "doc": _s(json.dumps(doc, separators=(",", ":"), default=str)),
        },
    }
    if version == 0:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "version = :v"
        put["ExpressionAttributeValues"] = {":v": _n(version)}
    return put


def decision_item(decision: Decision) -> dict[str, Any]:
    """A decision as a table item."""
    body = decision.as_dict()
    uid = stable_id(
        decision.trigger or "-", decision.outcome, decision.reason or "", decision.event_id or "",
        decision.message_id or "", decision.at, length=10,
    )  # fmt: skip
    return {
        "pk": _s(_pk(decision.customer_id)),
        "sk": _s(f"D#{decision.at}#{uid}"),
        "kind": _s("decision"),
        "doc": _s(json.dumps(body, separators=(",", ":"), default=str)),
        "ttl": _ttl(DECISION_TTL_DAYS),
    }


def outbox_item(message: Message) -> dict[str, Any]:
    """A message as an outbox item (the stream hands it to dispatch)."""
    return {
        "pk": _s(_pk(message.customer_id)),
        "sk": _s(f"O#{message.message_id}"),
        "kind": _s("outbox"),
        "status": _s("pending"),
        "message_id": _s(message.message_id),
        "customer_id": _s(message.customer_id),
        "trigger": _s(message.trigger),
        "channel": _s(message.channel),
        "send_at": _s(message.send_at),
        "doc": _s(json.dumps(message.as_dict(), separators=(",", ":"), default=str)),
        "ttl": _ttl(OUTBOX_TTL_DAYS),
    }


def commit(
    customer_id: str,
    doc: dict[str, Any],
    version: int,
    decisions: list[Decision],
    messages: list[Message],
) -> None:
    """Write the profile and everything the event decided in one call, if nobody wrote since.

    Raises ``VersionConflict`` when the profile changed under us (the caller re-reads and
    retries). A plain PutItem when there is nothing else to write; one TransactWriteItems
    otherwise, so a decision is never stored without its profile change, or the reverse.
    """
    ddb = client("dynamodb")
    put = _profile_put(customer_id, doc, version)
    try:
        if not decisions and not messages:
            ddb.put_item(**put)
            return
        items: list[dict[str, Any]] = [{"Put": put}]
        for message in messages:
            items.append(
                {
                    "Put": {
                        "TableName": table(),
                        "Item": outbox_item(message),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        for decision in decisions:
            items.append({"Put": {"TableName": table(), "Item": decision_item(decision)}})
        ddb.transact_write_items(TransactItems=items)
    except ddb.exceptions.ConditionalCheckFailedException:
        raise VersionConflict(customer_id) from None
    except ddb.exceptions.TransactionCanceledException as exc:
        reasons = exc.response.get("CancellationReasons") or []
        codes = [r.get("Code") for r in reasons]
        if codes and codes[0] == "ConditionalCheckFailed":
            raise VersionConflict(customer_id) from None
        if "ConditionalCheckFailed" in codes:
            raise AlreadyExists(customer_id) from None
        raise


def put_decisions(decisions: list[Decision]) -> None:
    """Append decisions to the log (dispatch's outcomes)."""
    ddb = client("dynamodb")
    for decision in decisions:
        ddb.put_item(TableName=table(), Item=decision_item(decision))


def claim_message(customer_id: str, message_id: str) -> dict[str, Any] | None:
    """Move an outbox item from ``pending`` to ``sending``; None if it was not pending.

    The claim is what makes dispatch idempotent: a second delivery of the same stream record
    finds the item no longer pending and does nothing.
    """
    ddb = client("dynamodb")
    try:
        out = ddb.update_item(
            TableName=table(),
            Key={"pk": _s(_pk(customer_id)), "sk": _s(f"O#{message_id}")},
            UpdateExpression="SET #s = :sending, claimed_at = :now",
            ConditionExpression="#s = :pending",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":sending": _s("sending"),
                ":pending": _s("pending"),
                ":now": _s(now().isoformat()),
            },
            ReturnValues="ALL_NEW",
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return None
    return _message_from_item(out["Attributes"])


def get_message(customer_id: str, message_id: str) -> dict[str, Any] | None:
    """Read an outbox item (its status and body)."""
    item = (
        client("dynamodb")
        .get_item(
            TableName=table(),
            Key={"pk": _s(_pk(customer_id)), "sk": _s(f"O#{message_id}")},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return _message_from_item(item) if item else None


def _message_from_item(item: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(item["doc"]["S"])
    body["status"] = item["status"]["S"]
    for key in ("provider_id", "claimed_at"):
        if key in item:
            body[key] = item[key]["S"]
    return body


def finish_message(
    customer_id: str,
    message_id: str,
    status: str,
    decision: Decision,
    provider_id: str | None = None,
    send_at: str | None = None,
) -> None:
    """Record how a claimed message ended (``sent``, ``failed``, ``suppressed``, or back to
    ``pending`` with a new ``send_at``) together with its decision, in one transaction."""
    names = {"#s": "status"}
    values: dict[str, Any] = {":status": _s(status)}
    update = "SET #s = :status"
    if provider_id:
        update += ", provider_id = :pid"
        values[":pid"] = _s(provider_id)
    if send_at:
        update += ", send_at = :at"
        values[":at"] = _s(send_at)
    client("dynamodb").transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": table(),
                    "Key": {"pk": _s(_pk(customer_id)), "sk": _s(f"O#{message_id}")},
                    "UpdateExpression": update,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
            {"Put": {"TableName": table(), "Item": decision_item(decision)}},
        ]
    )


def pending_messages(customer_id: str) -> list[dict[str, Any]]:
    """The customer's outbox messages still waiting to go (for arbitration under caps)."""
    page = client("dynamodb").query(
        TableName=table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :o)",
        FilterExpression="#s = :pending",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":pk": _s(_pk(customer_id)), ":o": _s("O#"), ":pending": _s("pending"),
        },
        ConsistentRead=True,
    )  # fmt: skip
    out = []
    for item in page.get("Items", []):
        body = _message_from_item(item)
        body["send_at"] = item["send_at"]["S"]
        out.append(body)
    return out


def decisions_for(customer_id: str, since: str | None = None) -> list[dict[str, Any]]:
    """The decision log of one customer, oldest first."""
    ddb = client("dynamodb")
    key = "pk = :pk AND begins_with(sk, :d)"
    values: dict[str, Any] = {":pk": _s(_pk(customer_id)), ":d": _s("D#")}
    if since:
        key = "pk = :pk AND sk BETWEEN :from AND :to"
        values = {":pk": values[":pk"], ":from": _s(f"D#{since}"), ":to": _s("D#\uffff")}
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table(), "KeyConditionExpression": key, "ExpressionAttributeValues": values,
    }  # fmt: skip
    while True:
        page = ddb.query(**kwargs)
        out.extend(json.loads(item["doc"]["S"]) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def scan_kind(kind: str) -> list[dict[str, Any]]:
    """Every item of one kind (simulation read-back and small-table tools only)."""
    ddb = client("dynamodb")
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "FilterExpression": "kind = :k",
        "ExpressionAttributeValues": {":k": _s(kind)},
    }
    while True:
        page = ddb.scan(**kwargs)
        out.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def parse_iso(value: str) -> float:
    """ISO time to epoch seconds."""
    return parse_time(value).timestamp()
