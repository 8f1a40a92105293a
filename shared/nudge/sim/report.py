"""Readable tables of a simulation: who got what, when, and why not."""

from __future__ import annotations

from collections import Counter
from typing import Any


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def _short(text: str | None, n: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def render_report(result: dict[str, Any]) -> str:
    """The demo's printout: decisions, messages, and counts per outcome."""
    decisions = result["decisions"]
    rows = [
        [
            d["at"][5:16].replace("T", " "),
            d["customer_id"],
            d["trigger"] or "-",
            d["outcome"],
            d.get("reason") or "",
            d.get("channel") or "",
        ]
        for d in decisions
    ]
    parts = [
        "Decisions (UTC)",
        _table(rows, ["at", "customer", "trigger", "outcome", "reason", "channel"]),
    ]
    msgs = [
        [
            m["at"][5:16].replace("T", " "),
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
    crow = [[o, r, str(n)] for (o, r), n in sorted(counts.items())]
    parts += ["", "Outcomes", _table(crow, ["outcome", "reason", "count"])]
    dead = result.get("dead_letters") or []
    if dead:
        parts += ["", f"Dead-letter queue ({len(dead)})"]
        parts += [f"  {d['reason']}" for d in dead]
    return "\n".join(parts)
