"""Checkpoints of the daily score run, so a recompute survives timeouts and never runs twice.

- ``RUN#score#<date>`` / ``RUN`` (``kind`` = ``score_run``): ``state`` (JSON: phase, fitted
  model, per-segment scan cursors, counts) and a lease (``owner``, ``lease_until``) so two
  invocations never work on the same run at once.
- ``RUN#score#<date>`` / ``CHUNK#<name>`` (``kind`` = ``score_chunk``): the per-customer numbers
  the first pass gathered, packed (``data``, binary; ``rows``; no customer ids).

Both expire after ``RUN_TTL_DAYS`` (``ttl``).
"""

from __future__ import annotations

import json
from typing import Any

from nudge.aws.clients import client
from nudge.aws.store._table import _n, _s, _ttl, table
from nudge.aws.store.bulk import all_items

RUN_TTL_DAYS = 3


class RunBusy(Exception):
    """Another invocation holds the run's lease (or took it over from us)."""


def _run_key(run_id: str, sk: str = "RUN") -> dict[str, Any]:
    return {"pk": _s(f"RUN#{run_id}"), "sk": _s(sk)}


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
