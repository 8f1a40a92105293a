"""``nudge explain``: the timeline of decisions for one customer, with the values behind them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _load(args: Any) -> list[dict[str, Any]]:
    if args.from_file:
        doc = json.loads(Path(args.from_file).read_text())
        return [d for d in doc["decisions"] if d["customer_id"] == args.customer_id]
    import os

    from nudge import store
    from nudge.env import reset_env

    if args.table:
        os.environ["NUDGE_TABLE"] = args.table
        reset_env()
    return store.decisions_for(args.customer_id, args.since)


def explain_command(args: Any) -> int:
    """Print the customer's decision timeline; exit 1 if there is nothing to explain."""
    decisions = _load(args)
    if args.trigger:
        decisions = [d for d in decisions if d.get("trigger") == args.trigger]
    if args.since:
        decisions = [d for d in decisions if d["at"] >= args.since]
    if not decisions:
        print(f"no decisions recorded for {args.customer_id}", file=sys.stderr)
        return 1
    print(f"Customer {args.customer_id}")
    for d in sorted(decisions, key=lambda d: d["at"]):
        why = f" ({d['reason']})" if d.get("reason") else ""
        via = f" via {d['channel']}" if d.get("channel") else ""
        event = f" on {d['event_type']} {d['event_id']}" if d.get("event_type") else ""
        print(f"  {d['at']}  {d.get('trigger') or '-'}: {d['outcome']}{why}{via}{event}")
        for key, value in (d.get("detail") or {}).items():
            print(f"      {key} = {json.dumps(value, default=str)}")
    return 0
