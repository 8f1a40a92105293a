"""The lift report for people: the terminal table (``nudge report lift``)."""

from __future__ import annotations

from typing import Any

from nudge.lift.measure import LIFT, NO_LIFT


def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def _signed(x: float) -> str:
    return f"{x:+,.2f}"


def _span(iv: dict[str, Any] | None, fmt: Any) -> str:
    if iv is None:
        return "-"
    return f"{fmt(iv['estimate'])} [{fmt(iv['low'])}, {fmt(iv['high'])}]"


def title(row: dict[str, Any]) -> str:
    """``cart_x (trigger)``, ``spring (campaign, variant 1)``, ``the whole program``."""
    if row.get("id") is None:
        return "the whole program (global control group)"
    variant = "" if row.get("variant") is None else f", variant {row['variant']}"
    return f"{row['id']} ({row['kind']}{variant})"


def verdict_text(row: dict[str, Any]) -> str:
    """The verdict, and for a result that cannot be relied on why, with the minimum detectable
    effect and how many more customers would detect the lift seen."""
    text = row["verdict"]
    if row.get("negative"):
        text += " (the control group converted more: the messages may hurt)"
    p = row["power"]
    if not p["under_powered"] or row["verdict"] not in (LIFT, NO_LIFT):
        return text
    text += "; UNDER-POWERED: " + "; ".join(p["why"])
    if p["mde"] is not None and p["mde"] >= 1:
        text += "; at these sizes no lift, however large, could be detected"
    elif p["mde"] is not None:
        text += f"; the smallest lift these sizes can detect is {100 * p['mde']:.1f} points"
        text += f" (at a {100 * p['mde_base_rate']:.1f}% base rate)"
    if p["more_customers_needed"]:
        text += (
            f"; about {p['more_customers_needed']:,} more customers (at this split) would "
            f"detect the lift seen at 80% power"
        )
    elif p["customers_needed"] is None and row["verdict"] == NO_LIFT:
        text += "; no positive lift seen to size a test for"
    return text


def _arm(name: str, arm: dict[str, Any], noun: str) -> str:
    return (
        f"  {name:<8} {arm['customers']:>7,} customers, {arm['converters']:,} converted "
        f"({_pct(arm['conversion_rate'])}), {arm['orders']:,} orders, revenue "
        f"{_money(arm['revenue'])} ({_money(arm['revenue_per_customer'])} per customer), "
        f"{arm['messages']:,} {noun}"
    )


def row_lines(row: dict[str, Any]) -> list[str]:
    """The lines of one trigger, campaign or the program."""
    lift = row["lift"]
    out = [
        title(row),
        _arm("treated", row["treated"], "messages sent"),
        _arm("control", row["control"], "messages held out"),
    ]
    if lift["rate_difference"] is not None:
        rel = lift["relative"]
        out.append(
            f"  lift     {_span(lift['rate_difference'], _pts)} points of conversion rate "
            f"({lift['rate_difference']['method']})"
            + (
                f"; relative {_span(rel, lambda x: f'{100 * x:+.0f}%')} ({rel['method']})"
                if rel
                else ""
            )
        )
        rev = lift["revenue_per_customer_difference"]
        out.append(f"  revenue  {_span(rev, _signed)} per customer ({rev['method']})")
        out.append(
            f"  incremental  {_span(lift['incremental_conversions'], lambda x: f'{x:+,.1f}')} "
            f"conversions, {_span(lift['incremental_revenue'], _signed)} revenue"
        )
    per = lift["revenue_per_message"]
    if per is not None:
        inc = lift["incremental_revenue_per_message"]
        out.append(
            f"  per message  revenue {_money(per)}"
            + (f", incremental {_span(inc, _signed)}" if inc else "")
        )
    srm = row["srm"]
    if srm is not None:
        flag = "MISMATCH (p < 0.001): check the holdout setup" if srm["mismatch"] else "ok"
        out.append(
            f"  sample ratio  control {_pct(srm['observed_control_share'])} of customers, "
            f"configured {_pct(srm['expected_control_share'])} ({srm['method']} p = "
            f"{srm['p_value']:.3g}): {flag}"
        )
    out.append(f"  verdict  {verdict_text(row)}")
    return out


def funnel_text(tid: str, row: dict[str, Any]) -> str:
    """The funnel of one trigger: ``nudge simulate --report``'s line, then what became of the
    messages sent."""
    from nudge.sim.report import funnel_line

    line = f"  {funnel_line(tid, row)}"
    if not row["sent"]:
        return line
    tail = " -> ".join(
        f"{step} {row[step]}" for step in ("delivered", "opened", "clicked", "converted")
    )
    return f"{line} -> {tail}"


def render_table(report: dict[str, Any]) -> str:
    """The terminal report: every trigger and campaign, the program, the funnel."""
    rule = report.get("attribution") or {}
    period = f"{report.get('since') or 'start'} .. {report.get('until') or 'now'}"
    head = f"Lift, treated vs control, {period} (95% intervals)"
    if rule:
        head += (
            f"; an {rule.get('event')} within {rule.get('window')} after a message sent or held "
            f"out is credited to it ({rule.get('model')})"
        )
    parts = [head, ""]
    if not report["rows"]:
        parts += ["No message was sent or held out in the period.", ""]
    for row in report["rows"]:
        parts += [*row_lines(row), ""]
    if report.get("trigger") is None:
        parts += [*row_lines({"id": None, **report["program"]}), ""]
    if report["funnel"]:
        parts.append("Funnel per trigger and campaign")
        parts += [funnel_text(tid, row) for tid, row in report["funnel"].items()]
    return "\n".join(parts).rstrip()
