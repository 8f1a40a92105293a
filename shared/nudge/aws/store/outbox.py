"""Outbox items: the messages nudge decided to send, from claim to final status.

- ``C#<customer>`` / ``O#<message_id>`` (``kind`` = ``outbox``): ``status`` (``pending`` ->
  ``sending`` -> ``sent``/``failed``/``suppressed``, or back to ``pending``), ``message_id``,
  ``customer_id``, ``trigger``, ``channel``, ``send_at``, the message as JSON (``doc``);
  ``scheduled`` (= ``send_at``) when its own schedule, not the stream, hands it to dispatch;
  dispatch adds ``claimed_at``, ``calling_at``, ``provider_id``. ``ttl``: 30 days
  (``OUTBOX_TTL_DAYS``). The table stream delivers new ones due at once to dispatch.
  While claimed (``sending``) an item also carries ``inflight`` (a shard, ``0``..``3``): the
  sparse ``inflight`` index (``inflight``, ``claimed_at``) lists exactly the items in flight,
  so the sweeper finds stuck ones with a Query, never a Scan.
- ``C#<customer>`` / ``A#<id>`` (``kind`` = ``announce``): nudge events for the bus (segment
  and tier changes, ``message_sent``) written in the same transaction as the change they
  announce, deleted once the bus took them; ``inflight`` and ``claimed_at`` (= written at) put
  them in the same index, so the sweeper publishes those a crash left behind. ``ttl``: 7 days.

Outbox keys ``O#...`` sort just before ``PROFILE`` in the customer's partition, so one Query
reads the profile with its outbox (``customer_outbox``).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

from nudge.aws.clients import client
from nudge.aws.scheduler import served_by_schedule
from nudge.aws.store._table import Gone, VersionConflict, _pk, _s, _ttl, table
from nudge.aws.store.bulk import all_items
from nudge.aws.store.decisions import decision_item
from nudge.aws.store.profiles import (
    SEGMENT_SK,
    Stored,
    is_segment,
    not_erased_check,
    profile_write,
    read_profile,
)
from nudge.core.clock import now
from nudge.core.decisions import Decision, Message, stable_id

OUTBOX_TTL_DAYS = 30
ANNOUNCE_TTL_DAYS = 7
INFLIGHT_INDEX = "inflight"
INFLIGHT_SHARDS = 4  # spreads the index's writes over this many partitions


def _shard(message_id: str) -> dict[str, str]:
    return _s(str(zlib.crc32(message_id.encode()) % INFLIGHT_SHARDS))


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
        "SET #s = :sending, claimed_at = :now, inflight = :shard",
        "#s = :pending",
        {":sending": _s("sending"), ":pending": _s("pending"), ":shard": _shard(message_id)},
    )


def mark_calling(customer_id: str, message_id: str) -> None:
    """Note that the provider is about to be called: after this, a crash means "maybe sent".
    Only on a claimed item that still exists; raises ``Gone`` otherwise (erased meanwhile).
    (Dispatch marks the call together with the cap slot: ``reserve_and_call``.)"""
    marked = _move_message(
        customer_id,
        message_id,
        "SET calling_at = :now",
        "attribute_exists(pk) AND #s = :sending",
        {":sending": _s("sending")},
    )
    if marked is None:
        raise Gone(customer_id)


def unclaim(customer_id: str, message_id: str, claimed_at: str) -> dict[str, Any] | None:
    """Take back a stale claim that never reached the provider (status stays ``sending``):
    only the claim made at ``claimed_at``, so of two parties retaking it (a retry and the
    sweeper) exactly one gets it; None for the other."""
    return _move_message(
        customer_id,
        message_id,
        "SET claimed_at = :now",
        "#s = :sending AND attribute_not_exists(calling_at) AND claimed_at = :seen",
        {":sending": _s("sending"), ":seen": _s(claimed_at)},
    )


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
    if "provider_retries" in item:
        body["provider_retries"] = int(item["provider_retries"]["N"])
    return body


def finish_message(
    customer_id: str,
    message_id: str,
    status: str,
    decision: Decision,
    provider_id: str | None = None,
    send_at: str | None = None,
    provider_retries: int | None = None,
) -> None:
    """Record how a claimed message ended (``sent``, ``failed``, ``suppressed``, or back to
    ``pending`` with a new ``send_at``) together with its decision, in one transaction that
    writes nothing if the customer was erased meanwhile (no tombstone, item still there):
    raises ``Gone`` then."""
    names = {"#s": "status"}
    values: dict[str, Any] = {":status": _s(status)}
    update = "SET #s = :status"
    if provider_id:
        update += ", provider_id = :pid"
        values[":pid"] = _s(provider_id)
    if send_at:
        update += ", send_at = :at"
        values[":at"] = _s(send_at)
    if provider_retries is not None:
        update += ", provider_retries = :tries"
        values[":tries"] = {"N": str(provider_retries)}
    # no longer in flight; back to pending, it starts afresh (a later claim marks its own call)
    update += " REMOVE inflight" + (", claimed_at, calling_at" if status == "pending" else "")
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
                not_erased_check(customer_id),
            ]
        )
    except ddb.exceptions.TransactionCanceledException as exc:
        codes = {r.get("Code") for r in exc.response.get("CancellationReasons") or []}
        if "ConditionalCheckFailed" in codes:
            raise Gone(customer_id) from None
        raise  # a concurrent transaction on the item (or throttling): the retry tries again


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
    """The profile (with its segments) and every outbox item of a customer (by message id), in
    one strongly consistent Query: outbox keys ``O#...`` sort just before ``PROFILE`` and its
    segments ``PROFILE#S#...`` (decisions ``D#`` before them are not read). Dispatch reads this
    once per message."""
    items = all_items(
        "query",
        TableName=table(),
        KeyConditionExpression="pk = :pk AND sk BETWEEN :o AND :p",
        ExpressionAttributeValues={
            ":pk": _s(_pk(customer_id)),
            ":o": _s("O#"),
            ":p": _s(SEGMENT_SK + "\uffff"),
        },
        ConsistentRead=True,
    )
    stored = read_profile(items)
    messages: dict[str, dict[str, Any]] = {}
    for item in items:
        if is_segment(item):
            continue
        if item.get("kind", {}).get("S") == "outbox":
            body = _message_from_item(item)
            body["send_at"] = item["send_at"]["S"]
            messages[body["message_id"]] = body
    return stored, messages


def reserve_and_call(
    customer_id: str,
    doc: dict[str, Any],
    version: int,
    message_id: str,
    pending: Sequence[dict[str, Any]] = (),
) -> None:
    """Write the profile (its ledger now counts the message, read at ``version``; ``pending``:
    the items its last write was followed by, kept for ``profiles.flush_pending``) and mark the
    claimed outbox item ``calling_at``, in one transaction: after this a crash means "maybe
    sent". Raises ``Gone`` if the customer was erased meanwhile (a tombstone, or the item no
    longer there and claimed), else ``VersionConflict`` if the profile changed since read."""
    ddb = client("dynamodb")
    write = profile_write(customer_id, doc, version, pending)
    write.before()
    try:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": write.put},
                {
                    "Update": {
                        "TableName": table(),
                        "Key": {"pk": _s(_pk(customer_id)), "sk": _s(f"O#{message_id}")},
                        "UpdateExpression": "SET calling_at = :now",
                        "ConditionExpression": "attribute_exists(pk) AND #s = :sending",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":now": _s(now().isoformat()),
                            ":sending": _s("sending"),
                        },
                    }
                },
                not_erased_check(customer_id),
            ]
        )
    except ddb.exceptions.TransactionCanceledException as exc:
        codes = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
        codes += [None] * (3 - len(codes))
        if "ConditionalCheckFailed" in (codes[1], codes[2]):
            raise Gone(customer_id) from None  # erased: the item or a tombstone says so
        if codes[0] in ("ConditionalCheckFailed", "TransactionConflict"):
            raise VersionConflict(customer_id) from None
        raise
    write.after(doc)


# ---------------------------------------------------------------------------------------------
# In flight: the sparse index the sweeper reads
# ---------------------------------------------------------------------------------------------
def in_flight(before: str, limit: int = 100) -> list[tuple[str, str, str]]:
    """``(customer_id, sort key, claimed_at)`` of outbox items claimed and announcements
    written before ``before`` (ISO time) that are still in flight, oldest first: a Query per
    shard of the sparse ``inflight`` index."""
    ddb = client("dynamodb")
    found: list[tuple[str, str, str]] = []
    for shard in range(INFLIGHT_SHARDS):
        page = ddb.query(
            TableName=table(),
            IndexName=INFLIGHT_INDEX,
            KeyConditionExpression="inflight = :shard AND claimed_at < :before",
            ExpressionAttributeValues={":shard": _s(str(shard)), ":before": _s(before)},
            Limit=limit,
        )
        for item in page.get("Items", []):
            found.append((item["pk"]["S"][2:], item["sk"]["S"], item["claimed_at"]["S"]))
    found.sort(key=lambda f: f[2])
    return found[:limit]


def announce_item(customer_id: str, envelopes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A transaction entry holding nudge events to put on the bus once the write is done."""
    text = json.dumps(list(envelopes), separators=(",", ":"), default=str, sort_keys=True)
    announce_id = stable_id("announce", customer_id, text)
    item = {
        "pk": _s(_pk(customer_id)),
        "sk": _s(f"A#{announce_id}"),
        "kind": _s("announce"),
        "doc": _s(text),
        "inflight": _shard(announce_id),
        "claimed_at": _s(now().isoformat()),
        "ttl": _ttl(ANNOUNCE_TTL_DAYS),
    }
    return {"Put": {"TableName": table(), "Item": item}}


def announced(customer_id: str, sort_key: str) -> None:
    """The bus took an announcement: delete it."""
    client("dynamodb").delete_item(
        TableName=table(), Key={"pk": _s(_pk(customer_id)), "sk": _s(sort_key)}
    )


def announcement(customer_id: str, sort_key: str) -> list[dict[str, Any]] | None:
    """The events of an announcement still waiting (None if it is gone)."""
    item = (
        client("dynamodb")
        .get_item(
            TableName=table(),
            Key={"pk": _s(_pk(customer_id)), "sk": _s(sort_key)},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return json.loads(item["doc"]["S"]) if item else None
