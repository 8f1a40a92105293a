"""Reads and deletes across many items: paginated Query/Scan, parallel-scan pages of profiles,
a customer's whole partition, batch deletes, the table's item count, items as plain values.

Owns no items: it reads and deletes items the other modules of ``nudge.aws.store`` describe.
``scan_kind`` and ``table_item_count`` are for the simulator and small-table tools;
``scan_profiles`` feeds the daily score run; ``partition_items``, ``plain_item`` and
``delete_keys`` serve privacy requests (export, erase).
"""

from __future__ import annotations

import json
from typing import Any

from nudge.aws.clients import client
from nudge.aws.store._table import _pk, _s, table
from nudge.aws.store.profiles import merge_listed, profile_doc


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


def scan_kind(kind: str) -> list[dict[str, Any]]:
    """Every item of one kind (simulation read-back and small-table tools only)."""
    return all_items(
        "scan",
        TableName=table(),
        FilterExpression="kind = :k",
        ExpressionAttributeValues={":k": _s(kind)},
    )


def scan_profiles(
    segment: int,
    total_segments: int,
    start_key: dict[str, Any] | None = None,
    limit: int | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of one parallel-scan segment: profiles (``customer_id``, ``doc``, ``version``)
    and the key the next page starts from (None at the end of the segment).

    Eventually consistent (half the read cost): writers re-read the profile before writing.
    Each profile's history segments are merged back in (``profiles.merge_listed``).
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
        doc = profile_doc(item)
        items.append(
            {"customer_id": doc["customer_id"], "doc": doc, "version": int(item["version"]["N"])}
        )
    merge_listed([i["doc"] for i in items])  # their history segments, one BatchGetItem a 100
    return items, page.get("LastEvaluatedKey")


def profile_docs(kinds: tuple[str, ...] = ("profile",)) -> list[dict[str, Any]]:
    """Every stored profile document of these kinds, with its history segments merged back
    (simulation read-back and small-table tools only: two scans)."""
    docs = [profile_doc(item) for kind in kinds for item in scan_kind(kind)]
    merge_listed(docs)
    return docs


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
    if out.get("kind") in ("profile", "alias") and "doc" in item:
        out["doc"] = profile_doc(item)
    return out


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


def table_item_count() -> int:
    """DynamoDB's approximate item count of the table (refreshed by AWS about every 6 hours)."""
    described = client("dynamodb").describe_table(TableName=table())
    return int(described["Table"].get("ItemCount") or 0)
