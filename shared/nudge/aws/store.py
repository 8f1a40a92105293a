"""DynamoDB access: the only module that talks to the table.

Single-table design (``pk``, ``sk``):
- ``C#<customer>`` / ``PROFILE``: the profile as JSON (``doc``), with ``version`` for optimistic
  writes. History, sends ledger, duplicate ids and pending waits live inside it, so the common
  path is one GetItem and one write.
- ``C#<customer>`` / ``O#<message_id>``: outbox item (``kind`` = ``outbox``): ``status``
  (``pending`` -> ``sending`` -> ``sent``/``failed``/``suppressed``, or back to ``pending``),
  ``message_id``, ``customer_id``, ``trigger``, ``channel``, ``send_at``, the message as JSON
  (``doc``), a 30-day ``ttl``; dispatch adds ``claimed_at``, ``calling_at``, ``provider_id``.
  The table stream delivers new ones to dispatch.
- ``C#<customer>`` / ``D#<time>#<id>``: decision log entries (``<id>`` a stable hash of the
  decision), with a 90-day ``ttl``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nudge.aws.clients import client
from nudge.aws.scheduler import served_by_schedule
from nudge.core.clock import now
from nudge.core.decisions import Decision, Message, stable_id
from nudge.env import get_env

DECISION_TTL_DAYS = 90
OUTBOX_TTL_DAYS = 30


class VersionConflict(Exception):
    """Someone else wrote the profile since we read it; read again and retry."""


class Gone(Exception):
    """The item is no longer there (the customer was erased)."""


class AlreadyExists(Exception):
    """A conditional put found the item already there."""


class Erased(Exception):
    """The customer was erased since we read the profile; read again to see the tombstone."""


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
        decision.trigger or "-",
        decision.outcome,
        decision.reason or "",
        decision.event_id or "",
        decision.message_id or "",
        decision.at,
        length=10,
    )
    return {
        "pk": _s(_pk(decision.customer_id)),
        "sk": _s(f"D#{decision.at}#{uid}"),
        "kind": _s("decision"),
        "doc": _s(json.dumps(body, separators=(",", ":"), default=str)),
        "ttl": _ttl(DECISION_TTL_DAYS),
    }


def outbox_item(message: Message) -> dict[str, Any]:
    """A message as an outbox item: the stream hands it to dispatch when it is due at once;
    one due later is ``scheduled`` and its own schedule does (``schedule.schedule_messages``)."""
    item = {
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
    if served_by_schedule(message):
        item["scheduled"] = _s(message.send_at)  # the stream filter leaves it to its schedule
    return item


def commit(
    customer_id: str,
    doc: dict[str, Any],
    version: int,
    decisions: Sequence[Decision] = (),
    messages: Sequence[Message] = (),
    extra: Sequence[dict[str, Any]] = (),
) -> None:
    """Write the profile, what it decided and ``extra`` transaction entries in one call, if
    nobody wrote the profile since ``version``.

    A plain PutItem when there is nothing but the profile; one TransactWriteItems otherwise, so
    a decision is never stored without its profile change, or the reverse. Raises
    ``VersionConflict`` (the profile or a merged alias changed since read: read again and
    retry), ``Erased`` (a ``not_erased_check`` failed) or ``AlreadyExists`` (an outbox item is
    already there: an earlier attempt of this very work was written).
    """
    items = transaction(customer_id, doc, version, decisions, messages, extra)
    ddb = client("dynamodb")
    if len(items) == 1:
        try:
            ddb.put_item(**items[0]["Put"])
        except ddb.exceptions.ConditionalCheckFailedException:
            raise VersionConflict(customer_id) from None
        return
    try:
        ddb.transact_write_items(TransactItems=items)
    except ddb.exceptions.TransactionCanceledException as exc:
        raise cancelled(customer_id, items, exc) from None


def transaction(
    customer_id: str,
    doc: dict[str, Any],
    version: int,
    decisions: Sequence[Decision] = (),
    messages: Sequence[Message] = (),
    extra: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The transaction entries of ``commit``: the profile first, then ``extra``, the outbox
    items (each only if not there yet) and the decisions."""
    items: list[dict[str, Any]] = [{"Put": _profile_put(customer_id, doc, version)}, *extra]
    items += [
        {
            "Put": {
                "TableName": table(),
                "Item": outbox_item(m),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for m in messages
    ]
    items += [{"Put": {"TableName": table(), "Item": decision_item(d)}} for d in decisions]
    return items


def _failure(entry: dict[str, Any]) -> type[Exception]:
    """What a failed condition on this transaction entry means."""
    if "ConditionCheck" in entry:
        return Erased  # the only condition check nudge writes: "no tombstone"
    kind = entry.get("Put", {}).get("Item", {}).get("kind", {}).get("S")
    if kind == "outbox":
        return AlreadyExists
    return VersionConflict  # the profile, or a merged alias stub, changed since read


def cancelled(customer_id: str, items: list[dict[str, Any]], exc: Exception) -> Exception:
    """The exception a cancelled ``commit`` transaction stands for, from the cancellation
    reason of each entry: ``Erased`` before ``VersionConflict`` before ``AlreadyExists`` (a
    conflicting concurrent transaction on an entry is a ``VersionConflict`` too); ``exc``
    itself when no entry explains it (throttling, validation)."""
    response: dict[str, Any] = getattr(exc, "response", {})
    reasons = response.get("CancellationReasons") or []
    found: set[type[Exception]] = set()
    for entry, reason in zip(items, reasons, strict=False):
        code = reason.get("Code")
        if code == "ConditionalCheckFailed":
            found.add(_failure(entry))
        elif code == "TransactionConflict":
            found.add(VersionConflict)
    for kind in (Erased, VersionConflict, AlreadyExists):
        if kind in found:
            return kind(customer_id)
    return exc


def put_decisions(decisions: list[Decision]) -> None:
    """Append decisions to the log (dispatch's outcomes)."""
    ddb = client("dynamodb")
    for decision in decisions:
        ddb.put_item(TableName=table(), Item=decision_item(decision))


def _move_message(
    customer_id: str, message_id: str, update: str, condition: str, values: dict[str, Any]
) -> dict[str, Any] | None:
    """A conditional update of an outbox item; the new item, or None if the condition failed."""
    ddb = client("dynamodb")
    try:
        out = ddb.update_item(
            TableName=table(),
            Key={"pk": _s(_pk(customer_id)), "sk": _s(f"O#{message_id}")},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":now": _s(now().isoformat()), **values},
            ReturnValues="ALL_NEW",
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return None
    return _message_from_item(out["Attributes"])


def claim_message(customer_id: str, message_id: str) -> dict[str, Any] | None:
    """Move an outbox item from ``pending`` to ``sending``; None if it was not pending.

    The claim is what makes dispatch idempotent: a second delivery of the same stream record
    finds the item no longer pending and does nothing.
    """
    return _move_message(
        customer_id,
        message_id,
        "SET #s = :sending, claimed_at = :now",
        "#s = :pending",
        {":sending": _s("sending"), ":pending": _s("pending")},
    )


def mark_calling(customer_id: str, message_id: str) -> None:
    """Note that the provider is about to be called: after this, a crash means "maybe sent"."""
    client("dynamodb").update_item(
        TableName=table(),
        Key={"pk": _s(_pk(customer_id)), "sk": _s(f"O#{message_id}")},
        UpdateExpression="SET calling_at = :now",
        ExpressionAttributeValues={":now": _s(now().isoformat())},
    )


def unclaim(customer_id: str, message_id: str) -> dict[str, Any] | None:
    """Take back a stale claim that never reached the provider (status stays ``sending``)."""
    return _move_message(
        customer_id,
        message_id,
        "SET claimed_at = :now",
        "#s = :sending AND attribute_not_exists(calling_at)",
        {":sending": _s("sending")},
    )


def remember_phone(phone: str, customer_id: str) -> None:
    """Index a number we texted, so an SMS STOP reply finds its customer."""
    client("dynamodb").put_item(
        TableName=table(),
        Item={
            "pk": _s(f"PHONE#{phone}"),
            "sk": _s("PHONE"),
            "kind": _s("phone_index"),
            "customer_id": _s(customer_id),
        },
    )


def customer_for_phone(phone: str) -> str | None:
    """The customer we texted at this number, if any."""
    item = (
        client("dynamodb")
        .get_item(TableName=table(), Key={"pk": _s(f"PHONE#{phone}"), "sk": _s("PHONE")})
        .get("Item")
    )
    return item["customer_id"]["S"] if item else None


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
    for key in ("provider_id", "claimed_at", "calling_at"):
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
    ddb = client("dynamodb")
    try:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table(),
                        "Key": {"pk": _s(_pk(customer_id)), "sk": _s(f"O#{message_id}")},
                        "UpdateExpression": update,
                        # erased meanwhile: write nothing back for that customer
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                },
                {"Put": {"TableName": table(), "Item": decision_item(decision)}},
            ]
        )
    except ddb.exceptions.TransactionCanceledException:
        raise Gone(customer_id) from None


def pending_messages(customer_id: str) -> list[dict[str, Any]]:
    """The customer's outbox messages still waiting to go (for arbitration under caps)."""
    page = client("dynamodb").query(
        TableName=table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :o)",
        FilterExpression="#s = :pending",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":pk": _s(_pk(customer_id)),
            ":o": _s("O#"),
            ":pending": _s("pending"),
        },
        ConsistentRead=True,
    )
    out = []
    for item in page.get("Items", []):
        body = _message_from_item(item)
        body["send_at"] = item["send_at"]["S"]
        out.append(body)
    return out


def customer_outbox(customer_id: str) -> tuple[Stored, dict[str, dict[str, Any]]]:
    """The profile and every outbox item of a customer (by message id), in one strongly
    consistent Query: outbox keys ``O#...`` sort just before ``PROFILE`` (decisions ``D#``
    before them are not read). Dispatch reads this once per message."""
    items = all_items(
        "query",
        TableName=table(),
        KeyConditionExpression="pk = :pk AND sk BETWEEN :o AND :p",
        ExpressionAttributeValues={
            ":pk": _s(_pk(customer_id)),
            ":o": _s("O#"),
            ":p": _s("PROFILE"),
        },
        ConsistentRead=True,
    )
    stored = Stored(None, 0)
    messages: dict[str, dict[str, Any]] = {}
    for item in items:
        if item["sk"]["S"] == "PROFILE":
            stored = Stored(json.loads(item["doc"]["S"]), int(item["version"]["N"]))
        elif item.get("kind", {}).get("S") == "outbox":
            body = _message_from_item(item)
            body["send_at"] = item["send_at"]["S"]
            messages[body["message_id"]] = body
    return stored, messages


def reserve_and_call(customer_id: str, doc: dict[str, Any], version: int, message_id: str) -> None:
    """Write the profile (its ledger now counts the message, read at ``version``) and mark the
    claimed outbox item ``calling_at``, in one transaction: after this a crash means "maybe
    sent". Raises ``VersionConflict`` if the profile changed since it was read, ``Gone`` if the
    item is no longer claimed (erased)."""
    ddb = client("dynamodb")
    try:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": _profile_put(customer_id, doc, version)},
                {
                    "Update": {
                        "TableName": table(),
                        "Key": {"pk": _s(_pk(customer_id)), "sk": _s(f"O#{message_id}")},
                        "UpdateExpression": "SET calling_at = :now",
                        "ConditionExpression": "#s = :sending",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":now": _s(now().isoformat()),
                            ":sending": _s("sending"),
                        },
                    }
                },
            ]
        )
    except ddb.exceptions.TransactionCanceledException as exc:
        codes = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
        if codes and codes[0] == "ConditionalCheckFailed":
            raise VersionConflict(customer_id) from None
        raise Gone(customer_id) from None


def all_items(operation: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a Query or Scan (``operation`` = "query" | "scan"), across pages."""
    call = getattr(client("dynamodb"), operation)
    out: list[dict[str, Any]] = []
    while True:
        page = call(**kwargs)
        out.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def decisions_for(customer_id: str, since: str | None = None) -> list[dict[str, Any]]:
    """The decision log of one customer, oldest first."""
    key = "pk = :pk AND begins_with(sk, :d)"
    values: dict[str, Any] = {":pk": _s(_pk(customer_id)), ":d": _s("D#")}
    if since:
        key = "pk = :pk AND sk BETWEEN :from AND :to"
        values = {":pk": values[":pk"], ":from": _s(f"D#{since}"), ":to": _s("D#\uffff")}
    items = all_items(
        "query", TableName=table(), KeyConditionExpression=key, ExpressionAttributeValues=values
    )
    return [json.loads(item["doc"]["S"]) for item in items]


def scan_kind(kind: str) -> list[dict[str, Any]]:
    """Every item of one kind (simulation read-back and small-table tools only)."""
    return all_items(
        "scan",
        TableName=table(),
        FilterExpression="kind = :k",
        ExpressionAttributeValues={":k": _s(kind)},
    )


# -- order index, merged aliases, privacy (issue 6) ---------------------------------------------
# ``ORDER#<order_id>`` / ``ORDER``: who placed an order (a Shopify refund names only the order);
#   written in the same transaction as the profile change of its ``order_placed``.
# ``ERASED#<customer>`` / ``ERASED``: tombstone of an erased customer (``kind`` = ``tombstone``);
#   ingest does not recreate the profile from late events while it is there.
# A merged ``anon:`` profile becomes a stub at its usual key (``kind`` = ``alias``, ``merged_into``)
#   so later events for it are redirected to the customer.

ORDER_INDEX_TTL_DAYS = 730  # a refund later than two years after its order goes to the DLQ


def _order_key(order_id: str) -> dict[str, Any]:
    return {"pk": _s(f"ORDER#{order_id}"), "sk": _s("ORDER")}


def _tombstone_key(customer_id: str) -> dict[str, Any]:
    return {"pk": _s(f"ERASED#{customer_id}"), "sk": _s("ERASED")}


def order_owner(order_id: str) -> str | None:
    """The customer who placed ``order_id``, if nudge has seen the order (else None)."""
    item = (
        client("dynamodb")
        .get_item(TableName=table(), Key=_order_key(order_id), ConsistentRead=True)
        .get("Item")
    )
    return item["customer_id"]["S"] if item else None


def order_index_put(order_id: str, customer_id: str) -> dict[str, Any]:
    """A transaction entry recording who placed ``order_id`` (for ``commit``'s ``extra``)."""
    item = {
        **_order_key(order_id),
        "kind": _s("order_index"),
        "order_id": _s(order_id),
        "customer_id": _s(customer_id),
        "ttl": _ttl(ORDER_INDEX_TTL_DAYS),
    }
    return {"Put": {"TableName": table(), "Item": item}}


def alias_put(alias_id: str, doc: dict[str, Any], version: int) -> dict[str, Any]:
    """A transaction entry replacing profile ``alias_id`` (read at ``version``) by a merged stub."""
    put = _profile_put(alias_id, doc, version)
    put["Item"]["kind"] = _s("alias")
    return {"Put": put}


def not_erased_check(customer_id: str) -> dict[str, Any]:
    """A transaction entry that fails (``Erased``) if the customer has a tombstone."""
    return {
        "ConditionCheck": {
            "TableName": table(),
            "Key": _tombstone_key(customer_id),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def tombstone_delete(customer_id: str) -> dict[str, Any]:
    """A transaction entry removing the customer's tombstone (they opted in again)."""
    return {"Delete": {"TableName": table(), "Key": _tombstone_key(customer_id)}}


def is_erased(customer_id: str) -> bool:
    """Has the customer been erased (and not opted in again since)?"""
    item = (
        client("dynamodb")
        .get_item(TableName=table(), Key=_tombstone_key(customer_id), ConsistentRead=True)
        .get("Item")
    )
    return item is not None


def put_tombstone(customer_id: str, erased_at: str) -> None:
    """Record that the customer was erased: only the id and when, nothing else about them."""
    client("dynamodb").put_item(
        TableName=table(),
        Item={**_tombstone_key(customer_id), "kind": _s("tombstone"), "erased_at": _s(erased_at)},
    )


def partition_items(customer_id: str) -> list[dict[str, Any]]:
    """Every item of the customer's partition (``C#<id>``), as stored (privacy requests)."""
    return all_items(
        "query",
        TableName=table(),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": _s(_pk(customer_id))},
        ConsistentRead=True,
    )


def plain_item(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item as plain values, its JSON ``doc`` decoded (privacy export)."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if "S" in value:
            out[key] = json.loads(value["S"]) if key == "doc" else value["S"]
        elif "N" in value:
            number = value["N"]
            out[key] = int(number) if number.lstrip("-").isdigit() else float(number)
        elif "BOOL" in value:
            out[key] = value["BOOL"]
    return out


def order_index_keys(order_ids: list[str]) -> list[dict[str, Any]]:
    """Keys of the order index items of these orders."""
    return [_order_key(order_id) for order_id in dict.fromkeys(order_ids)]


def delete_keys(keys: list[dict[str, Any]]) -> int:
    """Delete items by key in batches of 25 (retrying unprocessed ones); returns how many."""
    ddb = client("dynamodb")
    for start in range(0, len(keys), 25):
        pending: dict[str, Any] = {
            table(): [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]
        }
        for _attempt in range(8):
            left = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not left:
                break
            pending = left
        else:
            raise RuntimeError("DynamoDB kept items unprocessed; retry the erase")
    return len(keys)


def phone_index_keys(phones: list[str]) -> list[dict[str, Any]]:
    """Keys of the phone index items (``PHONE#<number>``) of these numbers."""
    return [{"pk": _s(f"PHONE#{phone}"), "sk": _s("PHONE")} for phone in dict.fromkeys(phones)]


# -- daily score runs (issue 5) -----------------------------------------------------------------
# ``RUN#score#<date>`` / ``RUN``: checkpoint of one daily recompute (``kind`` = ``score_run``):
#   ``state`` (JSON: phase, fitted model, per-segment scan cursors, counts) and a lease
#   (``owner``, ``lease_until``) so two invocations never work on the same run at once.
# ``RUN#score#<date>`` / ``CHUNK#...``: the per-customer numbers the first pass gathered, packed
#   (``kind`` = ``score_chunk``; no customer ids). Both expire after ``RUN_TTL_DAYS``.

RUN_TTL_DAYS = 3


class RunBusy(Exception):
    """Another invocation holds the run's lease (or took it over from us)."""


def _run_key(run_id: str, sk: str = "RUN") -> dict[str, Any]:
    return {"pk": _s(f"RUN#{run_id}"), "sk": _s(sk)}


def scan_profiles(
    segment: int,
    total_segments: int,
    start_key: dict[str, Any] | None = None,
    limit: int | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of one parallel-scan segment: profiles (``customer_id``, ``doc``, ``version``)
    and the key the next page starts from (None at the end of the segment).

    Eventually consistent (half the read cost): writers re-read the profile before writing.
    ``limit`` caps the items *examined* per page, so pages may hold fewer profiles.
    """
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "FilterExpression": "kind = :k",
        "ProjectionExpression": "#d, #v",
        "ExpressionAttributeNames": {"#d": "doc", "#v": "version"},
        "ExpressionAttributeValues": {":k": _s("profile")},
        "Segment": segment,
        "TotalSegments": total_segments,
    }
    if limit:
        kwargs["Limit"] = limit
    if start_key:
        kwargs["ExclusiveStartKey"] = start_key
    page = client("dynamodb").scan(**kwargs)
    items = []
    for item in page.get("Items", []):
        doc = json.loads(item["doc"]["S"])
        items.append(
            {"customer_id": doc["customer_id"], "doc": doc, "version": int(item["version"]["N"])}
        )
    return items, page.get("LastEvaluatedKey")


def claim_run(run_id: str, owner: str, lease_until: float, at: float) -> dict[str, Any] | None:
    """Take the run's lease (creating the item if needed); returns the saved state, if any.

    Raises ``RunBusy`` while another owner's lease has not expired at ``at`` (epoch seconds).
    """
    ddb = client("dynamodb")
    try:
        out = ddb.update_item(
            TableName=table(),
            Key=_run_key(run_id),
            UpdateExpression="SET #o = :me, lease_until = :until, kind = :k, #t = :ttl",
            ConditionExpression="attribute_not_exists(pk) OR lease_until < :at OR #o = :me",
            ExpressionAttributeNames={"#o": "owner", "#t": "ttl"},
            ExpressionAttributeValues={
                ":me": _s(owner),
                ":until": _n(round(lease_until, 3)),
                ":at": _n(round(at, 3)),
                ":k": _s("score_run"),
                ":ttl": _ttl(RUN_TTL_DAYS),
            },
            ReturnValues="ALL_NEW",
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        raise RunBusy(run_id) from None
    state = out["Attributes"].get("state")
    return json.loads(state["S"]) if state else None


def save_run(run_id: str, owner: str, state: dict[str, Any], lease_until: float) -> None:
    """Save the run's state while we still hold its lease (``lease_until`` 0 releases it);
    raises ``RunBusy`` if another invocation took the run over."""
    ddb = client("dynamodb")
    try:
        ddb.update_item(
            TableName=table(),
            Key=_run_key(run_id),
            UpdateExpression="SET #s = :state, lease_until = :until",
            ConditionExpression="#o = :me",
            ExpressionAttributeNames={"#s": "state", "#o": "owner"},
            ExpressionAttributeValues={
                ":state": _s(json.dumps(state, separators=(",", ":"))),
                ":until": _n(round(lease_until, 3)),
                ":me": _s(owner),
            },
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        raise RunBusy(run_id) from None


def get_run(run_id: str) -> dict[str, Any] | None:
    """A run's saved state (None if it never started or saved nothing yet)."""
    item = (
        client("dynamodb")
        .get_item(TableName=table(), Key=_run_key(run_id), ConsistentRead=True)
        .get("Item")
    )
    return json.loads(item["state"]["S"]) if item and "state" in item else None


def put_run_chunk(run_id: str, name: str, data: bytes, rows: int) -> None:
    """Store one packed chunk of a run's gathered numbers (``data`` < 400 KB)."""
    client("dynamodb").put_item(
        TableName=table(),
        Item={
            **_run_key(run_id, f"CHUNK#{name}"),
            "kind": _s("score_chunk"),
            "rows": _n(rows),
            "data": {"B": data},
            "ttl": _ttl(RUN_TTL_DAYS),
        },
    )


def run_chunks(run_id: str, prefix: str) -> list[tuple[str, bytes]]:
    """The run's chunks whose name starts with ``prefix``: ``(name, data)`` in name order."""
    items = all_items(
        "query",
        TableName=table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
        ExpressionAttributeValues={":pk": _s(f"RUN#{run_id}"), ":c": _s(f"CHUNK#{prefix}")},
        ConsistentRead=True,
    )
    return [(item["sk"]["S"][len("CHUNK#") :], bytes(item["data"]["B"])) for item in items]


def table_item_count() -> int:
    """DynamoDB's approximate item count of the table (refreshed by AWS about every 6 hours)."""
    described = client("dynamodb").describe_table(TableName=table())
    return int(described["Table"].get("ItemCount") or 0)


# -- partner sources (docs/sources.md, "Seeing what arrives") ----------------------------------
# ``SOURCES`` / ``<partner>#<topic>``: how many events of one partner topic ingest mapped,
# skipped and found unmapped (``kind`` = ``source_count``), with when and why it last skipped one.

_SOURCES_PK = "SOURCES"
SOURCE_OUTCOMES = ("mapped", "skipped", "unmapped")


def add_source_counts(
    partner: str, topic: str, counts: dict[str, int], at: str, reason: str | None = None
) -> None:
    """Add ``counts`` (outcome -> n) to the partner topic's counter item, creating it if need be."""
    adds = {o: n for o, n in counts.items() if o in SOURCE_OUTCOMES and n}
    if not adds:
        return
    names = {f"#{o}": o for o in adds} | {
        "#k": "kind",
        "#p": "partner",
        "#t": "topic",
        "#a": "last_at",
    }
    values: dict[str, Any] = {f":{o}": _n(n) for o, n in adds.items()}
    values |= {":k": _s("source_count"), ":p": _s(partner), ":t": _s(topic), ":a": _s(at)}
    update = (
        "ADD " + ", ".join(f"#{o} :{o}" for o in adds) + " SET #k = :k, #p = :p, #t = :t, #a = :a"
    )
    if reason:
        names["#r"] = "last_reason"
        values[":r"] = _s(reason[:500])
        update += ", #r = :r"
    client("dynamodb").update_item(
        TableName=table(),
        Key={"pk": _s(_SOURCES_PK), "sk": _s(f"{partner}#{topic}")},
        UpdateExpression=update,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def source_counts() -> list[dict[str, Any]]:
    """Every partner topic's counts: ``partner``, ``topic``, each outcome, ``last_at``,
    ``last_reason`` (None when it never skipped one), ordered by partner and topic."""
    items = all_items(
        "query",
        TableName=table(),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": _s(_SOURCES_PK)},
        ConsistentRead=True,
    )
    out = []
    for item in items:
        row: dict[str, Any] = {"partner": item["partner"]["S"], "topic": item["topic"]["S"]}
        row |= {o: int(item[o]["N"]) if o in item else 0 for o in SOURCE_OUTCOMES}
        row["last_at"] = item.get("last_at", {}).get("S")
        row["last_reason"] = item.get("last_reason", {}).get("S")
        out.append(row)
    return sorted(out, key=lambda r: (r["partner"], r["topic"]))
