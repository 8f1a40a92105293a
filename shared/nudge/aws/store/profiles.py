"""Profile items, merged-alias stubs and tombstones of erased customers.

- ``C#<customer>`` / ``PROFILE`` (``kind`` = ``profile``): the profile as JSON (``doc``) with
  ``version`` for optimistic writes (the first write requires the item absent, each later one
  the version it read). History, the sends ledger, duplicate ids and pending waits live inside
  it, so the common path is one GetItem and one write. ``doc`` is text, or binary (deflated)
  once that is smaller (``core.profile.pack_profile``). ``pending`` (binary, deflated JSON of
  items, optional): the items a plain write of the profile put right after it (its decision log
  entry, an order index...); whoever writes the profile next first makes sure they were put
  (``flush_pending``), so a crash between the two writes loses none. No TTL.
- the same key with ``kind`` = ``alias``: a merged ``anon:`` profile turned into a stub (its
  ``doc`` names ``merged_into``), so later events for it are redirected to the customer.
- ``ERASED#<customer>`` / ``ERASED`` (``kind`` = ``tombstone``): an erased customer, with only
  ``erased_at``; while it is there ingest does not recreate the profile from late events. No TTL;
  deleted when the customer opts in again.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nudge.aws.clients import client
from nudge.aws.store._table import _n, _pk, _s, table
from nudge.core.clock import now
from nudge.core.profile import (
    PROFILE_BUDGET,
    decode_profile,
    encode_profile,
    fit_budget,
    pack_text,
)


@dataclass(slots=True)
class Stored:
    """A profile as read: the document and the version it had."""

    doc: dict[str, Any] | None
    version: int
    # items the last (plain) write of the profile put after it: ``flush_pending``
    pending: list[dict[str, Any]] = field(default_factory=list, compare=False)


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
    return stored_profile(item)


def stored_profile(item: dict[str, Any]) -> Stored:
    """A stored profile item as read: document, version and the items still to flush."""
    return Stored(profile_doc(item), int(item["version"]["N"]), _unpack_items(item.get("pending")))


def _pack_items(items: Sequence[dict[str, Any]]) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(json.dumps(list(items), separators=(",", ":")).encode()) + packer.flush()


def _unpack_items(value: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not value or "B" not in value:
        return []
    items: list[dict[str, Any]] = json.loads(zlib.decompress(bytes(value["B"]), -15))
    return items


def flush_pending(stored: Stored) -> None:
    """Make sure the items the profile's last write was followed by were put: a consistent
    GetItem of the last of them (they are put in order, right after the profile; the last is
    one nobody deletes, a decision log entry, when an announcement is among them) and, when it
    is missing (the writer died in between), a PutItem of each still within its time to live.
    Writing one twice changes nothing (same key, same content; an announcement put again is
    announced again by the sweeper: at least once). Done before the profile is written again."""
    if not stored.pending:
        return
    ddb = client("dynamodb")
    last = stored.pending[-1]
    found = ddb.get_item(
        TableName=table(),
        Key={"pk": last["pk"], "sk": last["sk"]},
        ProjectionExpression="pk",
        ConsistentRead=True,
    ).get("Item")
    if found is None:
        at = now().timestamp()
        for item in stored.pending:  # one past its time to live would only expire again
            if "ttl" not in item or float(item["ttl"]["N"]) > at:
                ddb.put_item(TableName=table(), Item=item)
    stored.pending = []


def profile_doc(item: dict[str, Any]) -> dict[str, Any]:
    """The document of a stored profile (or alias stub) item, as the code reads it: ``doc`` is
    text (JSON) or binary (deflated JSON, ``core.profile.pack_profile``)."""
    value = item["doc"]
    return decode_profile(value["B"] if "B" in value else value["S"])


def _profile_put(
    customer_id: str, doc: dict[str, Any], version: int, pending: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    text = encode_profile(doc)
    if len(text) > PROFILE_BUDGET:  # trimmed in place: the caller's doc is what is stored
        fit_budget(doc)
        text = encode_profile(doc)
    packed = pack_text(text)
    put: dict[str, Any] = {
        "TableName": table(),
        "Item": {
            "pk": _s(_pk(customer_id)),
            "sk": _s("PROFILE"),
            "kind": _s("profile"),
            "version": _n(version + 1),
            "doc": {"B": packed} if isinstance(packed, bytes) else _s(packed),
        },
    }
    if pending:
        put["Item"]["pending"] = {"B": _pack_items(pending)}
    if version == 0:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "version = :v"
        put["ExpressionAttributeValues"] = {":v": _n(version)}
    return put


def alias_put(alias_id: str, doc: dict[str, Any], version: int) -> dict[str, Any]:
    """A transaction entry replacing profile ``alias_id`` (read at ``version``) by a merged stub."""
    put = _profile_put(alias_id, doc, version)
    put["Item"]["kind"] = _s("alias")
    return {"Put": put}


def _tombstone_key(customer_id: str) -> dict[str, Any]:
    return {"pk": _s(f"ERASED#{customer_id}"), "sk": _s("ERASED")}


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
