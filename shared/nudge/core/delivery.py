"""Send-time rules, pure: quiet hours, frequency caps with priority, holdouts (docs/config.md §3, docs/delivery.md).

No I/O and no clock: dispatch passes ``now`` and the profile, and acts on the answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nudge.core.durations import seconds

COUNTED = ("sent", "held_out")  # ledger states that used a cap slot
PENDING = "queued"


def customer_zone(profile: dict[str, Any], default: str) -> ZoneInfo:
    """The customer's own time zone, else the shop's."""
    for name in (profile.get("timezone"), default):
        if name:
            try:
                return ZoneInfo(str(name))
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def quiet_until(now: datetime, zone: ZoneInfo, start: str, end: str) -> datetime | None:
    """If ``now`` falls in the quiet hours (local ``start``-``end``, may span midnight), the
    moment they end, as aware UTC; else None. DST-safe: the end is computed in local wall time.
    """
    local = now.astimezone(zone)
    begin, finish = _hhmm(start), _hhmm(end)
    clock = local.time().replace(second=0, microsecond=0, tzinfo=None)
    spans_midnight = begin > finish
    inside = (clock >= begin or clock < finish) if spans_midnight else begin <= clock < finish
    if not inside:
        return None
    day = local.date()
    if spans_midnight and clock >= begin:
        day = day + timedelta(days=1)
    ends = datetime.combine(day, finish, tzinfo=zone)
    # a wall time skipped by a DST jump resolves forward; never answer a time in the past
    ends_utc = ends.astimezone(now.tzinfo)
    return ends_utc if ends_utc > now else now + timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class CapBlock:
    """Why a message cannot go now under the frequency caps, and when to try again."""

    cap: str
    used: int
    ahead: int
    retry_at: datetime


def cap_block(
    sends: list[dict[str, Any]],
    caps: list[Any],
    channel: str,
    now: datetime,
    ahead: list[str],
    fallback_retry: timedelta,
    scope: dict[str, str] | None = None,
    later: Sequence[tuple[datetime, str]] = (),
) -> CapBlock | None:
    """Check every cap that applies to ``channel``.

    ``sends`` is the ledger (entries with ``channel``, ``ts``, ``state``); ``ahead`` lists the
    channels of due messages for this customer that outrank this one, ``later`` the others that
    outrank it (when each is due, its channel). A cap blocks when what was already sent plus
    what outranks us fills it. ``retry_at`` is when our turn can come: the window frees one send
    at a time (the oldest counted send leaves it first), and each outranking message due by a
    freed slot takes it before us, so a backlog wakes each message once, for its own turn, not
    every time a slot frees. ``fallback_retry`` from now when only outranking messages fill it.
    """
    ts = now.timestamp()
    scope = scope or {}
    for cap in caps:
        if cap.channel not in ("any", channel):
            continue
        topic, group = getattr(cap, "topic", None), getattr(cap, "group", None)
        if (topic and scope.get("topic") != topic) or (group and scope.get("group") != group):
            continue  # a cap of one topic or cap group limits only its own messages
        window = seconds(cap.per)
        counted = sorted(
            s["ts"]
            for s in sends
            if s.get("state") in COUNTED
            and s.get("lane") != "transactional"  # what the customer needs is never capped
            and (not topic or s.get("topic") == topic)
            and (not group or s.get("group") == group)
            and ts - window < s["ts"] <= ts
            and cap.channel in ("any", s["channel"])
        )
        # higher-priority messages due now compete for the shop-wide caps (a topic's or a
        # group's cap counts only what was sent under it)
        queued = 0 if topic or group else sum(1 for c in ahead if cap.channel in ("any", c))
        if len(counted) + queued >= cap.max:
            if counted and len(counted) >= cap.max:
                slots = counted[len(counted) - cap.max :]
                turn = queued  # the due messages that outrank us take the first freed slots
                if not topic and not group:
                    for due, other in sorted(later):
                        wakes = _slot(slots, window, turn) + MARGIN
                        if cap.channel in ("any", other) and due.timestamp() <= wakes:
                            turn += 1
                frees = _slot(slots, window, turn)
                retry = datetime.fromtimestamp(frees + MARGIN, now.tzinfo)
            else:
                retry = now + fallback_retry
            name = f"{cap.channel} {cap.max}/{cap.per}"
            if topic or group:
                name += f" ({'topic ' + topic if topic else 'group ' + str(group)})"
            if isinstance(cap, PersonalCap):
                name += " (the customer's choice)"
            return CapBlock(name, len(counted), queued, retry)
    return None


MARGIN = 1.0  # seconds after a slot frees that a deferred message wakes for it


def _slot(slots: list[float], window: float, turn: int) -> float:
    """When the ``turn``-th slot (from 0) of a full cap window frees: each send in ``slots``
    (the window's counted sends, oldest first) leaves it ``window`` after it was made, and the
    send that takes a freed slot leaves it one ``window`` later again."""
    return slots[turn % len(slots)] + window * (turn // len(slots) + 1)


@dataclass(frozen=True, slots=True)
class PersonalCap:
    """A cap the customer chose on the preference page (``preferences.<channel>``)."""

    channel: str
    max: int
    per: str


PERSONAL_CAPS = {"weekly": "7d", "monthly": "30d"}


def personal_caps(view: dict[str, Any], channel: str) -> list[PersonalCap]:
    """The customer's own cap for ``channel`` ("at most weekly": 1 per 7 days), if they set one."""
    chosen = (view.get("preferences") or {}).get(channel)
    return [PersonalCap(channel, 1, PERSONAL_CAPS[chosen])] if chosen in PERSONAL_CAPS else []


def bucket(*parts: str) -> float:
    """A stable number in [0, 100) from the parts: same input, same bucket, on every deploy."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def holdout_reason(
    customer_id: str, trigger_id: str, global_percent: float, salt: str, trigger_percent: float
) -> str | None:
    """``global`` or ``trigger`` if the customer is in that control group, else None."""
    if global_percent and bucket(salt, customer_id) < global_percent:
        return "global"
    if trigger_percent and bucket(salt, trigger_id, customer_id) < trigger_percent:
        return "trigger"
    return None
