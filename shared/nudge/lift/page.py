"""``nudge report lift --html FILE``: one self-contained page (inline SVG and CSS, no script,
nothing fetched) with, per trigger and campaign, a bar chart of the conversion rate of treated
vs control customers with 95% Wilson interval whiskers, and a chart of cumulative incremental
revenue over time; then the same numbers as the terminal report."""

from __future__ import annotations

from html import escape
from typing import Any

from nudge.core.stats import wilson
from nudge.lift.render import funnel_text, row_lines, title

W, H = 360, 220  # one rate chart
PAD_L, PAD_B, PAD_T = 48, 28, 24
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def rate_chart(row: dict[str, Any], css: str = "rate-chart") -> str:
    """The conversion rate of both groups as bars, each with its 95% Wilson interval
    (``css``: ``rate-chart`` for a trigger or campaign, ``program-chart`` for the program)."""
    arms = []
    for name, colour in (("treated", "#1f77b4"), ("control", "#9a9a9a")):
        arm = row[name]
        iv = wilson(arm["converters"], arm["customers"])
        arms.append((name, colour, arm, iv))
    top = max([0.05, *(iv.high for *_, iv in arms)]) * 1.1
    inner_h = H - PAD_B - PAD_T
    y = lambda v: PAD_T + inner_h * (1 - v / top)  # noqa: E731
    out = [
        f'<svg class="{css}" data-trigger="{escape(str(row.get("id") or ""))}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" role="img">',
        f"<title>Conversion rate, treated vs control: {escape(title(row))}</title>",
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" stroke="#333"/>',
        f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - 10}" y2="{H - PAD_B}" stroke="#333"/>',
    ]
    for k in range(5):
        v = top * k / 4
        out.append(
            f'<text x="{PAD_L - 4}" y="{_fmt(y(v) + 4)}" text-anchor="end" '
            f'font-size="10">{100 * v:.1f}%</text>'
        )
    slot = (W - PAD_L - 10) / 2
    for i, (name, colour, arm, iv) in enumerate(arms):
        x = PAD_L + slot * i + slot * 0.25
        bw = slot * 0.5
        cx = x + bw / 2
        if arm["customers"]:
            out.append(
                f'<rect class="bar {name}" x="{_fmt(x)}" y="{_fmt(y(iv.estimate))}" '
                f'width="{_fmt(bw)}" height="{_fmt(y(0) - y(iv.estimate))}" fill="{colour}"/>'
            )
            out.append(
                f'<path class="whisker" d="M{_fmt(cx)} {_fmt(y(iv.low))}V{_fmt(y(iv.high))}'
                f"M{_fmt(cx - 8)} {_fmt(y(iv.low))}H{_fmt(cx + 8)}"
                f'M{_fmt(cx - 8)} {_fmt(y(iv.high))}H{_fmt(cx + 8)}" stroke="#000" '
                'stroke-width="1.5" fill="none"/>'
            )
            label = (
                f"{100 * iv.estimate:.1f}% ({arm['converters']}/{arm['customers']}) "
                f"[{100 * iv.low:.1f}, {100 * iv.high:.1f}]"
            )
        else:
            label = "no customers"
        out.append(
            f'<text x="{_fmt(cx)}" y="{H - PAD_B + 14}" text-anchor="middle" '
            f'font-size="11">{name}</text>'
        )
        out.append(
            f'<text x="{_fmt(cx)}" y="{PAD_T - 8}" text-anchor="middle" '
            f'font-size="10">{escape(label)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def revenue_chart(series: list[tuple[str, list[dict[str, Any]]]]) -> str:
    """Cumulative incremental revenue by day of first exposure, one line per trigger (and the
    program), from the report's ``over_time``."""
    width, height, pad_l, pad_b, pad_t = 720, 280, 72, 40, 16
    points = [
        (name, [(p["day"], p["cumulative"]) for p in pts if p["cumulative"] is not None])
        for name, pts in series
    ]
    days = sorted({d for _, pts in points for d, _ in pts})
    values = [v for _, pts in points for _, v in pts] or [0.0]
    low, high = min(0.0, *values), max(0.0, *values)
    if high == low:
        high = low + 1
    inner_w, inner_h = width - pad_l - 16, height - pad_b - pad_t
    x_of = {d: pad_l + (inner_w * i / max(1, len(days) - 1)) for i, d in enumerate(days)}
    y = lambda v: pad_t + inner_h * (high - v) / (high - low)  # noqa: E731
    out = [
        f'<svg class="revenue-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">',
        "<title>Cumulative incremental revenue over time</title>",
        f'<line x1="{pad_l}" y1="{_fmt(y(0))}" x2="{width - 16}" y2="{_fmt(y(0))}" stroke="#333"/>',
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{height - pad_b}" stroke="#333"/>',
    ]
    for k in range(5):
        v = low + (high - low) * k / 4
        out.append(
            f'<text x="{pad_l - 4}" y="{_fmt(y(v) + 4)}" text-anchor="end" '
            f'font-size="10">{v:,.0f}</text>'
        )
    step = max(1, len(days) // 8)
    for d in days[::step]:
        out.append(
            f'<text x="{_fmt(x_of[d])}" y="{height - pad_b + 14}" text-anchor="middle" '
            f'font-size="10">{escape(d[5:])}</text>'
        )
    for i, (name, pts) in enumerate(points):
        if not pts:
            continue
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(
            f"{'M' if k == 0 else 'L'}{_fmt(x_of[d])} {_fmt(y(v))}" for k, (d, v) in enumerate(pts)
        )
        out.append(
            f'<path class="series" data-name="{escape(name)}" d="{path}" stroke="{colour}" '
            'stroke-width="2" fill="none"/>'
        )
        out.append(
            f'<text x="{pad_l + 8}" y="{pad_t + 12 + 13 * i}" font-size="11" '
            f'fill="{colour}">{escape(name)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;max-width:1100px;
color:#222}
section{border-top:1px solid #ddd;padding-top:1rem;margin-top:1rem}
pre{white-space:pre-wrap;font-size:12px;background:#f7f7f7;padding:.5rem}
.verdict{font-weight:600}
.under{color:#a15c00}
"""


def render_html(report: dict[str, Any]) -> str:
    """The whole page, as text."""
    rows = report["rows"]
    body = [
        "<h1>nudge: lift, treated vs control</h1>",
        f"<p>Period {escape(str(report.get('since') or 'start'))} .. "
        f"{escape(str(report.get('until') or 'now'))}; 95% intervals. Bars: conversion rate "
        "with its Wilson interval.</p>",
    ]
    if not rows:
        body.append("<p>No message was sent or held out in the period.</p>")
    for row in rows:
        css = "verdict under" if row["power"]["under_powered"] else "verdict"
        lines = row_lines(row)
        body.append(
            f'<section class="trigger" data-trigger="{escape(row["id"])}">'
            f"<h2>{escape(lines[0])}</h2>{rate_chart(row)}"
            f'<p class="{css}">{escape(lines[-1].strip())}</p>'
            f"<pre>{escape(chr(10).join(lines[1:-1]))}</pre></section>"
        )
    series = [(title(r), r["over_time"]) for r in rows]
    if report.get("trigger") is None:
        program = {"id": None, **report["program"]}
        lines = row_lines(program)
        css = "verdict under" if program["power"]["under_powered"] else "verdict"
        body.append(
            f'<section class="program"><h2>{escape(lines[0])}</h2>'
            f"{rate_chart(program, 'program-chart')}"
            f'<p class="{css}">{escape(lines[-1].strip())}</p>'
            f"<pre>{escape(chr(10).join(lines[1:-1]))}</pre></section>"
        )
        series.append(("whole program", report["program"]["over_time"]))
    body.append(
        "<section><h2>Incremental revenue over time (cumulative, by day of first message)</h2>"
        f"{revenue_chart(series)}</section>"
    )
    if report["funnel"]:
        text = "\n".join(funnel_text(tid, row) for tid, row in report["funnel"].items())
        body.append(f"<section><h2>Funnel</h2><pre>{escape(text)}</pre></section>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>nudge lift report</title>"
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
