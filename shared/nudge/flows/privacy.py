"""Privacy requests: export everything held about a customer, or erase it all.

Held about a customer: every item of their partition (``C#<id>``: the profile with its history,
waits and send ledger, the decision log and the orders credited to messages, outbox messages), the ``anon:`` visitor profiles merged
into them (stubs, decisions), the order index (``ORDER#<order_id>``) of their orders and the
phone index (``PHONE#<number>``, for SMS STOP replies) of the numbers we texted.

Erasure deletes all of that, unschedules their pending waits and deferred sends, and leaves a
tombstone (``ERASED#<id>``: the id and the time, nothing else) so that later sends stop (dispatch
finds no profile and suppresses) and late events do not bring the profile back (ingest drops them
unless the customer opts in again; see ``pipeline.identity.reopts_in``). Used by the profile API
(``DELETE /profiles/{id}``, ``GET /profiles/{id}/export``) and ``nudge privacy``.
"""

from __future__ import annotations

from typing import Any

from nudge.aws import scheduler as schedule
from nudge.aws import store
from nudge.core.clock import iso, now
from nudge.core.profile import SEGS

ERASE_PASSES = 3  # items written while we erase (a decision of a send in flight) are caught
# (misses: in decisions; segs: where the history's older part is stored)
_LEDGER_KEYS = ("history", "waits", "seen", "sends", store.MISSES, SEGS)


def _split(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Items of one partition, by kind, as plain values."""
    out: dict[str, Any] = {
        "profile": None,
        "decisions": [],
        "conversions": [],
        "messages": [],
        "other": [],
    }
    for item in items:
        plain = store.plain_item(item)
        kind = plain.get("kind")
        if kind == "segment":
            continue  # the profile's older history, merged into it (store.read_profile)
        if kind in ("profile", "alias"):
            out["profile"] = store.read_profile(items).doc or {}
            out["decisions"] += store.profile_decisions(out["profile"])  # entries it keeps
        elif kind == "decision":
            out["decisions"] += store.item_decisions(item)
        elif kind == "conversion":  # an order credited to a message (core/attribution)
            out["conversions"] += store.item_decisions(item)
        elif kind == "outbox":
            body = dict(plain.get("doc") or {})
            for key in ("status", "provider_id", "claimed_at", "calling_at", "send_at"):
                if key in plain:
                    body[key] = plain[key]
            out["messages"].append(body)
        else:
            out["other"].append({k: v for k, v in plain.items() if k not in ("pk", "sk")})
    # each decision where it would have been as an item of its own (time, then its id)
    for key in ("decisions", "conversions"):
        out[key] = [d for _sk, d in store.unique(sorted(out[key], key=lambda pair: pair[0]))]
    return out


def _order_ids(profile: dict[str, Any] | None) -> list[str]:
    if not profile:
        return []
    ids = [str(o["order_id"]) for o in profile.get("orders") or () if o.get("order_id")]
    for entry in profile.get("history") or ():
        if entry.get("type") in ("order_placed", "order_refunded"):
            order_id = (entry.get("properties") or {}).get("order_id")
            if order_id:
                ids.append(str(order_id))
    return list(dict.fromkeys(ids))


def _phones(profile: dict[str, Any] | None) -> list[str]:
    """Every number the profile held (now or in its history): the SMS STOP index is by number."""
    if not profile:
        return []
    found = [profile.get("phone"), (profile.get("traits") or {}).get("phone")]
    for entry in profile.get("history") or ():
        found.append((entry.get("traits") or {}).get("phone"))
    return list(dict.fromkeys(str(p) for p in found if p))


def _products(profile: dict[str, Any]) -> list[str]:
    """Every product the profile's history names: the customer may watch any of them."""
    found = [(e.get("properties") or {}).get("product_id") for e in profile.get("history") or ()]
    return [str(p) for p in dict.fromkeys(found) if p not in (None, "")]


def export_customer(customer_id: str) -> dict[str, Any] | None:
    """Everything held about the customer, or None if nothing is (unknown or erased)."""
    if store.is_erased(customer_id):
        return None
    parts = _split(store.partition_items(customer_id))
    doc = parts["profile"]
    if doc is None and not parts["decisions"] and not parts["messages"]:
        return None
    doc = doc or {}
    waits = [{"wait_id": wid, **wait} for wid, wait in sorted((doc.get("waits") or {}).items())]
    orders = {oid: store.order_owner(oid) for oid in _order_ids(doc)}
    phones = [p for p in _phones(doc) if store.customer_for_phone(p) == customer_id]
    aliases = {}
    for alias in doc.get("aliases") or ():
        held = _split(store.partition_items(alias))
        aliases[alias] = {k: v for k, v in held.items() if v}
    return {
        "customer_id": customer_id,
        "exported_at": iso(now()),
        "profile": {k: v for k, v in doc.items() if k not in _LEDGER_KEYS},
        "history": doc.get("history") or [],
        "pending_waits": waits,
        "sends": doc.get("sends") or [],
        "seen_event_ids": doc.get("seen") or [],
        "decisions": sorted(parts["decisions"], key=lambda d: d.get("at") or ""),
        "conversions": parts["conversions"],
        "messages": parts["messages"],
        "order_index": [{"order_id": k, "customer_id": v} for k, v in orders.items() if v],
        "phone_index": phones,
        "aliases": aliases,
        "other_items": parts["other"],
    }


def _unschedule(items: list[dict[str, Any]]) -> int:
    """Delete the wait and deferred-send schedules these items have pending; returns how many."""
    cancelled = 0
    for item in items:
        plain = store.plain_item(item)
        if plain.get("kind") == "profile":
            for wait_id in (plain.get("doc") or {}).get("waits") or {}:
                schedule.delete_wake("wait", wait_id)
                cancelled += 1
        elif plain.get("kind") == "outbox" and plain.get("status") == "pending":
            schedule.delete_wake("send", str(plain.get("message_id")))
            cancelled += 1
    return cancelled


def _erase_partition(customer_id: str) -> tuple[int, int]:
    """Unschedule, then delete every item of one partition; (items deleted, schedules)."""
    deleted = cancelled = 0
    for _pass in range(ERASE_PASSES):
        items = store.partition_items(customer_id)
        if not items:
            break
        cancelled += _unschedule(items)
        deleted += store.delete_keys([{"pk": i["pk"], "sk": i["sk"]} for i in items])
    return deleted, cancelled


def erase_customer(customer_id: str) -> dict[str, Any] | None:
    """Erase everything held about the customer; None if nothing was held (unknown, or erased).

    The tombstone is written first, so an event arriving mid-erasure cannot recreate the
    profile; merged visitors and the order index go next, the customer's own partition (whose
    profile lists them) last, and schedules before the items that name them, so an interrupted
    erasure can simply be run again.
    """
    items = store.partition_items(customer_id)
    if not items:
        return None
    erased_at = iso(now())
    store.put_tombstone(customer_id, erased_at)
    profile = _split(items)["profile"] or {}
    aliases = [str(a) for a in profile.get("aliases") or ()]
    deleted = cancelled = 0
    for alias in aliases:
        more, more_cancelled = _erase_partition(alias)
        deleted += more
        cancelled += more_cancelled
    # only index items that point at this person: an order id is never trusted blindly
    owners = {customer_id, *aliases}
    owned = [oid for oid in _order_ids(profile) if store.order_owner(oid) in owners]
    deleted += store.delete_keys(store.order_index_keys(owned))
    phones = [p for p in _phones(profile) if store.customer_for_phone(p) in owners]
    deleted += store.delete_keys(store.phone_index_keys(phones))
    # the products they watch (catalog events): any product their history names may have a
    # watch item of theirs (not counted in items_deleted: most of these keys name nothing)
    store.delete_keys(store.watch_keys(_products(profile), sorted(owners)))
    more, more_cancelled = _erase_partition(customer_id)
    return {
        "customer_id": customer_id,
        "erased_at": erased_at,
        "items_deleted": deleted + more,
        "schedules_cancelled": cancelled + more_cancelled,
    }
