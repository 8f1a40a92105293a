"""What a simulation did, for people: a funnel per trigger and campaign, warnings, and readable
tables of who got what, when (in the shop's time zone) and why not (every reason in words).

The funnel and warnings are also part of the ``nudge simulate`` output file (``funnel``,
``warnings``); see docs/reference.md#nudge-simulate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from nudge.core.decisions import reason_words

# Outcomes that carry no reason, in the words of docs/reference.md#decisions.
_OUTCOME_WORDS = {
    "sent": "the provider (SES/SNS) accepted the message",
    "scheduled": "a wait is running",
    "cancelled": "a cancel_if event came during the wait",
    "entered": "the customer entered a journey",
    "waiting": "a journey step is waiting (wait, wait_until, wait_for)",
    "branched": "a journey branch took an arm, or a wait_for ended",
    "split": "the customer was given a split variant",
    "completed": "the customer walked the journey to its end",
}
# How a match ended, from its last decision: these outcomes end it, the others are still open.
_FINAL = ("sent", "held_out", "cancelled", "suppressed", "failed")


def funnel(
    decisions: Iterable[dict[str, Any]], targets: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per trigger and campaign: how many matches (a customer and the event or campaign run
    that fired it), how many waited (``scheduled``) or were ``deferred`` on the way, and how
    each ended: ``sent``, ``held_out``, ``cancelled``, ``suppressed`` and ``failed`` by reason,
    ``open`` (still waiting or deferred when the simulation stopped).

    ``targets`` maps each trigger and campaign id to ``kind``, ``event`` and ``enabled``; ids
    found only in decisions (a trigger since removed) are added."""
    steps: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = {}
    waiting: dict[tuple[str, str], tuple[str, str]] = {}  # (trigger, customer) -> its wait's match
    for d in decisions:
        tid, cid = d.get("trigger"), d["customer_id"]
        if not tid:
            continue  # a duplicate event: no trigger was involved
        key = (cid, d.get("event_id") or d.get("message_id") or d["at"])
        if d["outcome"] == "cancelled" and (tid, cid) in waiting:
            key = waiting[(tid, cid)]  # about the wait, named by the event that cancelled it
        steps.setdefault(tid, {}).setdefault(key, []).append(d)
        if d["outcome"] == "scheduled":
            waiting[(tid, cid)] = key
        elif waiting.get((tid, cid)) == key:
            del waiting[(tid, cid)]
    out: dict[str, dict[str, Any]] = {}
    for tid in [*targets, *(t for t in steps if t not in targets)]:
        info = targets.get(tid, {"kind": "trigger", "event": None, "enabled": False})
        matches = steps.get(tid, {})
        row: dict[str, Any] = {
            **info,
            "matched": len(matches),
            "scheduled": 0,
            "deferred": 0,
            "sent": 0,
            "held_out": {},
            "cancelled": 0,
            "suppressed": {},
            "failed": {},
            "open": 0,
        }
        for chain in matches.values():
            outcomes = {d["outcome"] for d in chain}
            row["scheduled"] += "scheduled" in outcomes
            row["deferred"] += "deferred" in outcomes
            last = chain[-1]
            outcome, reason = last["outcome"], last.get("reason") or ""
            if outcome not in _FINAL:
                row["open"] += 1
            elif isinstance(row[outcome], dict):
                row[outcome][reason] = row[outcome].get(reason, 0) + 1
            else:
                row[outcome] += 1
        out[tid] = row
    return out


def warnings(rows: dict[str, dict[str, Any]], event_counts: dict[str, int]) -> list[str]:
    """A warning for every enabled trigger that matched nothing, saying whether its event never
    came or came and never met its ``when``; one for every message that ``failed``."""
    out = []
    for tid, row in rows.items():
        if row["kind"] != "trigger" or not row["enabled"] or row["matched"]:
            continue
        event = row["event"]
        n = event_counts.get(event, 0)
        cause = (
            f"{n} {event} event(s) came, none met its when (where, count)"
            if n
            else f"no {event} event came in the simulated time"
        )
        out.append(f"trigger {tid} matched nothing: {cause}")
    for tid, row in rows.items():
        for reason, n in sorted(row["failed"].items()):
            out.append(f"{tid}: {n} message(s) failed ({reason}: {reason_words(reason)})")
    return out


def _count(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    inner = ", ".join(f"{reason or '-'} {n}" for reason, n in sorted(counts.items()))
    return f"{total} ({inner})" if total else "0"


def funnel_line(tid: str, row: dict[str, Any]) -> str:
    """``cart_x (cart_updated): matched 14 -> scheduled 12 -> sent 6, held out 1 (global 1),
    ...``: one line of the funnel."""
    what = row["event"] or "removed"
    if row["kind"] == "campaign":
        what = "campaign"
    if not row["enabled"]:
        what += ", disabled"
    if row["kind"] == "campaign" and not row["matched"]:
        return f"{tid} ({what}): no run reached a customer in the simulated time"
    parts = [f"matched {row['matched']}"]
    if row["scheduled"]:
        parts.append(f"scheduled {row['scheduled']}")
    if row["deferred"]:
        parts.append(f"deferred on the way {row['deferred']}")
    ends = [
        f"sent {row['sent']}",
        f"held out {_count(row['held_out'])}",
        f"cancelled {row['cancelled']}",
        f"suppressed {_count(row['suppressed'])}",
        f"failed {_count(row['failed'])}",
    ]
    if row["open"]:
        ends.append(f"still waiting {row['open']}")
    return f"{tid} ({what}): " + " -> ".join(parts) + " -> " + ", ".join(ends)


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    out = [line, "  ".join("-" * w for w in widths)]
    out += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(out)


def _short(text: str | None, n: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _local(at: str | None, zone: ZoneInfo, fmt: str = "%m-%d %H:%M") -> str:
    if not at:
        return ""
    return datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(zone).strftime(fmt)


def note(d: dict[str, Any], zone: ZoneInfo) -> str:
    """What the decisions table adds to a decision: until when it was deferred (shop time, and
    the customer's time where quiet hours applied), why the audience failed, what failed."""
    detail = d.get("detail") or {}
    reason = d.get("reason")
    if d["outcome"] == "deferred" and detail.get("until"):
        text = f"until {_local(detail['until'], zone)}"
        local = detail.get("local_time")  # "22:15 America/Chicago": quiet hours applied
        if reason == "quiet_hours" and isinstance(local, str) and " " in local:
            when, name = local.split(" ", 1)
            there = _local(detail["until"], ZoneInfo(name), "%H:%M")
            text += f" ({there} for the customer, {name}; it was {when} there)"
        return text
    if reason == "audience" and detail.get("because"):
        return str(detail["because"])
    if reason == "cooldown" and detail.get("last_sent_at"):
        return (
            f"last sent {_local(detail['last_sent_at'], zone)}, cooldown {detail.get('cooldown')}"
        )
    if reason == "expired" and detail.get("expires_at"):
        return f"expired {_local(detail['expires_at'], zone)}"
    if d["outcome"] == "failed" and detail.get("error"):
        return _short(str(detail["error"]), 70)
    return ""


def render_report(result: dict[str, Any]) -> str:
    """The ``--report`` printout: the funnel per trigger and campaign, warnings, decisions and
    messages with times in the shop's time zone, counts per outcome with every reason in words."""
    zone_name = result.get("timezone") or "UTC"
    zone = ZoneInfo(zone_name)
    decisions = result["decisions"]
    rows = [
        [
            _local(d["at"], zone),
            d["customer_id"],
            d["trigger"] or "-",
            d["outcome"],
            d.get("reason") or "",
            d.get("channel") or "",
            note(d, zone),
        ]
        for d in decisions
    ]
    parts = [
        f"Decisions (times in the shop's time zone, {zone_name})",
        _table(rows, ["at", "customer", "trigger", "outcome", "reason", "channel", "note"]),
    ]
    msgs = [
        [
            _local(m["at"], zone),
            m["customer_id"] or "?",
            m["channel"],
            m["to"],
            m["trigger"] or "?",
            _short(m["subject"] or m["text"]),
        ]
        for m in result["messages"]
    ]
    parts += [
        "",
        f"Messages sent ({len(msgs)})",
        _table(msgs, ["at", "customer", "channel", "to", "trigger", "subject / text"]),
    ]
    counts = Counter((d["outcome"], d.get("reason") or "") for d in decisions)
    crow = [
        [o, r, str(n), reason_words(r) if r else _OUTCOME_WORDS.get(o, "")]
        for (o, r), n in sorted(counts.items())
    ]
    parts += ["", "Outcomes", _table(crow, ["outcome", "reason", "count", "meaning"])]
    rows_by_id = result.get("funnel") or {}
    if rows_by_id:
        parts += ["", "Funnel per trigger and campaign (how each match ended)"]
        parts += [f"  {funnel_line(tid, row)}" for tid, row in rows_by_id.items()]
    dead = result.get("dead_letters") or []
    if dead:
        parts += ["", f"Dead-letter queue ({len(dead)})"]
        parts += [f"  {d['reason']}" for d in dead]
    notes = result.get("warnings") or []
    if notes:
        parts += ["", f"Warnings ({len(notes)})"]
        parts += [f"  warning: {w}" for w in notes]
    return "\n".join(parts)
