"""Broadcast items: ``BROADCAST#<campaign>`` / ``CANCEL`` (``kind`` = ``broadcast``), written by
``nudge broadcast cancel``: its messages still waiting are dropped at sending, and a run that has
not finished queues no more. No TTL: a cancel is kept as the record of who stopped what, when.
"""

from __future__ import annotations

from nudge.aws.clients import client
from nudge.aws.store._table import _s, table


def _key(campaign_id: str) -> dict[str, dict[str, str]]:
    return {"pk": _s(f"BROADCAST#{campaign_id}"), "sk": _s("CANCEL")}


def cancel_broadcast(campaign_id: str, at: str) -> None:
    """Record that the broadcast ``campaign_id`` was cancelled at ``at`` (idempotent)."""
    item = {**_key(campaign_id), "kind": _s("broadcast"), "cancelled_at": _s(at)}
    client("dynamodb").put_item(TableName=table(), Item=item)


def broadcast_cancelled(campaign_id: str) -> str | None:
    """When the broadcast was cancelled, or None if it was not."""
    got = client("dynamodb").get_item(TableName=table(), Key=_key(campaign_id), ConsistentRead=True)
    item = got.get("Item")
    return item["cancelled_at"]["S"] if item else None
