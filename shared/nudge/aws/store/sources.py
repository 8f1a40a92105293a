"""Counters of what arrives from each partner (docs/sources.md, "Seeing what arrives").

- ``SOURCES`` / ``<partner>#<topic>`` (``kind`` = ``source_count``): ``partner``, ``topic``, how
  many events of that topic ingest ``mapped``, ``skipped`` and found ``unmapped`` (atomic
  counters), ``last_at`` and ``last_reason`` (when and why it last skipped one). No TTL.
"""

from __future__ import annotations

from typing import Any

from nudge.aws.clients import client
from nudge.aws.store._table import _n, _s, table
from nudge.aws.store.bulk import all_items

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
