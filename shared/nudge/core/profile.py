"""The customer profile (docs/reference.md#profile-fields): applying events to it, and the view conditions see.

A profile is a plain dict (stored as JSON in one DynamoDB item). Money arrives rounded to its
currency's minor unit (``nudge.core.limits``) and sums are kept rounded to 3 decimals, so no
binary-float drift accumulates and no currency with 3-decimal amounts (KWD, BHD) loses a fils.
The document is kept under ``PROFILE_BUDGET`` bytes (``fit_budget``).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

from nudge.core import clock
from nudge.core.addresses import ADDRESS_ERRORS, check_address
from nudge.core.clock import iso, parse_time
from nudge.core.decisions import MISSES
from nudge.core.events import ENGAGEMENT_TYPES, NUDGE_SOURCE, Event
from nudge.core.limits import json_size
from nudge.core.milestones import merge_milestones
from nudge.core.replenish import merge_purchases, record_purchases

HISTORY_MAX = 200  # events kept for did/count/cancel_if
HISTORY_DEFAULT_SECONDS = 90 * 86400  # how long a `did` without `within` looks back
SEEN_MAX = 300  # event ids remembered for duplicate detection (within DUPLICATE_WINDOW_DAYS)
# The history's entries are the duplicate check for the events it holds; the rolling set holds
# the others (events it does not keep, entries it trimmed). Each event adds at most one id to
# the set (when applied, or when its entry is trimmed), and at most HISTORY_MAX entries held
# when an id joins can follow it, so a set of this many keeps every id of the newest SEEN_MAX
# events applied, as one set of SEEN_MAX ids of every event did.
_ROLLING_MAX = SEEN_MAX + HISTORY_MAX
DUPLICATE_WINDOW_DAYS = 7  # an event id is remembered this many days after it was applied
_SEEN_WIDTH = 8  # characters of one remembered id (48 bits of its SHA-256, base64url)
ORDERS_MAX = 100
REFUNDS_MAX = 50  # refund keys remembered per order
# bytes of the stored profile document; DynamoDB refuses items over 400 KB, and a refused write
# would stop every event, order and unsubscribe of the customer (docs/sources.md, "Limits")
PROFILE_BUDGET = 256_000
# what fit_budget trims, in order, and how far: history first (did/count/cancel_if see less far
# back), then send ledger entries and orders (counts, lifetime value and order dates stay as
# they are)
_TRIM_ORDER = (("history", 0), ("sends", 20), ("orders", 20))
SENDS_MAX = 100
_TOP_LEVEL_TRAITS = ("email", "phone", "timezone")
# What the profile view offers conditions, templates (at the top level) and the profile API
# (docs/reference.md#profile-fields; docs/config.md, "Paths"), with the type `nudge validate` checks config against: a plain type,
# or the name of a nested shape (``cart`` is a cart_updated's properties plus ``updated_at``). The
# event history, waits and send ledger stay internal (the export has them).
PROFILE_FIELDS: dict[str, str] = {
    "customer_id": "string",
    "email": "string",
    "phone": "string",
    "timezone": "string",
    "traits": "traits",
    "consent": "consent",
    "topics": "topics",
    "orders_count": "number",
    "lifetime_value": "number",
    "avg_order_value": "number",
    "first_order_at": "time",
    "last_order_at": "time",
    "days_since_first_order": "number",
    "days_since_last_order": "number",
    "last_seen_at": "time",
    "cart": "cart",
    "segments": "segments",
    "value_tier": "value_tier",
    "rfm": "rfm",
    "pltv": "number",
    "p_alive": "number",
    "churn_risk": "string",
    "next_order_expected_at": "time",
    "expected_orders_90d": "number",
    "preferred_channel": "string",
    "scored_at": "time",
}
# profile fields an event empties as it is applied (``_order``): a message fired by it finds none
EMPTIED_BY: dict[str, tuple[str, ...]] = {"order_placed": ("cart",)}
EMAIL_ADDRESSES = "email_addresses"  # normalised address -> {state, at, sub_type} (feedback)


def new_profile(customer_id: str) -> dict[str, Any]:
    """An empty profile for a customer seen for the first time."""
    return {
        "customer_id": customer_id,
        "traits": {},
        "consent": {},
        "orders_count": 0,
        "lifetime_value": 0.0,
        "orders": [],
        "cart": {"value": 0.0, "items": [], "checkout_url": None},
        "segments": [],
        "history": [],
        "seen": {},
        "sends": [],
        "waits": {},
    }


def _money(value: Any) -> float:
    return round(float(value or 0), 3)


Tree = Mapping[str, Any] | bool  # which properties a history entry keeps: True = all


@dataclass(frozen=True, slots=True)
class HistoryPolicy:
    """What the event history keeps, derived from the deployed config
    (``nudge.config.history``): per event type, how long (seconds before now) and which
    properties (a tree of the property paths conditions read; ``True`` = all). A type not
    listed is not kept at all: nothing reads it. ``"*"`` stands for every type."""

    keep: Mapping[str, tuple[float, Tree]] = field(default_factory=dict)

    def rule(self, kind: str) -> tuple[float, Tree] | None:
        """How long and what of an event of type ``kind`` is kept (None: not kept)."""
        return self.keep.get(kind) or self.keep.get("*")

    @property
    def seconds(self) -> float:
        """The longest any event type is kept."""
        return max((rule[0] for rule in self.keep.values()), default=0.0)


History = HistoryPolicy | float  # a plain number keeps every type, whole, that many seconds


def _policy(history: History) -> HistoryPolicy:
    if isinstance(history, HistoryPolicy):
        return history
    return HistoryPolicy({"*": (float(history), True)})


def project(props: Mapping[str, Any], tree: Tree) -> dict[str, Any]:
    """Only the parts of ``props`` that ``tree`` names (paths through lists apply to each
    element, as conditions read them; a list indexed by position is kept whole)."""
    if tree is True or not isinstance(tree, Mapping):
        return dict(props)
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        if key in props:
            out[key] = _project_value(props[key], sub)
    return out


def _project_value(value: Any, sub: Tree) -> Any:
    if sub is True or not isinstance(sub, Mapping):
        return value
    if isinstance(value, dict):
        return project(value, sub)
    if isinstance(value, list) and not any(k.isdigit() for k in sub):
        return [project(v, sub) if isinstance(v, dict) else v for v in value]
    return value


def history_id(event_id: str) -> str:
    """The short id a history entry keeps of its event: the same 48 bits of its SHA-256 as the
    duplicate set's key, in hex (to tell the event that started a wait from later ones, to merge
    histories without doubles, and as the duplicate check of the events the history holds).
    Entries written before kept the first 8 of these characters (``same_event``)."""
    return hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def same_event(entry_id: Any, other_id: Any) -> bool:
    """Do two history ids name the same event (an id written before is the first 8 hex
    characters of one written now)?"""
    a, b = str(entry_id or ""), str(other_id or "")
    return bool(a and b) and (a == b or (min(len(a), len(b)) == 8 and a[:8] == b[:8]))


def _seen_key(event_id: str) -> str:
    digest = hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).digest()[:6]
    return base64.urlsafe_b64encode(digest).decode()


def _held_key(entry: Mapping[str, Any]) -> str | None:
    """The duplicate key of the event a history entry holds: only entries written with the
    48-bit id serve as the duplicate check (those written before had their id in the set too)."""
    hid = entry.get("id")
    if not isinstance(hid, str) or len(hid) != 12:
        return None
    try:
        return base64.urlsafe_b64encode(bytes.fromhex(hid)).decode()
    except ValueError:
        return None


def _seen_days(profile: dict[str, Any], now: datetime | None = None) -> dict[str, str]:
    """The remembered ids, by the day (epoch days, as text) they were applied: each day's ids
    one string of ``_SEEN_WIDTH``-character keys. A profile written before this layout (a list
    of ids) is converted, its ids counted as applied today."""
    seen = profile.get("seen")
    if isinstance(seen, dict):
        return seen
    day = str(int((now or clock.now()).timestamp() // 86400))
    keys = "".join(_seen_key(str(i)) for i in seen or ())
    profile["seen"] = {day: keys} if keys else {}
    return profile["seen"]


def _chunks(keys: str) -> set[str]:
    return {keys[i : i + _SEEN_WIDTH] for i in range(0, len(keys), _SEEN_WIDTH)}


def remembers(profile: dict[str, Any], event_id: str) -> bool:
    """Is ``event_id`` among the ids remembered as applied: held by the history, or in the
    rolling set of the others (within the duplicate window, ``DUPLICATE_WINDOW_DAYS``, and at
    least the newest ``SEEN_MAX`` ids)?"""
    key = _seen_key(event_id)
    if any(key in _chunks(keys) for keys in _seen_days(profile).values()):
        return True
    hid = history_id(event_id)
    return any(h.get("id") == hid for h in profile.get("history") or ())


def is_duplicate(profile: dict[str, Any], event: Event) -> bool:
    """True when this event id was already applied to the profile (``remembers``)."""
    return remembers(profile, event.id)


def remember_id(profile: dict[str, Any], event_id: str, now: datetime) -> None:
    """Remember an applied event id in the rolling set (for ``is_duplicate``; the history's own
    entries need not be), forgetting days past the window and the oldest ids past the bound."""
    _remember_keys(profile, [_seen_key(event_id)], now)


def _hand_over(profile: dict[str, Any], dropped: list[dict[str, Any]], now: datetime) -> None:
    """Entries the history no longer holds: their ids join the rolling set, as applied
    ``now`` (the day they were applied is not kept; they are remembered no shorter)."""
    keys = [k for k in map(_held_key, dropped) if k]
    if keys:
        _remember_keys(profile, keys, now)


def _remember_keys(profile: dict[str, Any], keys: list[str], now: datetime) -> None:
    days = _seen_days(profile, now)
    today = int(now.timestamp() // 86400)
    for day in [d for d in days if int(d) < today - DUPLICATE_WINDOW_DAYS]:
        del days[day]
    days[str(today)] = days.get(str(today), "") + "".join(keys)
    excess = sum(len(v) for v in days.values()) // _SEEN_WIDTH - _ROLLING_MAX
    for day in sorted(days, key=int):
        if excess <= 0:
            break
        drop = min(excess, len(days[day]) // _SEEN_WIDTH)
        days[day] = days[day][drop * _SEEN_WIDTH :]
        excess -= drop
        if not days[day]:
            del days[day]


def _remember(profile: dict[str, Any], event: Event, history: History, now: datetime) -> None:
    """Keep the event in the history if the policy does (its entry is then its duplicate
    check), else its id in the rolling set; entries trimmed hand their ids to the set."""
    policy = _policy(history)
    entries = profile.setdefault("history", [])
    rule = policy.rule(event.type)
    if rule is None:
        remember_id(profile, event.id, now)
    else:
        ts = int(event.ts)
        entry = {
            "type": event.type,
            "ts": ts,
            "id": history_id(event.id),
            "properties": project(_compact(event), rule[1]),
        }
        keys = [h["ts"] for h in entries]
        entries.insert(bisect.bisect_right(keys, ts), entry)
    _hand_over(profile, _trim_history(entries, policy, now), now)


def _trim_history(
    history: list[dict[str, Any]], policy: History, now: datetime
) -> list[dict[str, Any]]:
    """Keep the newest ``HISTORY_MAX`` entries, each only while its type's rule keeps it
    (measured back from ``now``, not from the newest entry: an event dated in the future must
    not wipe the history); returns the entries dropped (``_hand_over`` their ids)."""
    rules = _policy(policy)
    at = now.timestamp()
    kept, dropped = [], []
    for entry in history:
        rule = rules.rule(entry["type"])
        if rule is not None and entry["ts"] >= at - rule[0]:
            kept.append(entry)
        else:
            dropped.append(entry)
    dropped += kept[:-HISTORY_MAX]
    history[:] = kept[-HISTORY_MAX:]
    return dropped


def _compact(event: Event) -> dict[str, Any]:
    props = dict(event.properties)
    items = props.get("items")
    if isinstance(items, list) and len(items) > 20:
        props["items"] = items[:20]
    return props


def apply_event(
    profile: dict[str, Any], event: Event, history: History, now: datetime | None = None
) -> None:
    """Apply one (non-duplicate) event to the profile in place; ``history`` is what the event
    history keeps (``HistoryPolicy``, or seconds to keep every event whole); ``now`` (default:
    the clock's) is what history is trimmed against."""
    _remember(profile, event, history, now or clock.now())
    when = iso(event.time)
    # what nudge records about its own messages, or derives itself (segment changes, daily,
    # replenishment, catalog news), is not the customer being seen in the shop
    seen = event.type not in ENGAGEMENT_TYPES and event.source != NUDGE_SOURCE
    if seen and (not profile.get("last_seen_at") or when > profile["last_seen_at"]):
        profile["last_seen_at"] = when
    traits_in = _checked_addresses(profile, event.traits or {}, when)
    new_email = traits_in.get("email", profile.get("email"))
    if normal_address(new_email) != normal_address(profile.get("email")):
        pin_legacy_bounce(profile)  # an old flag belonged to the address being replaced
    if traits_in:
        traits = profile.setdefault("traits", {})
        for key, value in traits_in.items():
            if value is None:
                traits.pop(key, None)
            else:
                traits[key] = value
            if key in _TOP_LEVEL_TRAITS:
                if value is None:
                    profile.pop(key, None)
                else:
                    profile[key] = value
    if event.consent:
        for channel, granted in event.consent.items():
            profile.setdefault("consent", {})[channel] = bool(granted)
    kind = event.type
    props = event.properties
    if kind == "consent_updated":
        if props.get("topic"):  # one topic on one channel; the master switch stays as it is
            topics = profile.setdefault("topics", {})
            topics.setdefault(str(props["topic"]), {})[props["channel"]] = bool(props["granted"])
        else:
            profile.setdefault("consent", {})[props["channel"]] = bool(props["granted"])
    elif kind == "preferences_updated":  # "at most weekly": a cap of the customer's own
        chosen = profile.setdefault("preferences", {})
        if props["frequency"] == "any":
            chosen.pop(props["channel"], None)
        else:
            chosen[props["channel"]] = props["frequency"]
    elif kind in ("cart_updated", "checkout_started"):
        profile["cart"] = {
            "cart_id": props.get("cart_id"),
            "value": _money(props.get("value")),
            "currency": props.get("currency"),
            "items": props.get("items") or [],
            "checkout_url": props.get("checkout_url"),
            "updated_at": when,
        }
    elif kind == "order_placed":
        _order(profile, props, when)
    elif kind == "order_refunded":
        _refund(profile, props, event.id)


def _checked_addresses(
    profile: dict[str, Any], traits: dict[str, Any], when: str
) -> dict[str, Any]:
    """``traits`` with ``email`` and ``phone`` checked (nudge.core.addresses): a valid one
    normalised, an invalid one replaced by None (the address is removed, never kept) and why
    noted under ``address_errors``, without the value itself."""
    out = dict(traits)
    for kind in ("email", "phone"):
        if kind not in traits or traits[kind] is None:
            continue
        checked = check_address(kind, traits[kind])
        errors = profile.get(ADDRESS_ERRORS) or {}
        if checked.error is None:
            out[kind] = checked.value
            errors.pop(kind, None)
        else:
            out[kind] = None
            errors[kind] = {"error": checked.error, "why": checked.why, "at": when}
        if errors:
            profile[ADDRESS_ERRORS] = errors
        else:
            profile.pop(ADDRESS_ERRORS, None)
    return out


def normal_address(value: Any) -> str:
    """An email address as nudge compares it: the bare address, trimmed, lower-cased."""
    if not isinstance(value, str):
        return ""
    return _normal_address(value)


@lru_cache(maxsize=65536)
def _normal_address(value: str) -> str:
    # parsed several times per event for the same few addresses: remembered
    return (parseaddr(value)[1] or value).strip().lower()


def email_state(profile: dict[str, Any]) -> dict[str, Any] | None:
    """What mailbox feedback said about the customer's current email address
    (``{"state": "bounced"|"complained", "at", "sub_type"}``), or None if nothing.

    A profile written before states belonged to addresses may carry the old customer-level
    ``email_undeliverable`` flag: it means the current address bounced."""
    address = normal_address(profile.get("email"))
    if not address:
        return None
    state = (profile.get(EMAIL_ADDRESSES) or {}).get(address)
    if state is None and profile.get("email_undeliverable"):
        return {"state": "bounced", "at": None, "sub_type": None, "legacy": True}
    return state if isinstance(state, dict) else None


def pin_legacy_bounce(profile: dict[str, Any]) -> None:
    """Turn the old ``email_undeliverable`` flag into a bounce of the current address."""
    if not profile.pop("email_undeliverable", None):
        return
    address = normal_address(profile.get("email"))
    if address:
        profile.setdefault(EMAIL_ADDRESSES, {}).setdefault(
            address, {"state": "bounced", "at": None, "sub_type": None, "legacy": True}
        )


def mark_addresses(profile: dict[str, Any], states: dict[str, dict[str, Any]]) -> None:
    """Record feedback states (``bounced``/``complained``) for these normalised addresses."""
    pin_legacy_bounce(profile)
    profile.setdefault(EMAIL_ADDRESSES, {}).update(states)


def _order(profile: dict[str, Any], props: dict[str, Any], when: str) -> None:
    orders = profile.setdefault("orders", [])
    if any(o["order_id"] == props["order_id"] for o in orders):
        return  # the same order delivered under another event id
    orders.append({"order_id": props["order_id"], "value": _money(props["value"]), "at": when})
    orders.sort(key=lambda o: o["at"])
    if len(orders) > ORDERS_MAX:
        del orders[: len(orders) - ORDERS_MAX]
    record_purchases(profile, props, when)  # per-product re-order intervals (core/replenish)
    profile["orders_count"] = int(profile.get("orders_count", 0)) + 1
    profile["lifetime_value"] = _money(profile.get("lifetime_value")) + _money(props["value"])
    profile["lifetime_value"] = _money(profile["lifetime_value"])
    _order_dates(profile)
    cart = profile.get("cart") or {}
    if cart.get("value") or cart.get("items"):
        profile["cart"] = {"value": 0.0, "items": [], "checkout_url": None, "updated_at": when}


def refund_key(props: dict[str, Any], event_id: str) -> str:
    """What makes a redelivered refund the same refund: its ``refund_id`` (Shopify's refund id),
    else the event's id (Segment's ``messageId``, ``detail.event_id``, the content key), with the
    order id; hashed short, as it is kept with the order."""
    text = f"{props['order_id']}\x00{props.get('refund_id') or event_id}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _refund(profile: dict[str, Any], props: dict[str, Any], event_id: str) -> None:
    """Take a refund off the order and the lifetime value, once per refund: refund keys are kept
    with their order (or, for an order the profile does not hold, in ``refunds_elsewhere``), so
    a refund redelivered however late, past the duplicate window, changes nothing."""
    key = refund_key(props, event_id)
    orders = profile.setdefault("orders", [])
    order = next((o for o in orders if o["order_id"] == props["order_id"]), None)
    if order is not None:
        keys = order.setdefault("refunds", [])
    else:
        elsewhere = profile.setdefault("refunds_elsewhere", {})
        keys = elsewhere.setdefault(props["order_id"], [])
        while len(elsewhere) > ORDERS_MAX:
            del elsewhere[next(iter(elsewhere))]
    if key in keys:
        return  # this very refund was applied already
    keys.append(key)
    del keys[: max(0, len(keys) - REFUNDS_MAX)]
    amount = _money(props["value"])
    if order is not None:
        amount = min(amount, _money(order["value"]) - _money(order.get("refunded")))
        order["refunded"] = _money(_money(order.get("refunded")) + amount)
        if order["refunded"] >= _money(order["value"]) and not order.get("void"):
            order["void"] = True  # refunded in full: it no longer counts as an order
            profile["orders_count"] = max(0, int(profile.get("orders_count", 0)) - 1)
    profile["lifetime_value"] = _money(max(0.0, _money(profile.get("lifetime_value")) - amount))
    _order_dates(profile)


def _order_dates(profile: dict[str, Any]) -> None:
    live = [o["at"] for o in profile.get("orders", []) if not o.get("void")]
    if live:
        profile["last_order_at"] = max(live)
        first = profile.get("first_order_at")
        profile["first_order_at"] = min([*live, first] if first else live)
    else:
        profile.pop("last_order_at", None)


def merge_profile(
    profile: dict[str, Any],
    other: dict[str, Any],
    history_seconds: History,
    now: datetime | None = None,
) -> None:
    """Fold another profile of the same person (an ``anon:`` visitor who signed in) into
    ``profile``, in place (docs/sources.md, "Anonymous visitors become customers").

    Behaviour moves, identity does not: history is merged by event id in time order (so ``did``
    and ``count`` see browsing done before sign-in), the remembered event ids too (a redelivered
    anonymous event stays a duplicate), the cart if it is newer, ``last_seen_at`` if later, and
    orders the customer's profile does not have yet (with their value, and the products they
    hold for re-order intervals), and milestones reached (never announced twice). Consent,
    traits, contact details and journey state are never copied: only the customer's own records decide who is messaged.
    """
    now = now or clock.now()
    mine, theirs_seen = _seen_days(profile, now), _seen_days(dict(other), now)
    for day, keys in theirs_seen.items():
        have = _chunks(mine.get(day, ""))
        mine[day] = mine.get(day, "") + "".join(k for k in sorted(_chunks(keys)) if k not in have)
    entries = profile.setdefault("history", [])
    ids = {str(h.get("id"))[:8] for h in entries}  # (ids written before are 8 characters)
    for entry in other.get("history") or ():
        if str(entry.get("id"))[:8] not in ids:
            ids.add(str(entry.get("id"))[:8])
            entries.insert(bisect.bisect_right([h["ts"] for h in entries], entry["ts"]), entry)
        elif _held_key(entry) and not any(h.get("id") == entry["id"] for h in entries):
            _hand_over(profile, [entry], now)  # held here under its old id: keep its key
    _hand_over(profile, _trim_history(entries, history_seconds, now), now)
    cart, theirs = profile.get("cart") or {}, other.get("cart") or {}
    if (theirs.get("value") or theirs.get("items")) and (theirs.get("updated_at") or "") > (
        cart.get("updated_at") or ""
    ):
        profile["cart"] = dict(theirs)
    if (other.get("last_seen_at") or "") > (profile.get("last_seen_at") or ""):
        profile["last_seen_at"] = other["last_seen_at"]
    theirs_orders = other.get("orders") or []
    added = _merge_orders(profile, theirs_orders)
    if added and len(added) == len(theirs_orders):  # none of theirs was counted here yet
        merge_purchases(profile, other.get("purchases") or {})
    merge_milestones(profile, other.get("milestones") or {})


def _merge_orders(profile: dict[str, Any], orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the orders ``profile`` does not have; returns those added."""
    mine = profile.setdefault("orders", [])
    have = {o["order_id"] for o in mine}
    added = [dict(o) for o in orders if o["order_id"] not in have]
    if not added:
        return added
    mine.extend(added)
    mine.sort(key=lambda o: o["at"])
    if len(mine) > ORDERS_MAX:
        del mine[: len(mine) - ORDERS_MAX]
    live = [o for o in added if not o.get("void")]
    profile["orders_count"] = int(profile.get("orders_count", 0)) + len(live)
    value = sum(_money(o["value"]) - _money(o.get("refunded")) for o in added)
    profile["lifetime_value"] = _money(_money(profile.get("lifetime_value")) + value)
    _order_dates(profile)
    return added


def _days(since: str | None, now: datetime) -> float | None:
    if not since:
        return None
    return round((now - parse_time(since)).total_seconds() / 86400, 2)


def value_tier(view: dict[str, Any], tiers: Any) -> str | None:
    """The longevity x recency tier name (docs/config.md §5), or None without orders or a grid."""
    if tiers is None or not view.get("orders_count"):
        return None
    longevity, recency = view.get("days_since_first_order"), view.get("days_since_last_order")
    if longevity is None or recency is None:
        return None
    row = bisect.bisect_right(tiers.longevity, longevity)
    col = bisect.bisect_right(tiers.recency, recency)
    return str(tiers.grid[row][col])


def profile_view(profile: dict[str, Any], now: datetime, tiers: Any = None) -> dict[str, Any]:
    """The profile as conditions and templates see it: stored fields plus derived ones."""
    view = dict(profile)
    view.setdefault("consent", {})
    view.setdefault("topics", {})
    count = int(profile.get("orders_count") or 0)
    ltv = _money(profile.get("lifetime_value"))
    view["lifetime_value"] = ltv
    view["avg_order_value"] = round(ltv / count, 2) if count else 0.0
    view["days_since_first_order"] = _days(profile.get("first_order_at"), now)
    view["days_since_last_order"] = _days(profile.get("last_order_at"), now)
    view["value_tier"] = value_tier(view, tiers)
    return view


def fit_budget(profile: dict[str, Any], budget: int = PROFILE_BUDGET) -> int:
    """Trim ``profile`` in place until it is at most ``budget`` bytes as stored (compact JSON),
    oldest entries first, history before anything else (``_TRIM_ORDER``); returns its size."""
    size = json_size(profile)
    if size <= budget:
        return size
    now, handed = clock.now(), False
    for key, keep in _TRIM_ORDER:
        entries = profile.get(key)
        while size > budget and isinstance(entries, list) and len(entries) > keep:
            entry = entries.pop(0)
            size -= json_size(entry) + 1  # the entry and its comma
            if key == "history" and _held_key(entry):
                _hand_over(profile, [entry], now)  # its id stays remembered, in the set
                size += _SEEN_WIDTH + (0 if handed else 32)  # (and perhaps today's key)
                handed = True
    return json_size(profile)


# -- the stored form (docs/storage.md) ---------------------------------------------------------
# Lists of records are stored as rows under one list of keys, the history with its event types
# named once: the same document in a third of the bytes. ``decode_profile`` reads both this and
# the plain form written before it.
_ROWS = ("orders", "sends")


def _pack_rows(rows: list[Any]) -> Any:
    keys: list[str] = []
    for row in rows:
        if not isinstance(row, dict):
            return rows
        keys += [k for k in row if k not in keys]
    packed: list[Any] = []
    for row in rows:
        if list(row) == keys[: len(row)]:
            packed.append(list(row.values()))  # the keys, in order: positions say which
        else:
            packed.append(row)  # a record with other keys stays as it is
    return {"k": keys, "r": packed}


def _unpack_rows(value: Any) -> Any:
    if not isinstance(value, dict) or "r" not in value:
        return value
    keys = value.get("k") or []
    return [
        dict(zip(keys, row, strict=False)) if isinstance(row, list) else row for row in value["r"]
    ]


def _pack_history(history: list[dict[str, Any]]) -> Any:
    """History as rows ``[type index, ts, id, properties?]`` under its list of types; when every
    time is whole seconds (as ``_remember`` stores them), each row's ``ts`` is the seconds since
    the row before (``"d": 1``): small numbers that take less room and deflate well."""
    types: list[str] = []
    rows: list[Any] = []
    whole = all(float(h.get("ts", 0.5)).is_integer() for h in history)
    last = 0
    for entry in history:
        if set(entry) - {"type", "ts", "id", "properties"}:
            rows.append(entry)
            if whole:
                last = int(entry["ts"])
            continue
        if entry["type"] not in types:
            types.append(entry["type"])
        ts = entry["ts"]
        if whole:
            ts, last = int(ts) - last, int(ts)
        row = [types.index(entry["type"]), ts, entry.get("id")]
        if entry.get("properties"):
            row.append(entry["properties"])
        rows.append(row)
    out: dict[str, Any] = {"t": types, "r": rows}
    if whole and rows:
        out["d"] = 1
    return out


def _unpack_history(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return list(value or [])
    types = value.get("t") or []
    deltas = bool(value.get("d"))
    out = []
    last = 0
    for row in value.get("r") or []:
        if isinstance(row, dict):
            out.append(row)
            if deltas:
                last = int(row["ts"])
            continue
        props = row[3] if len(row) > 3 else {}
        ts = row[1]
        if deltas:
            ts = last = last + int(ts)
        out.append({"type": types[row[0]], "ts": ts, "id": row[2], "properties": props})
    return out


def encode_profile(doc: dict[str, Any]) -> str:
    """The profile document as stored: compact JSON, history and record lists as rows."""
    out = dict(doc)
    if isinstance(out.get("history"), list):
        out["history"] = _pack_history(out["history"])
    for key in _ROWS:
        if isinstance(out.get(key), list) and out[key]:
            out[key] = _pack_rows(out[key])
    return json.dumps(out, separators=(",", ":"), default=str)


# A packed document this long or longer is also deflated when that makes it smaller: the
# profile is rewritten on every event and DynamoDB bills a write per KB of the larger of the item
# before and after it, so bytes saved here are write units saved on every event.
DEFLATE_FROM = 512
_DEFLATE_LEVEL = 6


def pack_profile(doc: dict[str, Any]) -> str | bytes:
    """The profile as stored: ``encode_profile``'s text, or that text deflated (raw DEFLATE,
    bytes) when it is at least ``DEFLATE_FROM`` bytes and deflating makes it smaller."""
    return pack_text(encode_profile(doc))


def pack_text(text: str) -> str | bytes:
    """``encode_profile``'s ``text`` as stored (``pack_profile``)."""
    raw = text.encode()
    if len(raw) < DEFLATE_FROM:
        return text
    packer = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, -15)
    packed = packer.compress(raw) + packer.flush()
    return packed if len(packed) < len(raw) else text


def decode_profile(text: str | bytes) -> dict[str, Any]:
    """A stored profile document: ``pack_profile``'s (deflated bytes or text), or the plain
    JSON written before it."""
    if isinstance(text, bytes | bytearray | memoryview):
        text = zlib.decompress(bytes(text), -15).decode()
    doc: dict[str, Any] = json.loads(text)
    if "history" in doc:
        doc["history"] = _unpack_history(doc["history"])
    for key in _ROWS:
        if key in doc:
            doc[key] = _unpack_rows(doc[key])
    return doc


def now_utc(ts: float) -> datetime:
    """Epoch seconds to aware UTC."""
    return datetime.fromtimestamp(ts, UTC)


# -- segments (docs/storage.md#history-segments) -----------------------------------------------
# The oldest history rows, duplicate-set ids and order rows (all but the newest ``ORDERS_HOT``)
# move out of the profile item into immutable segment items once the item would cost a write
# unit more than what it must keep (its floor: the item with none of them; at least a KB), so
# the item every event rewrites stays about a KB. An order row a refund changes is a new row
# (its old copy is no longer held: dead in its segment). The profile lists the live ones
# (``segs``: ``n``
# the next sequence number, ``l`` one ``[seq, token, dead]`` per segment, oldest first; ``dead``
# a bit mask of its entries the profile has since trimmed); read back, their live entries are
# merged in front of the profile's own, and each listing entry carries, in memory only, the
# keys of its entries (so a write can tell which of them are still held).
SEGS = "segs"
_KB = 1024  # DynamoDB bills a write unit per KB
SEGMENT_SLACK = 64  # entries move out once the item is this close to its KB boundary ...
SEGMENT_KEEP = 4  # ... until a quarter of the room (or this fraction) holds history again
SEGMENT_MIN = 10  # never a segment of fewer entries (a flush costs a write unit)
ORDERS_HOT = 3  # the newest orders always stay in the profile item itself
SEGMENT_ITEM = 96  # bytes of a segment item besides its content (keys, kind, ttl)


@dataclass(slots=True)
class Flush:
    """How a profile document is stored: its hot part (the profile item's document), the new
    segment to put first (``seq``, ``token``, packed content, its newest entry's epoch seconds:
    None when it holds order rows, which the profile keeps however old), and the segments the
    write drops (their ``[seq, token]``: trimmed away, taken into the new one, or orphans)."""

    hot: dict[str, Any]
    segment: tuple[int, str, bytes, float | None] | None = None
    dropped: list[tuple[int, str]] = field(default_factory=list)
    listing: dict[str, Any] | None = None  # ``segs`` as it is in memory after the write


def _row_key(entry: Mapping[str, Any]) -> str:
    ts = entry.get("ts")
    if isinstance(ts, float) and ts.is_integer():
        ts = int(ts)  # (as stored: whole seconds)
    return f"h{entry.get('id')}@{ts}"


def _order_key(row: Mapping[str, Any]) -> str:
    """An order row's content key: the whole row (a refund changes it: a new key)."""
    return "o" + json.dumps(row, sort_keys=True, separators=(",", ":"), default=str)


def _order_ts(row: Mapping[str, Any]) -> float:
    try:
        return parse_time(str(row.get("at"))).timestamp()
    except (TypeError, ValueError):
        return 0.0


def _seen_list(keys: str) -> list[str]:
    return [keys[i : i + _SEEN_WIDTH] for i in range(0, len(keys), _SEEN_WIDTH)]


def pack_segment(
    history: list[dict[str, Any]],
    seen: Mapping[str, str],
    orders: list[dict[str, Any]] | None = None,
) -> bytes:
    """A segment's stored content: its history rows (as the profile stores them), its
    duplicate-set ids by day and its order rows (as the profile stores them), as deflated JSON."""
    content: dict[str, Any] = {"history": _pack_history(history), "seen": dict(seen)}
    if orders:
        content["orders"] = _pack_rows(orders)
    text = json.dumps(content, separators=(",", ":"), default=str)
    packer = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, -15)
    return packer.compress(text.encode()) + packer.flush()


def _segment_entries(raw: bytes) -> list[tuple[str, Any]]:
    """A segment's entries in order: ``("h", row)`` for each history row, then ``(day, key)``
    for each duplicate-set id, then ``("o", row)`` for each order row."""
    content = json.loads(zlib.decompress(bytes(raw), -15))
    out: list[tuple[str, Any]] = [("h", row) for row in _unpack_history(content.get("history"))]
    for day in sorted(content.get("seen") or {}, key=int):
        out += [(day, key) for key in _seen_list(content["seen"][day])]
    out += [("o", row) for row in _unpack_rows(content.get("orders")) or ()]
    return out


def _entry_key(kind: str, value: Any) -> str:
    if kind == "h":
        return _row_key(value)
    if kind == "o":
        return _order_key(value)
    return f"s{kind}:{value}"


def merge_segments(
    doc: dict[str, Any],
    contents: Mapping[tuple[int, str], bytes | None],
    present: list[tuple[int, str]] | None = None,
    complete: bool = True,
) -> None:
    """Fold the live entries of the segments ``doc`` lists back into it, in place: their history
    rows in front of the profile's own (in time order), their ids in front of each day's, their
    order rows in front of the profile's own (in order time).
    ``contents``: each listed segment's stored content by ``(seq, token)``, None when it is
    gone (then none of its entries is held any more; unless not ``complete``: only some were
    looked for, and one not found is left as it is). ``present``: the segments found stored
    (listed or not), remembered for the next write (``split_segments``)."""
    segs = doc.get(SEGS)
    if not isinstance(segs, dict):
        if present:
            doc[SEGS] = {"n": 0, "l": [], "p": [list(p) for p in present]}
        return
    rows: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    days: dict[str, list[str]] = {}
    listing = []
    for seq, token, dead, *_ in segs["l"]:
        raw = contents.get((seq, token))
        if raw is None and not complete:
            listing.append([seq, token, dead])
            continue
        keys: list[str] = []
        for i, (kind, value) in enumerate(_segment_entries(raw) if raw is not None else ()):
            keys.append(_entry_key(kind, value))
            if dead >> i & 1:
                continue
            if kind == "h":
                rows.append(value)
            elif kind == "o":
                orders.append(value)
            else:
                days.setdefault(kind, []).append(value)
        listing.append([seq, token, dead, keys])
    rows += doc.get("history") or []
    rows.sort(key=lambda h: h["ts"])  # stable: the segments' rows first at equal times
    doc["history"] = rows
    if orders:
        orders += doc.get("orders") or []
        orders.sort(key=lambda o: str(o.get("at")))  # stable: the segments' first at equal times
        doc["orders"] = orders
    seen = _seen_days(doc)
    for day, keys in days.items():
        seen[day] = "".join(keys) + seen.get(day, "")
    doc[SEGS] = {"n": segs.get("n", 0), "l": listing}
    if present:
        doc[SEGS]["p"] = [list(p) for p in present]


def split_segments(
    doc: dict[str, Any],
    size: Any,
    high: int | None = None,
    low: int | None = None,
) -> Flush:
    """Split a (merged) profile document into what its item stores and what goes to segments:
    entries a listed segment still holds stay there (the others of it are marked dead; a
    segment with none left is dropped), and when the item (``size(hot doc)``, bytes) would be
    bigger than ``high``, its oldest history rows, ids and order rows (all but the newest
    ``ORDERS_HOT``) move to a new segment until it is at most ``low`` (at least
    ``SEGMENT_MIN`` entries, else none, unless the item would cross its KB boundary: then as
    few as there are, when the floor leaves room for history below it). By default ``high`` is just below the KB boundary the
    item needs anyway (its floor, without those entries nor the log entries it keeps; at least
    1 KB) and ``low`` a quarter of the way from the floor to it, so the item costs no write
    unit more for its history and a segment holds most of that room (a floor just below the
    boundary moves every ``SEGMENT_MIN`` entries out). The newest listed segment's live
    entries join the new one (and it is dropped) while that stays within a KB, so segments
    grow to about a KB and the listing stays short.
    ``doc`` is not changed.
    Segments read back but not listed (``segs.p``, in memory) numbered below ``n`` are orphans
    of a write that lost (its profile write can no longer succeed): dropped too."""
    segs: dict[str, Any] = doc[SEGS] if isinstance(doc.get(SEGS), dict) else {}
    history = list(doc.get("history") or [])
    seen = {
        day: _seen_list(keys)
        for day, keys in (_seen_days(dict(doc)) if "seen" in doc else {}).items()
    }
    orders = [o for o in doc.get("orders") or () if isinstance(o, dict)]
    held = Counter(_row_key(h) for h in history)
    held.update(f"s{day}:{k}" for day, keys in seen.items() for k in keys)
    held.update(_order_key(o) for o in orders)
    claimed: Counter[str] = Counter()
    live: list[list[Any]] = []
    dropped: list[tuple[int, str]] = []
    for entry in segs.get("l") or []:
        seq, token, dead = entry[0], entry[1], entry[2]
        if len(entry) < 4:  # read without its segments: left as it is
            live.append([seq, token, dead])
            continue
        alive = 0
        for i, key in enumerate(entry[3]):
            if not dead >> i & 1 and held[key] > claimed[key]:
                claimed[key] += 1
                alive += 1
            else:
                dead |= 1 << i
        if alive:
            live.append([seq, token, dead, entry[3]])
        else:
            dropped.append((seq, token))
    next_seq = int(segs.get("n") or 0)
    listed = {(e[0], e[1]) for e in segs.get("l") or []}
    found = [(int(p[0]), str(p[1])) for p in segs.get("p") or ()]
    dropped += [p for p in found if p not in listed and p[0] < next_seq]
    taken = Counter(claimed)
    hot_rows = []
    for h in history:
        key = _row_key(h)
        if taken[key] > 0:
            taken[key] -= 1
        else:
            hot_rows.append(h)
    hot_seen: dict[str, list[str]] = {}
    for day, keys in seen.items():
        for k in keys:
            key = f"s{day}:{k}"
            if taken[key] > 0:
                taken[key] -= 1
            else:
                hot_seen.setdefault(day, []).append(k)
    # order rows: those a segment holds stay there; of the others, all but the newest
    # ``ORDERS_HOT`` may move (``movable``, oldest first, as the list is)
    hot_orders: list[dict[str, Any]] = []
    movable: list[dict[str, Any]] = []
    for i, o in enumerate(orders):
        key = _order_key(o)
        if taken[key] > 0:
            taken[key] -= 1
            continue
        hot_orders.append(o)
        if i < len(orders) - ORDERS_HOT:
            movable.append(o)

    def build(moved: int) -> dict[str, Any]:
        out = dict(doc)
        rows, ids, gone = _oldest(hot_rows, hot_seen, movable, moved)
        if "history" in doc:
            out["history"] = hot_rows[rows:]
        if "seen" in doc:
            out["seen"] = {}
            for day in sorted(hot_seen, key=int):
                left = hot_seen[day][ids.get(day, 0) :]
                if left:
                    out["seen"][day] = "".join(left)
        if "orders" in doc:
            leaving = {id(o) for o in movable[:gone]}
            out["orders"] = [o for o in hot_orders if id(o) not in leaving]
        listing = [e[:3] for e in live]
        if moved:
            listing.append([next_seq, "", 0])  # (its token, once packed)
        if listing:
            out[SEGS] = {"n": next_seq + (1 if moved else 0), "l": listing}
        else:
            out.pop(SEGS, None)
        return out

    total = len(hot_rows) + sum(len(v) for v in hot_seen.values()) + len(movable)
    hot = build(0)
    now = size(hot)
    if not total or now <= (high or _KB - SEGMENT_SLACK):
        return Flush(hot, None, dropped, _listing(live, next_seq))
    # the floor leaves out the log entries the profile keeps: they only stay while they cost
    # no write unit (``aws.store.decisions.fold_log``), so they never lift the boundary
    floor = size(_without_kept_log(build(total)))
    boundary = _KB * max(1, -(-floor // _KB))
    if high is None:
        high = boundary - SEGMENT_SLACK
    if now <= high:
        return Flush(hot, None, dropped, _listing(live, next_seq))
    if total < SEGMENT_MIN and not (
        boundary - floor > SEGMENT_SLACK and size(_without_kept_log(hot)) > boundary
    ):
        # fewer entries than a segment's minimum move out only when the history would
        # otherwise take the item across its KB boundary (a write unit more on every event
        # until they do; not the log entries it keeps, which leave first) and there is room
        # below it for history at all
        return Flush(hot, None, dropped, _listing(live, next_seq))
    if low is None:
        low = floor + max(0, high - floor) // SEGMENT_KEEP
    lo, hi = min(SEGMENT_MIN, total), total  # the fewest entries moved that bring it to ``low``
    if floor > low:
        lo = hi
    while lo < hi:
        mid = (lo + hi) // 2
        if size(build(mid)) <= low:
            hi = mid
        else:
            lo = mid + 1
    rows, ids, gone = _oldest(hot_rows, hot_seen, movable, lo)
    moved_rows = hot_rows[:rows]
    moved_seen = {d: hot_seen[d][:n] for d, n in ids.items() if n}
    moved_orders = movable[:gone]
    hot = build(lo)
    packed = pack_segment(moved_rows, {d: "".join(v) for d, v in moved_seen.items()}, moved_orders)
    # listed segments whose live entries join the new one while it stays within a KB (each
    # is deleted after the write): the newest, so segments grow to about a KB and the profile
    # lists few of them, and any of which the profile holds a quarter or less (orders outlive
    # the history around them), so old segments do not linger for a few entries
    taking = [
        i
        for i, e in enumerate(live)
        if len(e) > 3 and (i == len(live) - 1 or 4 * _live_count(e) <= len(e[3]))
    ]
    for i in reversed(taking):
        last_rows, last_seen, last_orders = _live_entries(live[i], history, seen, orders)
        joined_rows = sorted(last_rows + moved_rows, key=lambda h: float(h["ts"]))
        joined_seen = {
            d: last_seen.get(d, []) + moved_seen.get(d, []) for d in {*last_seen, *moved_seen}
        }
        joined_orders = sorted(last_orders + moved_orders, key=lambda o: str(o.get("at")))
        joined = pack_segment(
            joined_rows, {d: "".join(v) for d, v in joined_seen.items()}, joined_orders
        )
        if len(joined) + SEGMENT_ITEM > _KB:
            continue
        dropped.append((live[i][0], live[i][1]))
        del live[i]
        packed, moved_rows, moved_seen, moved_orders = (
            joined,
            joined_rows,
            joined_seen,
            joined_orders,
        )
    hot[SEGS]["l"] = [*(e[:3] for e in live), hot[SEGS]["l"][-1]]
    token = hashlib.sha256(packed).hexdigest()[:6]
    hot[SEGS]["l"][-1][1] = token
    newest: float | None = None
    if not moved_orders:  # (order rows are kept however old: such a segment has no end)
        newest = max(
            [float(h["ts"]) for h in moved_rows] + [(int(d) + 1) * 86400.0 for d in moved_seen]
        )
    keys = [_row_key(h) for h in moved_rows]
    keys += [f"s{d}:{k}" for d in sorted(moved_seen, key=int) for k in moved_seen[d]]
    keys += [_order_key(o) for o in moved_orders]
    listing = _listing(live, next_seq + 1)
    listing["l"].append([next_seq, token, 0, keys])
    return Flush(hot, (next_seq, token, packed, newest), dropped, listing)


def _without_kept_log(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without the log entries it keeps (``MISSES`` rows; its counters stay)."""
    held = doc.get(MISSES)
    if not isinstance(held, dict) or not held.get("r"):
        return doc
    return {**doc, MISSES: {**held, "r": []}}


def _live_count(entry: list[Any]) -> int:
    return sum(1 for i in range(len(entry[3])) if not entry[2] >> i & 1)


def _live_entries(
    entry: list[Any],
    history: list[dict[str, Any]],
    seen: Mapping[str, list[str]],
    orders: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, list[str]], list[dict[str, Any]]]:
    """The entries a listed segment still holds (its live keys), found in the document."""
    by_key: dict[str, Any] = {_row_key(h): h for h in history}
    by_key.update({_order_key(o): o for o in orders})
    rows: list[dict[str, Any]] = []
    ids: dict[str, list[str]] = {}
    kept: list[dict[str, Any]] = []
    for i, key in enumerate(entry[3]):
        if entry[2] >> i & 1:
            continue
        if key.startswith("s"):
            day, _, value = key[1:].partition(":")
            ids.setdefault(day, []).append(value)
        elif key.startswith("o"):
            kept.append(by_key[key])
        else:
            rows.append(by_key[key])
    return rows, ids, kept


def _listing(live: list[list[Any]], next_seq: int) -> dict[str, Any]:
    return {"n": next_seq, "l": [list(e) for e in live]}


def _oldest(
    rows: list[dict[str, Any]],
    seen: Mapping[str, list[str]],
    orders: list[dict[str, Any]],
    count: int,
) -> tuple[int, dict[str, int], int]:
    """The ``count`` oldest entries: how many history rows (from the front), how many ids of
    each day (from the front of the day) and how many order rows (from the front), oldest
    first by time (an id by its day's start, an order by its ``at``)."""
    queue = sorted(
        [(float(h["ts"]), 0, i) for i, h in enumerate(rows)]
        + [(int(d) * 86400.0, 1, i) for d in seen for i in range(len(seen[d]))]
        + [(_order_ts(o), 2, i) for i, o in enumerate(orders)],
    )
    taken_rows = taken_orders = 0
    ids: dict[str, int] = {}
    day_of = sorted(((int(d) * 86400.0, d) for d in seen), key=lambda p: p[0])
    starts = dict(day_of)
    for ts, kind, _i in queue[:count]:
        if kind == 0:
            taken_rows += 1
        elif kind == 2:
            taken_orders += 1
        else:
            day = starts[ts]
            ids[day] = ids.get(day, 0) + 1
    return taken_rows, ids, taken_orders
