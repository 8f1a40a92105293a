"""Whose profile an event belongs to: merged visitors, erased customers, identify merges.

- An ``anon:`` visitor merged into a customer is a stub with ``merged_into``: its later events
  (the same device after sign-out, late deliveries) are applied to the customer instead.
- An erased customer (privacy request) has a tombstone; events for them are dropped, except an
  explicit opt-in, which starts a new profile (see ``reopts_in`` and docs/api.md).
- An ``identify`` that links ``anon:<anonymousId>`` (``detail.aliases``) merges that visitor's
  behaviour into the customer (``nudge.profile.merge_profile``) and leaves the stub behind.

Everything here returns transaction entries for ingest's single write rather than writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nudge import store
from nudge.clock import iso
from nudge.model.events import Event
from nudge.profile import merge_profile

ANON_PREFIX = "anon:"
ALIASES_MAX = 200  # anonymous ids remembered per customer (for export and erasure)


def merged_into(doc: dict[str, Any] | None) -> str | None:
    """The customer a merged alias profile now belongs to, or None for a live profile."""
    if not doc:
        return None
    target = doc.get("merged_into")
    return str(target) if target else None


def reopts_in(event: Event) -> bool:
    """Does this event start a new relationship with an erased customer?

    Only an explicit opt-in does: a ``customer_updated`` granting consent on some channel, or a
    ``consent_updated`` that grants it. Anything else about an erased id (a late order, a view,
    a Shopify ``customers/update``) is dropped, so an erasure is not undone by stale data.
    """
    if event.type == "customer_updated":
        return any(granted is True for granted in event.consent.values())
    if event.type == "consent_updated":
        return event.properties.get("granted") is True
    return False


def creation_guard(event: Event, erased: bool) -> dict[str, Any] | None:
    """The transaction entry that must go with creating a profile, or None to refuse the event.

    Not known to be erased: create it only if there is no tombstone, checked inside the write
    itself (no extra read on a new customer's first event; an erasure that lands between our
    read and our write wins, raising ``store.Erased``). Known to be erased: only an opt-in
    creates the profile, removing the tombstone in the same write.
    """
    if not erased:
        return store.not_erased_check(event.customer_id)
    if reopts_in(event):
        return store.tombstone_delete(event.customer_id)
    return None


@dataclass(slots=True)
class Merge:
    """What merging aliases adds to the write, and the waits to unschedule after it."""

    items: list[dict[str, Any]] = field(default_factory=list)
    cancelled_waits: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)


def merge_aliases(
    profile: dict[str, Any], event: Event, history_seconds: float, now: datetime
) -> Merge:
    """Merge the ``anon:`` profiles ``event`` links into ``profile`` (in place).

    Idempotent: an alias already merged (listed in the profile, or a stub already) is skipped,
    so a redelivered ``identify`` changes nothing. An alias with no profile yet still gets its
    stub, so events for it that arrive late are redirected too. Only ``anon:`` ids are merged:
    two known customers are never folded into one by an event.
    """
    out = Merge()
    customer_id = profile["customer_id"]
    for alias in event.aliases:
        known = profile.get("aliases") or []
        if not alias.startswith(ANON_PREFIX) or alias == customer_id or alias in known:
            continue
        stored = store.get_profile(alias)
        if merged_into(stored.doc):
            continue
        if stored.doc:
            merge_profile(profile, stored.doc, history_seconds)
            out.cancelled_waits.extend(sorted(stored.doc.get("waits") or {}))
        stub = {"customer_id": alias, "merged_into": customer_id, "merged_at": iso(now)}
        out.items.append(store.alias_put(alias, stub, stored.version))
        known = profile.setdefault("aliases", [])
        known.append(alias)
        del known[: max(0, len(known) - ALIASES_MAX)]
        out.merged.append(alias)
    return out
