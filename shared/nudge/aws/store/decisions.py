"""Decision log items: what nudge decided about a customer, and why.

- ``C#<customer>`` / ``D#<at>#<id>`` (``kind`` = ``decision``): the decision as JSON (``doc``);
  ``<at>`` is when it was decided (so a customer's log reads oldest first) and ``<id>`` a stable
  hash of the decision (writing the same decision twice leaves one item). ``ttl``: 90 days
  (``DECISION_TTL_DAYS``).

Ingest writes them in the profile's transaction (``transactions.commit``); dispatch writes its
outcomes with ``put_decisions`` or with the outbox item's final status (``outbox.finish_message``).
"""

from __future__ import annotations

import json
from typing import Any

from nudge.aws.clients import client
from nudge.aws.store._table import _pk, _s, _ttl, table
from nudge.aws.store.bulk import all_items
from nudge.core.decisions import Decision, stable_id

DECISION_TTL_DAYS = 90


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
        *_journey_step(decision),
        length=10,
    )
    if "seq" in decision.detail:  # a journey's steps decided in one instant keep their order
        uid = f"{int(decision.detail['seq']):03d}{uid[3:]}"
    return {
        "pk": _s(_pk(decision.customer_id)),
        "sk": _s(f"D#{decision.at}#{uid}"),
        "kind": _s("decision"),
        "doc": _s(json.dumps(body, separators=(",", ":"), default=str)),
        "ttl": _ttl(DECISION_TTL_DAYS),
    }


def _journey_step(decision: Decision) -> tuple[str, ...]:
    """A journey decision's step: two steps of one journey may decide alike in one instant."""
    step = decision.detail.get("step") if decision.detail else None
    return (str(step),) if step else ()


def put_decisions(decisions: list[Decision]) -> None:
    """Append decisions to the log (dispatch's outcomes)."""
    ddb = client("dynamodb")
    for decision in decisions:
        ddb.put_item(TableName=table(), Item=decision_item(decision))


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
