"""The one write of ingest: a profile with what it decided.

Owns no items of its own: ``commit`` writes the profile item (``profiles``) with the outbox
items (``outbox``) and any ``extra`` entries (alias stubs, a tombstone delete) that must be
stored if and only if it is (one TransactWriteItems; a PutItem when there are none), then the
decision log entry (``decisions``) and ``after`` items (announcement, order index, conversion,
watch), a PutItem each (kept on the profile as ``pending`` until then). ``cancelled`` maps a cancelled transaction back to what it means for
the caller (``Erased``, ``VersionConflict``, ``AlreadyExists``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nudge.aws.clients import client
from nudge.aws.store._table import AlreadyExists, Erased, VersionConflict, item_size, table
from nudge.aws.store.decisions import decision_log_item, fold_log
from nudge.aws.store.outbox import outbox_item
from nudge.aws.store.profiles import _profile_put, is_erased, not_erased_check, profile_write
from nudge.core.decisions import Decision, Message

# Told of each log item ``commit`` did not put because the profile keeps it instead
# (``decisions.fold_log``), once the profile is written: the simulator, whose report counts
# every decision, not only those the profiles still keep.
KEPT_LISTENERS: list[Callable[[dict[str, Any]], None]] = []
# Items put after a profile that nobody deletes on purpose (they expire, or go with an erasure):
# the last item a write carries (``pending``) must be one, for ``profiles.flush_pending`` to
# tell from it whether they were all put. A log entry is one; when the write's last other item
# is one too, the log entry can stay in the profile instead of being put.
LASTING = frozenset({"order_index", "conversion", "phone_index", "decision"})


def commit(
    customer_id: str,
    doc: dict[str, Any],
    version: int,
    decisions: Sequence[Decision] = (),
    messages: Sequence[Message] = (),
    extra: Sequence[dict[str, Any]] = (),
    after: Sequence[dict[str, Any]] = (),
    creates: bool = False,
) -> None:
    """Write the profile, what it decided, ``extra`` transaction entries and ``after`` items,
    if nobody wrote the profile since ``version``.

    The profile goes first: a conditional PutItem, or one TransactWriteItems with the outbox
    items of ``messages`` and the ``extra`` entries (alias stubs...): those must be stored if
    and only if the profile change is. The decision log entry and the ``after`` items (plain
    ``Put`` entries of items that only add what the change learnt and are the same when written
    twice: an order index, a conversion, a watch, an announcement) follow it, one PutItem each:
    a transaction costs twice the write units of every item in it, these cost them once. A log
    entry is not put at all when nothing else follows and it fits in what the profile's write
    pays for anyway: the profile keeps it (``decisions.fold_log``; the entries it lets go are
    put first, as one item). The
    profile's write carries them (``pending``, the ``after`` items first, the log entry last),
    so should the process die before they are all put, the next writer of the profile puts
    them (``profiles.flush_pending``) and ``decisions_for`` reads them meanwhile.

    ``creates``: the profile is being created, and must not be an erased customer's. In a
    transaction a tombstone check goes with it (``not_erased_check``); a plain write reads the
    tombstone right after the profile is put and, if there is one, deletes the profile again
    before anything else is written. Either way nothing is left of an erased customer, even
    when the erasure lands between reading and writing. The same read follows the items put
    after the profile, so an erasure landing between the two writes leaves none of them.

    Raises ``VersionConflict`` (the profile or a merged alias changed since read: read again
    and retry), ``Erased`` (the customer has a tombstone) or ``AlreadyExists`` (an outbox item
    is already there: an earlier attempt of this very work was written).
    """
    ddb = client("dynamodb")
    first = [entry["Put"]["Item"] for entry in after]
    # the log entry kept in the profile, when it fits, rather than an item (the last pending
    # item must be one nobody deletes: so only when what else follows ends with such an item)
    units = _units(customer_id, version, first)
    entries = log_items(decisions)
    lasting = not first or first[-1].get("kind", {}).get("S") in LASTING
    doc, log, before = fold_log(doc, entries, units, fold=lasting)
    kept = [item for item in entries if not any(item is other for other in log)]
    later = [*first, *log]
    write = profile_write(customer_id, doc, version, later)
    for item in before:  # log entries the profile lets go: stored before they leave it
        ddb.put_item(TableName=table(), Item=item)
    write.before()  # a new segment goes first: unlisted, it is ignored should the write lose
    try:
        if not messages and not extra:
            put = write.put
            try:
                ddb.put_item(**put)
            except ddb.exceptions.ConditionalCheckFailedException:
                raise VersionConflict(customer_id) from None
            if creates and is_erased(customer_id):
                key = {"pk": put["Item"]["pk"], "sk": put["Item"]["sk"]}
                ddb.delete_item(TableName=table(), Key=key)
                raise Erased(customer_id)  # (its new segment is deleted below, as it goes)
        else:
            if creates:
                extra = [*extra, not_erased_check(customer_id)]
            items = transaction(customer_id, doc, version, (), messages, extra, later, write.put)
            try:
                ddb.transact_write_items(TransactItems=items)
            except ddb.exceptions.TransactionCanceledException as exc:
                raise cancelled(customer_id, items, exc) from None
    except Exception:
        # the profile still holds those entries (read once: ``decisions.unique``) and a new
        # segment nothing lists is deleted by a later write, unless an erasure took the profile
        # meanwhile (or before an eventually consistent read): then nothing may stay
        put_first = [*before, *([write.segment] if write.segment is not None else [])]
        if put_first and is_erased(customer_id):
            for item in put_first:
                ddb.delete_item(TableName=table(), Key={"pk": item["pk"], "sk": item["sk"]})
        raise
    write.after(doc)
    for listener in KEPT_LISTENERS:
        for item in kept:
            listener(item)
    for item in later:
        ddb.put_item(TableName=table(), Item=item)
    if later and is_erased(customer_id):
        # an erasure landed between the profile's write and these puts: its tombstone is
        # written before it deletes, so either it deleted them already or we see it here
        for item in later:
            ddb.delete_item(TableName=table(), Key={"pk": item["pk"], "sk": item["sk"]})


def _units(
    customer_id: str, version: int, first: list[dict[str, Any]]
) -> Callable[[dict[str, Any], list[dict[str, Any]]], int]:
    """What writing a profile document costs, in write units (its item's size, by KB), carrying
    ``first`` and then the log items given as ``pending``."""

    def units(doc: dict[str, Any], log: list[dict[str, Any]]) -> int:
        item = _profile_put(customer_id, doc, version, [*first, *log])["Item"]
        return -(-item_size(item) // 1024)

    return units


def transaction(
    customer_id: str,
    doc: dict[str, Any],
    version: int,
    decisions: Sequence[Decision] = (),
    messages: Sequence[Message] = (),
    extra: Sequence[dict[str, Any]] = (),
    pending: Sequence[dict[str, Any]] = (),
    profile: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The transaction entries of a profile write: the profile first (carrying ``pending``),
    then ``extra``, the outbox items (each only if not there yet) and the decisions, one log
    entry item per customer and moment (``decisions.decision_log_item``: normally one for the
    whole event; ``commit`` passes none, it puts them after). ``profile``: the profile's put,
    if already made (``profiles.profile_write``)."""
    profile = profile or _profile_put(customer_id, doc, version, pending)
    items: list[dict[str, Any]] = [{"Put": profile}, *extra]
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
    items += [{"Put": {"TableName": table(), "Item": item}} for item in log_items(decisions)]
    return items


def log_items(decisions: Sequence[Decision]) -> list[dict[str, Any]]:
    """The decision log items of ``decisions``: one per customer and moment
    (``decisions.decision_log_item``), normally one for the whole event."""
    moments: dict[tuple[str, str], list[Decision]] = {}
    for d in decisions:
        moments.setdefault((d.customer_id, d.at), []).append(d)
    return [decision_log_item(group) for group in moments.values()]


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
