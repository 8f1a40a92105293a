"""Profile items, merged-alias stubs and tombstones of erased customers.

- ``C#<customer>`` / ``PROFILE`` (``kind`` = ``profile``): the profile as JSON (``doc``) with
  ``version`` for optimistic writes (the first write requires the item absent, each later one
  the version it read). History, the sends ledger, duplicate ids and pending waits live inside
  it, so the common path is one GetItem and one write. ``doc`` is text, or binary (deflated)
  once that is smaller (``core.profile.pack_profile``). ``pending`` (binary, deflated JSON of
  items, optional): the items a plain write of the profile put right after it (its decision log
  entry, an order index...); whoever writes the profile next first makes sure they were put
  (``flush_pending``), so a crash between the two writes loses none. No TTL. The document's
  ``segs`` lists the profile's live segments (below).
- ``C#<customer>`` / ``PROFILE#S#<seq:08d>#<token>`` (``kind`` = ``segment``): old history rows
  and duplicate-set ids moved out of the profile item once it grew past about a KB
  (``core.profile.split_segments``), deflated (``doc``, binary); ``token`` is a hash of that
  content. Put before the profile write that lists it and never changed after; one the profile
  does not list is ignored (an orphan of a write that lost a race: deleted by the next write
  once the profile's ``segs.n`` is past its number). Deleted when the profile no longer holds
  any of its entries; ``ttl`` ``SEGMENT_TTL_DAYS`` after its newest entry, in case that
  delete is lost.
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
from nudge.aws.store._table import _n, _pk, _s, item_size, table
from nudge.core.clock import now
from nudge.core.profile import (
    PROFILE_BUDGET,
    SEGS,
    Flush,
    decode_profile,
    encode_profile,
    fit_budget,
    merge_segments,
    pack_text,
    split_segments,
)

PROFILE_SK = "PROFILE"
SEGMENT_SK = "PROFILE#S#"
# a segment outlives its newest entry by this much: no history condition looks back further
# (a longer ``within`` sees at most this far back once its rows are in segments)
SEGMENT_TTL_DAYS = 800


@dataclass(slots=True)
class Stored:
    """A profile as read: the document and the version it had."""

    doc: dict[str, Any] | None
    version: int
    # items the last (plain) write of the profile put after it: ``flush_pending``
    pending: list[dict[str, Any]] = field(default_factory=list, compare=False)
    # read strongly consistently: else perhaps not the latest (``get_profile``)
    consistent: bool = field(default=True, compare=False)


def get_profile(customer_id: str, consistent: bool = True) -> Stored:
    """Read a profile with its segments, in one Query: the whole document, as if it were one
    item. Strongly consistent by default; ``consistent=False`` reads at half the price what
    may be an older version (a write made within about a second may not show yet): only for a
    reader that then writes conditionally on that version, and reads again strongly
    consistently when the write fails or it would not write at all
    (``flows.common.write_customer``, docs/storage.md)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
        "ExpressionAttributeValues": {":pk": _s(_pk(customer_id)), ":p": _s(PROFILE_SK)},
        "ConsistentRead": consistent,
    }
    ddb = client("dynamodb")
    while True:
        page = ddb.query(**kwargs)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    stored = read_profile(items)
    stored.consistent = consistent
    return stored


def read_profile(items: Sequence[dict[str, Any]]) -> Stored:
    """The profile among one customer's ``items`` (the profile item and its segments, perhaps
    among others of the partition), its listed segments merged back in."""
    profile = next((i for i in items if i["sk"]["S"] == PROFILE_SK), None)
    if profile is None:
        return Stored(None, 0)
    return stored_profile(profile, [i for i in items if is_segment(i)])


def is_segment(item: dict[str, Any]) -> bool:
    """Is this stored item a profile's history segment?"""
    return item["sk"]["S"].startswith(SEGMENT_SK)


def stored_profile(item: dict[str, Any], segments: Sequence[dict[str, Any]] = ()) -> Stored:
    """A stored profile item as read: document (with the live entries of its listed
    ``segments``), version and the items still to flush."""
    doc = profile_doc(item)
    contents: dict[tuple[int, str], bytes] = {}
    for segment in segments:
        seq, token = segment_key(segment)
        contents[(seq, token)] = bytes(segment["doc"]["B"])
    merge_segments(doc, contents, sorted(contents))
    return Stored(doc, int(item["version"]["N"]), _unpack_items(item.get("pending")))


def segment_key(item: dict[str, Any]) -> tuple[int, str]:
    """A segment item's number and token (from its sort key)."""
    _prefix, seq, token = item["sk"]["S"].rsplit("#", 2)
    return int(seq), token


def listed_segment_keys(customer_id: str, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The keys of the segments a profile document lists."""
    segs: dict[str, Any] = doc[SEGS] if isinstance(doc.get(SEGS), dict) else {}
    return [_segment_key(customer_id, e[0], e[1]) for e in segs.get("l") or ()]


def segment_keys(customer_id: str, doc: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The keys of every segment a profile document read with ``get_profile`` knows of: those
    it lists and those found stored beside it (a merged alias's, deleted after its stub)."""
    held = doc or {}
    segs: dict[str, Any] = held[SEGS] if isinstance(held.get(SEGS), dict) else {}
    known = {(e[0], e[1]) for e in segs.get("l") or ()}
    known |= {(int(p[0]), str(p[1])) for p in segs.get("p") or ()}
    return [_segment_key(customer_id, seq, token) for seq, token in sorted(known)]


def merge_listed(docs: Sequence[dict[str, Any]], consistent: bool = False) -> None:
    """Merge into each profile document read on its own (a scan) the segments it lists,
    fetched by BatchGetItem (100 keys a call)."""
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in docs:
        for key in listed_segment_keys(str(doc.get("customer_id")), doc):
            wanted[(key["pk"]["S"], key["sk"]["S"])] = key
    found: dict[str, list[dict[str, Any]]] = {}
    keys = list(wanted.values())
    ddb = client("dynamodb")
    while keys:
        batch, keys = keys[:100], keys[100:]
        request: dict[str, Any] = {table(): {"Keys": batch, "ConsistentRead": consistent}}
        while request:
            page = ddb.batch_get_item(RequestItems=request)
            for item in page.get("Responses", {}).get(table(), []):
                found.setdefault(item["pk"]["S"], []).append(item)
            request = page.get("UnprocessedKeys") or {}
    for doc in docs:
        if isinstance(doc.get(SEGS), dict):
            held = found.get(_pk(str(doc.get("customer_id"))), [])
            contents = {segment_key(i): bytes(i["doc"]["B"]) for i in held}
            merge_segments(doc, contents, complete=False)


def _pack_items(items: Sequence[dict[str, Any]]) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(json.dumps(list(items), separators=(",", ":")).encode()) + packer.flush()


def _unpack_items(value: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not value or "B" not in value:
        return []
    items: list[dict[str, Any]] = json.loads(zlib.decompress(bytes(value["B"]), -15))
    return items


def flush_pending(stored: Stored) -> bool:
    """Make sure the items the profile's last write was followed by were put: a consistent
    GetItem of the last of them (they are put in order, right after the profile; the last is
    one nobody deletes, a decision log entry, when an announcement is among them) and, when it
    is missing (the writer died in between), a PutItem of each still within its time to live.
    Writing one twice changes nothing (same key, same content; an announcement put again is
    announced again by the sweeper: at least once). Done before the profile is written again.

    False, and nothing put, when the last one is missing but ``stored`` may not be the latest
    version (read eventually consistently): it may be missing because an erasure deleted it
    since, and must not be put back; read the profile again strongly consistently."""
    if not stored.pending:
        return True
    ddb = client("dynamodb")
    last = stored.pending[-1]
    found = ddb.get_item(
        TableName=table(),
        Key={"pk": last["pk"], "sk": last["sk"]},
        ProjectionExpression="pk",
        ConsistentRead=True,
    ).get("Item")
    if found is None:
        if not stored.consistent:
            return False
        at = now().timestamp()
        for item in stored.pending:  # one past its time to live would only expire again
            if "ttl" not in item or float(item["ttl"]["N"]) > at:
                ddb.put_item(TableName=table(), Item=item)
    stored.pending = []
    return True


def profile_doc(item: dict[str, Any]) -> dict[str, Any]:
    """The document of a stored profile (or alias stub) item, as the code reads it: ``doc`` is
    text (JSON) or binary (deflated JSON, ``core.profile.pack_profile``)."""
    value = item["doc"]
    return decode_profile(value["B"] if "B" in value else value["S"])


def _segment_key(customer_id: str, seq: int, token: str) -> dict[str, Any]:
    return {"pk": _s(_pk(customer_id)), "sk": _s(f"{SEGMENT_SK}{seq:08d}#{token}")}


@dataclass(slots=True)
class ProfileWrite:
    """One write of a profile: the segment to put first (if any), the profile's conditional
    put, the segments to delete after it, and the document's segment listing once written."""

    put: dict[str, Any]
    segment: dict[str, Any] | None
    drop: list[dict[str, Any]]
    listing: dict[str, Any] | None

    def before(self) -> None:
        """Put the new segment (before the profile write that lists it)."""
        if self.segment is not None:
            client("dynamodb").put_item(TableName=table(), Item=self.segment)

    def after(self, doc: dict[str, Any]) -> None:
        """Once the profile is written: delete the segments it dropped (best effort: each
        has a ``ttl``) and note the new listing in ``doc`` (so it may be written again)."""
        ddb = client("dynamodb")
        for key in self.drop:
            ddb.delete_item(TableName=table(), Key=key)
        if self.listing is not None and self.listing["l"]:
            doc[SEGS] = self.listing
        else:
            doc.pop(SEGS, None)


def profile_write(
    customer_id: str,
    doc: dict[str, Any],
    version: int,
    pending: Sequence[dict[str, Any]] = (),
    kind: str = "profile",
) -> ProfileWrite:
    """How ``doc`` (read at ``version``) is written: its item, kept about a KB by moving old
    history rows and ids to a new segment (``core.profile.split_segments``)."""
    if len(encode_profile(doc)) > PROFILE_BUDGET:  # trimmed in place: the caller's doc is stored
        fit_budget(doc)

    def item(hot: dict[str, Any]) -> dict[str, Any]:
        packed = pack_text(encode_profile(hot))
        out: dict[str, Any] = {
            "pk": _s(_pk(customer_id)),
            "sk": _s(PROFILE_SK),
            "kind": _s(kind),
            "version": _n(version + 1),
            "doc": {"B": packed} if isinstance(packed, bytes) else _s(packed),
        }
        if pending:
            out["pending"] = {"B": _pack_items(pending)}
        return out

    flush: Flush = split_segments(doc, lambda hot: item_size(item(hot)))
    put: dict[str, Any] = {"TableName": table(), "Item": item(flush.hot)}
    if version == 0:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "version = :v"
        put["ExpressionAttributeValues"] = {":v": _n(version)}
    segment = None
    if flush.segment is not None:
        seq, token, packed, newest = flush.segment
        segment = {
            **_segment_key(customer_id, seq, token),
            "kind": _s("segment"),
            "doc": {"B": packed},
        }
        if newest is not None:  # (one holding order rows is kept while the profile holds them)
            segment["ttl"] = _n(int(newest) + SEGMENT_TTL_DAYS * 86400)
    drop = [_segment_key(customer_id, seq, token) for seq, token in flush.dropped]
    return ProfileWrite(put, segment, drop, flush.listing)


def _profile_put(
    customer_id: str, doc: dict[str, Any], version: int, pending: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    return profile_write(customer_id, doc, version, pending).put


def alias_put(alias_id: str, doc: dict[str, Any], version: int) -> dict[str, Any]:
    """A transaction entry replacing profile ``alias_id`` (read at ``version``) by a merged stub
    (its segments, if it had any, are the caller's to delete: ``listed_segment_keys``)."""
    return {"Put": profile_write(alias_id, doc, version, kind="alias").put}


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
