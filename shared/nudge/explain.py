"""``nudge explain``: the timeline of decisions for one customer, with the values behind them.

Reads a ``nudge simulate`` output file (``--from-file``) or a deployed table (``--table`` or
``$NUDGE_TABLE``, with the usual AWS credentials).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

WHY = {
    "no_consent": "no recorded consent for the channel",
    "no_address": "no usable address for the channel",
    "audience": "not in the trigger's audience (who) at that moment",
    "cooldown": "the trigger already messaged them within its cooldown",
    "inactive": "the trigger or campaign was outside its active window, disabled or removed",
    "frequency_cap": "a frequency cap was full; retried when the window frees",
    "quiet_hours": "inside quiet hours in the customer's time zone; sent when they end",
    "expired": "still held back when the trigger's expires ran out",
    "superseded": "a newer message of the same trigger replaced it",
    "duplicate": "the same event was delivered twice; the copy changed nothing",
    "global": "in the global control group (measured, never messaged)",
    "trigger": "in this trigger's control group",
    "template_error": "the template could not be rendered",
    "provider_error": "SES/SNS refused the message or the outcome is unknown",
}


def _from_file(
    path: str, customer_id: str
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, dict[str, Any]]]:
    doc = json.loads(Path(path).read_text())
    decisions = [d for d in doc["decisions"] if d["customer_id"] == customer_id]
    messages = {
        m["message_id"]: m for m in doc.get("messages", []) if m.get("customer_id") == customer_id
    }
    return decisions, doc.get("profiles", {}).get(customer_id), messages


def _from_table(
    args: Any,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, dict[str, Any]]]:
    from nudge.aws import store
    from nudge.env import reset_env

    if args.table:
        os.environ["NUDGE_TABLE"] = args.table
        reset_env()
    profile = store.get_profile(args.customer_id).doc
    return store.decisions_for(args.customer_id, args.since), profile, {}


def explain_command(args: Any) -> int:
    """Print the customer's decision timeline; exit 1 if the customer is unknown."""
    if args.from_file:
        decisions, profile, messages = _from_file(args.from_file, args.customer_id)
    else:
        decisions, profile, messages = _from_table(args)
    if args.trigger:
        decisions = [d for d in decisions if d.get("trigger") == args.trigger]
    if args.since:
        decisions = [d for d in decisions if d["at"] >= args.since]
    if not decisions and profile is None:
        print(f"{args.customer_id}: no such customer", file=sys.stderr)
        return 1
    print(f"Customer {args.customer_id}")
    if profile is not None:
        consent = profile.get("consent") or {}
        print(
            f"  now: orders {profile.get('orders_count', 0)}, lifetime value "
            f"{profile.get('lifetime_value', 0)}, segments {profile.get('segments') or []}, "
            f"tier {profile.get('value_tier')}, consent email={consent.get('email')} "
            f"sms={consent.get('sms')}"
        )
    if not decisions:
        print("  no trigger or campaign matched any of their events: nothing was decided")
        return 0
    for d in sorted(decisions, key=lambda d: d["at"]):
        reason = d.get("reason")
        why = f" ({reason}: {WHY.get(reason, reason)})" if reason else ""
        via = f" via {d['channel']}" if d.get("channel") else ""
        cause = f", on {d['event_type']} {d['event_id']}" if d.get("event_type") else ""
        print(f"  {d['at']}  {d.get('trigger') or '-'}: {d['outcome']}{why}{via}{cause}")
        for key, value in (d.get("detail") or {}).items():
            print(f"      {key} = {json.dumps(value, default=str)}")
        sent = messages.get(d.get("message_id") or "")
        if sent and d["outcome"] == "sent":
            print(f"      message to {sent['to']}: {sent.get('subject') or sent.get('text')!r}")
    return 0
