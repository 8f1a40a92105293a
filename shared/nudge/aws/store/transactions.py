"""The one write of ingest: a profile with what it decided, in a single call.

Owns no items of its own: ``commit`` writes the profile item (``profiles``), the outbox items
(``outbox``), the decision items (``decisions``) and any ``extra`` entries (order index, alias
stubs, tombstone check or delete) together, and ``cancelled`` maps a cancelled transaction
back to what it means for the caller (``Erased``, ``VersionConflict``, ``AlreadyExists``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nudge.aws.clients import client
from nudge.aws.store._table import AlreadyExists, Erased, VersionConflict, table
from nudge.aws.store.decisions import decision_log_item
from nudge.aws.store.outbox import outbox_item
from nudge.aws.store.profiles import _profile_put
from nudge.core.decisions import Decision, Message


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
    items (each only if not there yet) and the decisions, one log entry item per customer and
    moment (``decisions.decision_log_item``: normally one for the whole event)."""
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
    moments: dict[tuple[str, str], list[Decision]] = {}
    for d in decisions:
        moments.setdefault((d.customer_id, d.at), []).append(d)
    items += [
        {"Put": {"TableName": table(), "Item": decision_log_item(group)}}
        for group in moments.values()
    ]
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
