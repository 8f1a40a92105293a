"""Decision log items: what nudge decided about a customer, and why.

- ``C#<customer>`` / ``D#<at>#<id>`` (``kind`` = ``decision``), ``doc`` one of:

  - a *log entry* (``"v": 2``): every decision one event (or one wake) made for the customer,
    in one item (``decision_log_item``). The fields they share are written once (``c``
    customer, ``at``, ``e`` the event id and type), the others as rows (``d``); the triggers
    the event matched whose audience did not (``suppressed``/``audience``) are grouped by
    their detail (``a``: ``[detail, [trigger, ...]]``), so 200 triggers cost a line each;
  - a single decision as JSON (dispatch's outcomes, ``decision_item``; and everything
    written before log entries).

  ``<at>`` is when it was decided (so a customer's log reads oldest first) and ``<id>`` a
  stable hash of the decision(s) (writing the same twice leaves one item). ``ttl``: 90 days
  (``DECISION_TTL_DAYS``).

Readers see decisions, never items: ``decisions_for`` and ``item_decisions`` expand both forms
into the same dicts, ordered as one item per decision used to be (time, then the decision's
own hash), so ``nudge explain`` reads the same either way.

- in the profile itself (``MISSES``): the log entry of an event is kept compactly in the
  profile's own write instead of an item, while it fits in what that write pays for anyway
  (``fold_log``: the newest ``MISSES_MAX``), read back by ``profile_decisions`` into the same
  decisions. When they no longer fit, entries of audience misses only are dropped (counted,
  with the time of the latest) and the others leave together as one item (``"v": 3``,
  ``batch_log_item``), put before the profile's write that lets them go: a decision is never
  lost, and one that a lost race leaves in both places is read once (``unique``).

Ingest writes one log entry with the profile's write (``transactions.commit``: in its
transaction, or put right after it and carried by the profile as ``pending`` until then, which
``decisions_for`` reads too); dispatch writes its outcomes with ``put_decisions`` or with the
outbox item's final status (``outbox.finish_message``).
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from nudge.aws.clients import client
from nudge.aws.store._table import _n, _pk, _s, _ttl, table
from nudge.aws.store.bulk import all_items, scan_kind
from nudge.aws.store.profiles import get_profile, profile_doc
from nudge.core.clock import iso, now, parse_time
from nudge.core.decisions import MISSES, MISSES_MAX, Decision, stable_id
from nudge.core.profile import pack_text

DECISION_TTL_DAYS = 90


def _uid(d: dict[str, Any]) -> str:
    """The stable hash of one decision (its item's id when stored alone). A journey's step is
    part of it (two steps of one journey may decide alike in one instant), and its ``seq``
    leads it so a journey's steps decided in one instant keep their order."""
    detail = d.get("detail") or {}
    step = (str(detail["step"]),) if detail.get("step") else ()
    uid = stable_id(
        d.get("trigger") or "-",
        d["outcome"],
        d.get("reason") or "",
        d.get("event_id") or "",
        d.get("message_id") or "",
        d["at"],
        *step,
        length=10,
    )
    if "seq" in detail:
        uid = f"{int(detail['seq']):03d}{uid[3:]}"
    return uid


def decision_item(decision: Decision) -> dict[str, Any]:
    """A decision as a table item."""
    body = decision.as_dict()
    uid = _uid(body)
    return {
        "pk": _s(_pk(decision.customer_id)),
        "sk": _s(f"D#{decision.at}#{uid}"),
        "kind": _s("decision"),
        "doc": _s(json.dumps(body, separators=(",", ":"), default=str)),
        "ttl": _ttl(DECISION_TTL_DAYS),
    }


_SHARED = ("customer_id", "at")
_ABOUT = ("event_id", "event_type")


def _audience_only(d: dict[str, Any], about: list[Any]) -> bool:
    """A ``suppressed``/``audience`` decision about the entry's event, with nothing else."""
    return (
        d["outcome"] == "suppressed"
        and d.get("reason") == "audience"
        and [d.get("event_id"), d.get("event_type")] == about
        and not d.get("channel")
        and not d.get("message_id")
        and d.get("trigger") is not None
    )


def decision_log_item(decisions: Sequence[Decision]) -> dict[str, Any]:
    """The decisions one event (or wake) made for one customer as one log entry item; the
    first decision gives the customer and the time (they share both)."""
    rows = [d.as_dict() for d in decisions]
    first = rows[0]
    counts = Counter((d.get("event_id"), d.get("event_type")) for d in rows)
    about = list(counts.most_common(1)[0][0])
    body: dict[str, Any] = {"v": 2, "c": first["customer_id"], "at": first["at"], "e": about}
    plain: list[dict[str, Any]] = []
    groups: dict[str, list[str]] = {}
    for d in rows:
        if d["customer_id"] != first["customer_id"] or d["at"] != first["at"]:
            raise ValueError("one log entry holds one customer's decisions of one moment")
        if _audience_only(d, about):
            detail = json.dumps(d.get("detail") or {}, sort_keys=True, default=str)
            groups.setdefault(detail, []).append(d["trigger"])
            continue
        row = {k: v for k, v in d.items() if k not in (*_SHARED, *_ABOUT) and v not in (None, {})}
        if [d.get("event_id"), d.get("event_type")] != about:
            row.update({k: d.get(k) for k in _ABOUT})  # about another event (a wait's)
        plain.append(row)
    if plain:
        body["d"] = plain
    if groups:
        body["a"] = [[json.loads(detail), triggers] for detail, triggers in groups.items()]
    uid = stable_id(*sorted(_uid(d) for d in rows), length=10)
    return {
        "pk": _s(_pk(first["customer_id"])),
        "sk": _s(f"D#{first['at']}#{uid}"),
        "kind": _s("decision"),
        "doc": _s(json.dumps(body, separators=(",", ":"), default=str)),
        "ttl": _ttl(DECISION_TTL_DAYS),
    }


def _expand(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The decisions of a stored ``doc`` (a log entry, or one decision), as full dicts."""
    if doc.get("v") != 2:
        return [doc]
    event_id, event_type = doc.get("e") or [None, None]
    base = {
        "customer_id": doc["c"],
        "trigger": None,
        "at": doc["at"],
        "outcome": "",
        "reason": None,
        "event_id": event_id,
        "event_type": event_type,
        "channel": None,
        "message_id": None,
        "detail": {},
    }
    out = [{**base, **row} for row in doc.get("d") or ()]
    for detail, triggers in doc.get("a") or ():
        out += [
            {**base, "trigger": t, "outcome": "suppressed", "reason": "audience", "detail": detail}
            for t in triggers
        ]
    return out


def _foldable(item: dict[str, Any], customer_id: str) -> dict[str, Any] | None:
    """The body of a log entry item (``decision_log_item``) of ``customer_id``, else None."""
    if item.get("kind", {}).get("S") != "decision":
        return None
    body = item_body(item)
    if body.get("v") != 2 or body.get("c") != customer_id:
        return None
    return body


def _row(body: dict[str, Any]) -> list[Any]:
    """A log entry as a profile row: ``[at, event id, event type, audience groups]``, and its
    other decisions as a fifth element when it has any."""
    row = [body["at"], *(body.get("e") or [None, None]), body.get("a") or []]
    return [*row, body["d"]] if body.get("d") else row


def _decides(row: list[Any]) -> bool:
    """Does a profile row hold more than audience misses (decisions that must not be lost)?"""
    return len(row) > 4 and bool(row[4])


def _row_body(customer_id: str, row: list[Any]) -> dict[str, Any]:
    """The log entry body (``"v": 2``) a profile row was made from."""
    at, event_id, event_type, groups, *plain = row
    body: dict[str, Any] = {"v": 2, "c": customer_id, "at": at, "e": [event_id, event_type]}
    if plain and plain[0]:
        body["d"] = plain[0]
    if groups:
        body["a"] = groups
    return body


def batch_log_item(customer_id: str, rows: Sequence[list[Any]]) -> dict[str, Any]:
    """Log entries the profile held, moved out together as one item (``"v": 3``, its rows as
    the profile held them). Keyed by the newest entry's time, so a log read from a time on
    finds it; the same rows give the same key."""
    rows = sorted(rows, key=lambda r: (str(r[0]), str(r[1])))
    uid = stable_id(*(f"{r[0]}#{r[1]}" for r in rows), length=10)
    # deflated once that is smaller: twenty events' entries repeat their triggers and outcomes
    packed = pack_text(
        json.dumps({"v": 3, "c": customer_id, "r": rows}, separators=(",", ":"), default=str)
    )
    return {
        "pk": _s(_pk(customer_id)),
        "sk": _s(f"D#{rows[-1][0]}#{uid}"),
        "kind": _s("decision"),
        "doc": {"B": packed} if isinstance(packed, bytes) else _s(packed),
        # gone 90 days after its newest entry (``item_decisions`` hides each older one meanwhile)
        "ttl": _n(int(parse_time(rows[-1][0]).timestamp()) + DECISION_TTL_DAYS * 86400),
    }


def item_body(item: dict[str, Any]) -> dict[str, Any]:
    """A decision item's body: JSON text, or deflated (``batch_log_item``)."""
    value = item["doc"]
    text = zlib.decompress(bytes(value["B"]), -15).decode() if "B" in value else value["S"]
    body: dict[str, Any] = json.loads(text)
    return body


def fold_log(
    doc: dict[str, Any],
    items: Sequence[dict[str, Any]],
    units: Callable[[dict[str, Any], list[dict[str, Any]]], int],
    fold: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The profile ``doc`` with the log entries among ``items`` kept in it (``MISSES``: rows,
    ``_row``), the items still to put after it, and the items to put *before* it. ``doc``
    itself is not changed.

    Kept: the newest ``MISSES_MAX`` within the log's 90 days, and only while they cost the
    profile's write no write unit (``units``: what writing a document costs, with the items it
    carries as ``pending``). When they no longer fit, the oldest go first: an entry of audience
    misses only is dropped (``gone`` counts those, ``gone_at`` is the time of the latest); an
    entry that decided anything else is never dropped: it and every other such entry the
    profile held leave together, as one log item (``batch_log_item``) put before the profile's
    write, so the room is free again for the next events. An entry that does not fit even
    alone is put as its log item, as any other. With ``fold`` False (other items follow the
    write) no entry is folded, but those kept are still fitted: every write of the profile does
    this, so they never cost one."""
    customer_id = str(doc.get("customer_id"))
    kept: list[tuple[dict[str, Any], dict[str, Any]]] = []
    rest: list[dict[str, Any]] = []
    for item in items:
        body = _foldable(item, customer_id) if fold else None
        if body is None:
            rest.append(item)
        else:
            kept.append((item, body))
    if not kept and not (doc.get(MISSES) or {}).get("r"):
        return doc, rest, []
    held = dict(doc.get(MISSES) or {})
    fresh = [(_row(b), item) for item, b in kept]
    oldest = iso(now() - timedelta(days=DECISION_TTL_DAYS))
    rows = sorted(
        [*((r, None) for r in held.get("r") or () if r[0] >= oldest), *fresh],  # as items expire
        key=lambda pair: str(pair[0][0]),
    )
    limit = units({**doc, MISSES: {**held, "r": []}}, rest)  # the profile's cost without any
    leaving: list[list[Any]] = []  # held entries that decided something: one item, before

    def drop(count: int) -> None:
        for row, item in rows[:count]:
            if item is not None:
                rest.append(item)  # a new entry that does not fit: its log item, as before
            elif _decides(row):
                leaving.append(row)
            else:
                held["gone"] = int(held.get("gone") or 0) + 1
                held["gone_at"] = max(str(held.get("gone_at") or ""), str(row[0]))
        del rows[:count]

    drop(max(0, len(rows) - MISSES_MAX))
    while rows and units({**doc, MISSES: {**held, "r": [r for r, _ in rows]}}, rest) > limit:
        drop(1)
    if leaving:  # an item is put anyway: every held entry that decided something goes in it
        leaving += [row for row, item in rows if item is None and _decides(row)]
        rows = [(row, item) for row, item in rows if item is not None or not _decides(row)]
    held["r"] = [r for r, _ in rows]
    before = [batch_log_item(customer_id, leaving)] if leaving else []
    if not held["r"] and not held.get("gone"):
        return {k: v for k, v in doc.items() if k != MISSES}, rest, before
    return {**doc, MISSES: held}, rest, before


def profile_decisions(doc: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """The decisions a profile (or alias stub) document keeps itself (``fold_log``), within
    the log's 90 days, each with the sort key it would have had as an item of its own."""
    held = (doc or {}).get(MISSES) or {}
    if not held or doc is None:
        return []
    oldest = iso(now() - timedelta(days=DECISION_TTL_DAYS))
    out: list[tuple[str, dict[str, Any]]] = []
    for row in held.get("r") or ():
        if row[0] < oldest:
            continue
        out += [(f"D#{d['at']}#{_uid(d)}", d) for d in _expand(_row_body(doc["customer_id"], row))]
    return out


def unique(pairs: Sequence[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """``pairs`` (sort key, decision) without repeats: a decision moved out of the profile in an
    item whose profile write then lost a race is found both there and still in the profile (or
    in a second such item); its key is the same everywhere."""
    seen: set[str] = set()
    out = []
    for sk, d in pairs:
        if sk not in seen:
            seen.add(sk)
            out.append((sk, d))
    return out


def stored_decisions(kept: Sequence[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every decision stored in the table (log items, and those profiles keep), ordered by
    time, customer, then as each would have been as an item of its own (simulation read-back
    and small-table tools only: it scans). ``kept``: every log item the profiles were given to
    keep (the simulator records them), read instead of what the profiles still keep, for the
    customers still there."""
    found = [
        (sk[2:22], item["pk"]["S"], sk, d)
        for item in scan_kind("decision")
        for sk, d in item_decisions(item)
    ]
    holders = [item for kind in ("profile", "alias") for item in scan_kind(kind)]
    if kept is not None:
        present = {item["pk"]["S"] for item in holders}
        found += [
            (sk[2:22], item["pk"]["S"], sk, d)
            for item in kept
            if item["pk"]["S"] in present
            for sk, d in item_decisions(item)
        ]
    else:
        for item in holders:
            pairs = profile_decisions(profile_doc(item))
            found += [(sk[2:22], item["pk"]["S"], sk, d) for sk, d in pairs]
    found.sort(key=lambda f: f[:3])
    seen: set[tuple[str, str]] = set()  # one decision found twice: ``unique``
    out = []
    for _at, pk, sk, d in found:
        if (pk, sk) not in seen:
            seen.add((pk, sk))
            out.append(d)
    return out


def item_decisions(item: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The decisions of a stored decision item, each with the sort key it would have had as an
    item of its own (``D#<at>#<id>``): the order the log is read in."""
    body = item_body(item)
    if body.get("v") == 3:  # entries a profile held, moved out together (``batch_log_item``)
        oldest = iso(now() - timedelta(days=DECISION_TTL_DAYS))  # each kept as long as an item
        return [
            (f"D#{d['at']}#{_uid(d)}", d)
            for row in body["r"]
            if row[0] >= oldest
            for d in _expand(_row_body(body["c"], row))
        ]
    return [(f"D#{d['at']}#{_uid(d)}", d) for d in _expand(body)]


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
    pairs = [pair for item in items for pair in item_decisions(item)]
    stored = get_profile(customer_id)
    pairs += profile_decisions(stored.doc)  # log entries kept in the profile
    # a log entry the profile's last write still carries (its writer died before putting it)
    known = {sk for sk, _d in pairs}
    at = now().timestamp()
    for item in stored.pending:
        if item["sk"]["S"].startswith("D#") and float(item["ttl"]["N"]) > at:
            pairs += [(sk, d) for sk, d in item_decisions(item) if sk not in known]
    found = unique(sorted(pairs, key=lambda p: p[0]))
    return [d for sk, d in found if not since or sk >= f"D#{since}"]


def conversion_put(conversion: Decision) -> dict[str, Any]:
    """A transaction entry storing a conversion (``nudge.core.attribution``) on the customer's
    decision log, for the write that applies the order: ``kind`` = ``conversion``, under the
    same ``D#<at>#<id>`` key scheme (so the customer's log shows it in time order), the same
    TTL. Writing the same order twice leaves one item."""
    item = decision_item(conversion)
    item["kind"] = _s("conversion")
    return {"Put": {"TableName": table(), "Item": item}}
