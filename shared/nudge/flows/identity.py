"""Whose profile an event belongs to: merged visitors, erased customers, identify merges.

- An ``anon:`` visitor (Segment) or an ``email:`` buyer (a Shopify checkout or order with only an
  email) merged into a customer is a stub with ``merged_into``: its later events (the same device
  after sign-out, the same email at a guest checkout, late deliveries) go to the customer.
- An erased customer (privacy request) has a tombstone; events for them are dropped, except an
  explicit opt-in, which starts a new profile (see ``reopts_in`` and docs/api.md). The write
  checks the tombstone itself (``pipeline.common.write_customer``).
- An event that links such ids (``detail.aliases``: Segment's ``identify``, Shopify events with
  both a customer id and an email) merges their behaviour into the customer
  (``nudge.core.profile.merge_profile``) and leaves the stub behind.
- ``apply_hints`` resolves what a partner event says only relative to the profile: contact
  details to use where the profile has none, consent states reported with a customer record.

Everything here returns transaction entries for the customer's single write
(``pipeline.common.write_customer``) rather than writing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nudge.adapters.shopify import CONSENT_STATES, EMAIL_PREFIX, NEVER_SUBSCRIBED
from nudge.aws import store
from nudge.core.clock import iso
from nudge.core.events import Event
from nudge.core.profile import History, merge_profile

ANON_PREFIX = "anon:"
MERGEABLE = (ANON_PREFIX, EMAIL_PREFIX)  # ids nudge made up for someone; never a customer id
CONTACT_HINT = "contact"  # {"email": ..., "phone": ...}: used only where the profile has none
CONSENT_HINT = "consent_states"  # {"email": {"state": ..., "consent_updated_at": ...}}
ALIASES_MAX = 200  # anonymous ids remembered per customer (for export and erasure)
MAX_REDIRECTS = 3  # merged aliases followed from one id before giving up


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


def read_customer(
    customer_id: str, follow_aliases: bool = True, consistent: bool = True
) -> tuple[str, store.Stored]:
    """Read the profile of ``customer_id``, following merged aliases to the customer they now
    belong to (at most ``MAX_REDIRECTS``); returns whose profile it is and what was read.

    Raises RuntimeError for a longer chain (nudge never makes one: it merges only into real
    customers, which are never aliases). ``consistent``: as ``store.get_profile``.
    """
    for _redirect in range(MAX_REDIRECTS + 1):
        stored = store.get_profile(customer_id, consistent)
        target = merged_into(stored.doc)
        if target is None or not follow_aliases:
            return customer_id, stored
        customer_id = target
    raise RuntimeError(f"alias chain too long at {customer_id}")


@dataclass(slots=True)
class Merge:
    """What merging aliases adds to the write, and the waits to unschedule after it."""

    items: list[dict[str, Any]] = field(default_factory=list)
    cancelled_waits: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    # the merged profiles' history segments: their entries are the customer's now, and the
    # stubs list none (deleted once the write is made)
    drop: list[dict[str, Any]] = field(default_factory=list)


def merge_aliases(profile: dict[str, Any], event: Event, history: History, now: datetime) -> Merge:
    """Merge the ``anon:`` and ``email:`` profiles ``event`` links into ``profile`` (in place).

    Idempotent: an alias already merged (listed in the profile, or a stub already) is skipped,
    so a redelivered ``identify`` changes nothing. An alias with no profile yet still gets its
    stub, so events for it that arrive late are redirected too. Only ids nudge made up
    (``MERGEABLE``) are merged: two known customers are never folded into one by an event, and
    a customer's own events are never merged into an ``email:`` profile.
    """
    out = Merge()
    customer_id = profile["customer_id"]
    if customer_id.startswith(MERGEABLE):
        return out
    for alias in event.aliases:
        known = profile.get("aliases") or []
        if not alias.startswith(MERGEABLE) or alias == customer_id or alias in known:
            continue
        stored = store.get_profile(alias)
        if merged_into(stored.doc):
            continue
        store.flush_pending(stored)  # its stub replaces it: what its last write left goes first
        if stored.doc:
            merge_profile(profile, stored.doc, history, now)
            out.cancelled_waits.extend(sorted(stored.doc.get("waits") or {}))
        stub = {"customer_id": alias, "merged_into": customer_id, "merged_at": iso(now)}
        if (stored.doc or {}).get(store.MISSES):  # its audience misses stay with it, as its log
            stub[store.MISSES] = (stored.doc or {})[store.MISSES]
        out.items.append(store.alias_put(alias, stub, stored.version))
        out.drop += store.segment_keys(alias, stored.doc)
        known = profile.setdefault("aliases", [])
        known.append(alias)
        del known[: max(0, len(known) - ALIASES_MAX)]
        out.merged.append(alias)
    return out


def apply_hints(profile: dict[str, Any], event: Event) -> Event:
    """``event`` as it applies to ``profile``: its hints resolved into traits and consent.

    - ``properties.contact``: the email and phone an order, checkout or consent update was
      given; each is used only when the profile has none. The customer's own record
      (``customer_updated`` traits, ``identify``) always wins, whatever its age, and a later
      order with another address does not replace the one already held. Removed from the
      properties (so it is not kept in history).
    - ``properties.consent_states``: Shopify consent states reported with a customer record
      (``{"email": {"state": "subscribed", "consent_updated_at": ...}}``, from ``customers/*`` up
      to API 2024-10, or a consent topic saying ``not_subscribed``). ``subscribed`` grants;
      ``pending``, ``unsubscribed``, ``redacted`` and ``invalid`` record "not granted";
      ``not_subscribed`` (never subscribed) withdraws a recorded consent but records nothing
      where there is none, so it never turns a shop's ``consent: {email: opt_out}`` into an
      opt-out. A report identical to the last one Shopify sent for the channel (same state,
      same ``consent_updated_at``) changes nothing: ``customers/update`` repeats the state on
      every change to the customer, and that repeat must not undo an unsubscribe made since
      through nudge (its link, a STOP reply, a complaint). Kept in the properties as the record
      of what Shopify said.

    Returns a new event (the original keeps its hints for a retry). The only change to
    ``profile`` is ``shopify_consent``, the last state Shopify reported per channel (also set by
    a Shopify ``consent_updated``); ``profile.apply_event`` applies the rest.
    """
    props = event.properties
    if event.type == "consent_updated" and props.get("source") == "shopify":
        state = props.get("state")
        if isinstance(state, str) and state in CONSENT_STATES:
            _remember_report(profile, str(props["channel"]), state, props.get("consent_updated_at"))
    contact, states = props.get(CONTACT_HINT), props.get(CONSENT_HINT)
    if not isinstance(contact, dict) and not isinstance(states, dict):
        return event
    traits, consent = dict(event.traits), dict(event.consent)
    if isinstance(contact, dict):
        held = profile.get("traits") or {}
        for key in ("email", "phone"):
            value = contact.get(key)
            if isinstance(value, str) and value and not (traits.get(key) or held.get(key)):
                traits[key] = value
    if isinstance(states, dict):
        recorded = profile.get("consent") or {}
        for channel, report in states.items():
            state = report.get("state") if isinstance(report, dict) else None
            at = report.get("consent_updated_at") if isinstance(report, dict) else None
            if channel not in ("email", "sms") or state not in CONSENT_STATES:
                continue
            if not _remember_report(profile, channel, state, at):
                continue  # the same report again: nothing changed in Shopify
            if state == NEVER_SUBSCRIBED and channel not in recorded:
                continue
            consent[channel] = CONSENT_STATES[state]
    properties = {k: v for k, v in props.items() if k != CONTACT_HINT}
    return dataclasses.replace(event, properties=properties, traits=traits, consent=consent)


def _remember_report(profile: dict[str, Any], channel: str, state: str, at: Any) -> bool:
    """Note Shopify's latest consent report for ``channel``; False if it is the one noted."""
    report = {"state": state, "consent_updated_at": at}
    reported = profile.setdefault("shopify_consent", {})
    if reported.get(channel) == report:
        return False
    reported[channel] = report
    return True
