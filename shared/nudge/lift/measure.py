"""Treated vs control per trigger and campaign (and per split variant), and the whole program
against the global control group: the numbers of ``nudge report lift`` (docs/lift.md).

Who is in which group: a customer is *treated* by a trigger when a message of it was ``sent``
to them in the period, *control* when one was ``held_out`` from them by the trigger's own
control group (reason ``trigger``). Customers in the global control group (reason ``global``)
are the control of the program as a whole, whose treated group is everyone who reached a send
point outside it (sent, or held out by a trigger's control group). A customer's first exposure
in the period decides their group. Their orders are the conversions credited to those
messages (``nudge.core.attribution``): a converter has at least one.

Intervals (95%): Newcombe's hybrid Wilson interval for the difference in conversion rates
(``nudge.core.stats.newcombe``); Katz's log interval for the rate ratio (relative lift); a
seeded percentile bootstrap (2,000 resamples) for the difference in revenue per customer.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from scipy import stats as sps

from nudge.core.clock import iso, parse_time
from nudge.core.stats import Z95, Interval, newcombe

SCHEMA_VERSION = 1
RESAMPLES = 2000
SEED = 0
SRM_ALPHA = 0.001
MIN_CUSTOMERS = 30
MIN_CONVERTERS = 5
POWER = 0.8
Z_POWER = 0.8416212335729143  # the 80th percentile of the standard normal
RATE_METHOD = "newcombe hybrid wilson"
RELATIVE_METHOD = "katz log rate ratio"
REVENUE_METHOD = f"bootstrap percentile ({RESAMPLES} resamples, seed {SEED})"
LIFT = "lift"
NO_LIFT = "no detectable lift"
NO_CONTROL = "not measurable: no control group"
ENGAGEMENT_STEPS = (
    ("delivered", "email_delivered"),
    ("opened", "email_opened"),
    ("clicked", "email_clicked"),
)


@dataclass
class LiftInput:
    """What the report reads: the decision log and the conversions (as ``nudge simulate`` writes
    them, or as scanned from a deployed table), the configured control-group shares in percent
    (``holdout``: ``global`` and ``triggers`` by id), the triggers and campaigns (``targets``: id
    -> ``kind``, ``event``, ``enabled``, as ``nudge.sim.report.funnel`` takes), and engagement
    facts (``message_id`` -> event types: ``email_delivered``...) for the funnel."""

    decisions: list[dict[str, Any]]
    conversions: list[dict[str, Any]]
    holdout: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    engagement: dict[str, set[str]] = field(default_factory=dict)
    attribution: dict[str, Any] = field(default_factory=dict)
    now: str | None = None  # a simulation's "now": where its clock stopped


@dataclass
class _Group:
    customers: dict[str, str] = field(default_factory=dict)  # customer -> first exposure day
    messages: int = 0
    message_ids: set[str] = field(default_factory=set)


def _money(value: Any) -> float:
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return 0.0


def _in_period(at: str, since: str | None, until: str | None) -> bool:
    """``at`` in [since, until): all three are ISO times in UTC as nudge writes them
    (``2027-02-10T21:30:00Z``), which sort as text."""
    return (since is None or at >= since) and (until is None or at < until)


def _interval(iv: Interval | None, method: str | None = None) -> dict[str, Any] | None:
    if iv is None:
        return None
    out: dict[str, Any] = {"estimate": iv.estimate, "low": iv.low, "high": iv.high}
    if method:
        out["method"] = method
    return out


def _scale(iv: Interval | None, k: float) -> Interval | None:
    if iv is None:
        return None
    return Interval(iv.estimate * k, iv.low * k, iv.high * k)


def relative_lift(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Interval | None:
    """p1/p2 - 1 with Katz's log interval for the ratio; None when a group has no converter."""
    if min(x1, x2, n1, n2) <= 0:
        return None
    ratio = (x1 / n1) / (x2 / n2)
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    return Interval(
        ratio - 1, math.exp(math.log(ratio) - z * se) - 1, math.exp(math.log(ratio) + z * se) - 1
    )


def _boot_means(values: np.ndarray, n: int, rng: np.random.Generator, b: int) -> np.ndarray:
    """``b`` bootstrap means of ``n`` values of which only ``values`` are non-zero: exactly the
    ordinary bootstrap (each draw is non-zero with probability len(values)/n, then uniform among
    them), without drawing the zeros."""
    if n == 0:
        return np.zeros(b)
    if len(values) == 0:
        return np.zeros(b)
    picks = rng.binomial(n, len(values) / n, size=b)
    draws = values[rng.integers(0, len(values), size=int(picks.sum()))]
    ends = np.cumsum(picks)
    starts = ends - picks
    totals = np.concatenate(([0.0], np.cumsum(draws)))
    sums = totals[ends] - totals[starts]
    return np.asarray(sums / n)


def revenue_difference(
    treated: Iterable[float],
    n_treated: int,
    control: Iterable[float],
    n_control: int,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Interval | None:
    """Revenue per customer, treated minus control, with a percentile bootstrap interval.
    ``treated``/``control`` are the revenues of the customers who bought (the others had 0)."""
    if n_treated <= 0 or n_control <= 0:
        return None
    t = np.asarray([v for v in treated if v], dtype=float)
    c = np.asarray([v for v in control if v], dtype=float)
    estimate = float(t.sum() / n_treated - c.sum() / n_control)
    rng = np.random.default_rng(seed)
    diffs = _boot_means(t, n_treated, rng, resamples) - _boot_means(c, n_control, rng, resamples)
    low, high = np.quantile(diffs, [0.025, 0.975])
    return Interval(estimate, float(low), float(high))


def srm(n_treated: int, n_control: int, control_percent: float | None) -> dict[str, Any] | None:
    """Sample-ratio mismatch: a chi-square test of the group sizes against the configured
    control share (the exact binomial test when fewer than 5 are expected in a group);
    ``mismatch`` when p < 0.001. None when the share is unknown or 0/100."""
    total = n_treated + n_control
    if control_percent is None or not 0 < control_percent < 100 or total == 0:
        return None
    share = control_percent / 100
    expected = [total * (1 - share), total * share]
    chi2, p = sps.chisquare([n_treated, n_control], expected)
    method = "chi-square"
    if min(expected) < 5:  # too few for the chi-square approximation: the exact test
        p, method = sps.binomtest(n_control, total, share).pvalue, "exact binomial"
    return {
        "expected_control_share": share,
        "observed_control_share": n_control / total,
        "chi2": float(chi2),
        "p_value": float(p),
        "method": method,
        "mismatch": bool(p < SRM_ALPHA),
    }


def power(x_t: int, n_t: int, x_c: int, n_c: int, rate_interval: Interval | None) -> dict[str, Any]:
    """Whether the groups can tell anything: ``under_powered`` (with the reasons ``why``) when a
    group has fewer than 30 customers or 5 converters, or the interval spans zero; the minimum
    detectable effect (absolute, in conversion rate) at 95% confidence and 80% power at the
    current sizes (at the control's conversion rate, else the pooled one, else 50%: the widest);
    the customers needed in all to detect the observed lift at the current
    split, and how many more that is."""
    why = []
    for name, n, x in (("treated", n_t, x_t), ("control", n_c, x_c)):
        if n < MIN_CUSTOMERS:
            why.append(f"{name} has {n} customer(s), fewer than {MIN_CUSTOMERS}")
        if x < MIN_CONVERTERS:
            why.append(f"{name} has {x} converter(s), fewer than {MIN_CONVERTERS}")
    if rate_interval is not None and rate_interval.spans_zero():
        why.append("the interval for the rate difference spans zero")
    out: dict[str, Any] = {
        "under_powered": bool(why),
        "why": why,
        "mde": None,
        "mde_base_rate": None,
        "customers_needed": None,
        "more_customers_needed": None,
    }
    if n_t == 0 or n_c == 0:
        return out
    pooled = (x_t + x_c) / (n_t + n_c)
    base = x_c / n_c if x_c else pooled
    out["mde_base_rate"] = base if 0 < base < 1 else 0.5  # none seen yet: the widest variance
    rate = out["mde_base_rate"]
    out["mde"] = (Z95 + Z_POWER) * math.sqrt(rate * (1 - rate) * (1 / n_t + 1 / n_c))
    p_t, p_c = x_t / n_t, x_c / n_c
    diff = p_t - p_c
    if diff > 0:
        share = n_c / (n_t + n_c)
        var = p_t * (1 - p_t) / (1 - share) + p_c * (1 - p_c) / share
        needed = math.ceil((Z95 + Z_POWER) ** 2 * var / diff**2)
        out["customers_needed"] = needed
        out["more_customers_needed"] = max(0, needed - n_t - n_c)
    return out


def control_share_needed(customers: int, baseline: float, lift: float) -> float | None:
    """The smallest control-group share (0..0.5) at which ``customers`` reaching a trigger can
    detect an absolute ``lift`` in conversion rate over ``baseline`` (95% confidence, 80%
    power); None when even a 50/50 split cannot. From the minimum detectable effect
    (z_a + z_b) sqrt(p(1-p)(1/(N(1-h)) + 1/(Nh))) <= lift, i.e. h(1-h) >= 1/K with
    K = N lift^2 / ((z_a + z_b)^2 p(1-p))."""
    k = customers * lift**2 / ((Z95 + Z_POWER) ** 2 * baseline * (1 - baseline))
    if k < 4:
        return None
    return (1 - math.sqrt(1 - 4 / k)) / 2


def _arm(group: _Group, revenue: dict[str, float], orders: dict[str, int]) -> dict[str, Any]:
    buyers = [c for c in group.customers if orders.get(c)]
    n = len(group.customers)
    total = sum(revenue.get(c, 0.0) for c in group.customers)
    return {
        "customers": n,
        "converters": len(buyers),
        "conversion_rate": len(buyers) / n if n else None,
        "orders": sum(orders.get(c, 0) for c in group.customers),
        "revenue": round(total, 2),
        "revenue_per_customer": total / n if n else None,
        "messages": group.messages,
    }


def compare(
    treated: _Group,
    control: _Group,
    revenue: dict[str, float],
    orders: dict[str, int],
    control_percent: float | None,
) -> dict[str, Any]:
    """One row of the report: both arms, the lift with intervals, SRM, power and the verdict."""
    t = _arm(treated, revenue, orders)
    c = _arm(control, revenue, orders)
    n_t, n_c, x_t, x_c = t["customers"], c["customers"], t["converters"], c["converters"]
    rate = newcombe(x_t, n_t, x_c, n_c) if n_t and n_c else None
    rev = revenue_difference(
        (revenue.get(k, 0.0) for k in treated.customers),
        n_t,
        (revenue.get(k, 0.0) for k in control.customers),
        n_c,
    )
    inc_rev = _scale(rev, n_t)
    messages = treated.messages
    lift = {
        "rate_difference": _interval(rate, RATE_METHOD),
        "relative": _interval(relative_lift(x_t, n_t, x_c, n_c), RELATIVE_METHOD),
        "revenue_per_customer_difference": _interval(rev, REVENUE_METHOD),
        "incremental_conversions": _interval(_scale(rate, n_t)),
        "incremental_revenue": _interval(inc_rev),
        "revenue_per_message": t["revenue"] / messages if messages else None,
        "incremental_revenue_per_message": _interval(
            _scale(inc_rev, 1 / messages) if messages else None
        ),
    }
    if rate is None:
        verdict = NO_CONTROL if not n_c else "not measurable: no treated customers"
    elif rate.low > 0:
        verdict = LIFT
    else:
        verdict = NO_LIFT
    return {
        "treated": t,
        "control": c,
        "lift": lift,
        "srm": srm(n_t, n_c, control_percent),
        "power": power(x_t, n_t, x_c, n_c, rate),
        "verdict": verdict,
        "negative": bool(rate is not None and rate.high < 0),
    }


def _over_time(treated: _Group, control: _Group, revenue: dict[str, float]) -> list[dict[str, Any]]:
    """Incremental revenue by day of first exposure, cumulated: on the customers first exposed
    up to each day, (revenue per treated customer - revenue per control customer) x treated
    customers."""
    days = sorted(set(treated.customers.values()) | set(control.customers.values()))

    def running(group: _Group) -> list[tuple[int, float]]:
        per_day: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        for cid, day in group.customers.items():
            per_day[day][0] += 1
            per_day[day][1] += revenue.get(cid, 0.0)
        n, total, out = 0, 0.0, []
        for day in days:
            n += int(per_day[day][0]) if day in per_day else 0
            total += per_day[day][1] if day in per_day else 0.0
            out.append((n, total))
        return out

    out = []
    for day, (n_t, r_t), (n_c, r_c) in zip(days, running(treated), running(control), strict=True):
        inc = (r_t / n_t - r_c / n_c) * n_t if n_t and n_c else None
        out.append({"day": day, "treated": n_t, "control": n_c, "cumulative": inc})
    return out


def lift_report(
    data: LiftInput,
    since: str | None = None,
    until: str | None = None,
    only: str | None = None,
    with_funnel: bool = True,
) -> dict[str, Any]:
    """The ``nudge report lift --json`` document (docs/lift.md#json): one row per trigger and
    campaign (and per split variant where decisions carry ``variant``), then ``program`` (the
    whole program against the global control group); ``with_funnel=False`` leaves ``funnel``
    empty (the truth test measures thousands of shops)."""
    start = iso(parse_time(since)) if since else None
    end = iso(parse_time(until)) if until else None
    groups: dict[tuple[str, Any], dict[str, _Group]] = defaultdict(
        lambda: {"treated": _Group(), "control": _Group()}
    )
    program = {"treated": _Group(), "control": _Group()}
    exposure_of: dict[str, tuple[tuple[str, Any], str]] = {}  # message id -> (key, arm)
    program_ids: set[str] = set()
    seen: dict[tuple[str, Any, str], str] = {}  # (trigger, variant, customer) -> arm
    first_program: dict[str, str] = {}
    for d in sorted(data.decisions, key=lambda d: d["at"]):
        outcome, tid = d.get("outcome"), d.get("trigger")
        if outcome not in ("sent", "held_out") or not tid or not _in_period(d["at"], start, end):
            continue
        cid, mid, day = d["customer_id"], d.get("message_id") or "", d["at"][:10]
        reason = d.get("reason")
        arm = "treated" if outcome == "sent" else "control" if reason == "trigger" else None
        parm = "control" if reason == "global" else "treated"
        first_program.setdefault(cid, parm)
        if first_program[cid] == parm:
            pg = program[parm]
            pg.customers.setdefault(cid, day)
            pg.messages += outcome == "sent" or parm == "control"
            pg.message_ids.add(mid)
            program_ids.add(mid)
        if arm is None or (only and tid != only):
            continue
        key = (tid, d.get("variant", (d.get("detail") or {}).get("variant")))
        if seen.setdefault((*key, cid), arm) != arm:
            continue  # the first exposure decides the group
        g = groups[key][arm]
        g.customers.setdefault(cid, day)
        g.messages += 1
        g.message_ids.add(mid)
        exposure_of[mid] = (key, arm)
    revenue: dict[tuple[str, Any], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    orders: dict[tuple[str, Any], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    converted_messages: dict[tuple[str, Any], set[str]] = defaultdict(set)
    p_rev: dict[str, float] = defaultdict(float)
    p_orders: dict[str, int] = defaultdict(int)
    for conv in data.conversions:
        mid, cid = conv.get("message_id") or "", conv["customer_id"]
        value = _money((conv.get("detail") or {}).get("value"))
        if mid in exposure_of:
            key, _arm_name = exposure_of[mid]
            revenue[key][cid] += value
            orders[key][cid] += 1
            converted_messages[key].add(mid)
        if mid in program_ids:
            p_rev[cid] += value
            p_orders[cid] += 1
    shares = data.holdout.get("triggers") or {}
    rows = []
    for key in sorted(groups, key=lambda k: (k[0], str(k[1]))):
        tid, variant = key
        arms = groups[key]
        row = {
            "id": tid,
            "kind": (data.targets.get(tid) or {}).get("kind", "trigger"),
            "variant": variant,
            **compare(arms["treated"], arms["control"], revenue[key], orders[key], shares.get(tid)),
            "over_time": _over_time(arms["treated"], arms["control"], revenue[key]),
        }
        rows.append(row)
    prog = compare(
        program["treated"], program["control"], p_rev, p_orders, data.holdout.get("global")
    )
    prog["over_time"] = _over_time(program["treated"], program["control"], p_rev)
    return {
        "version": SCHEMA_VERSION,
        "since": since,
        "until": until,
        "trigger": only,
        "confidence": 0.95,
        "attribution": data.attribution,
        "methods": {
            "rate_difference": RATE_METHOD,
            "relative": RELATIVE_METHOD,
            "revenue_per_customer_difference": REVENUE_METHOD,
            "srm": f"chi-square against the configured control share, mismatch when p < {SRM_ALPHA}",
            "power": f"two-sided 5% test, {POWER:.0%} power",
        },
        "rows": rows,
        "program": prog,
        "funnel": funnels(data, start, end, only) if with_funnel else {},
    }


def funnels(
    data: LiftInput, start: str | None, end: str | None, only: str | None
) -> dict[str, dict[str, Any]]:
    """The funnel per trigger and campaign over the period: matched -> scheduled -> sent /
    held out / suppressed by reason / failed (``nudge.sim.report.funnel``), then of the
    messages sent: delivered -> opened -> clicked (engagement events about them) -> converted
    (an order credited to them)."""
    from nudge.sim.report import funnel

    decisions = [d for d in data.decisions if _in_period(d["at"], start, end)]
    rows = funnel(decisions, data.targets)
    credited = {c.get("message_id") for c in data.conversions}
    sent: dict[str, set[str]] = defaultdict(set)
    for d in decisions:
        if d["outcome"] == "sent" and d.get("trigger") and d.get("message_id"):
            sent[d["trigger"]].add(d["message_id"])
    out = {}
    for tid, row in rows.items():
        if only and tid != only:
            continue
        mids = sent.get(tid, set())
        for step, kind in ENGAGEMENT_STEPS:
            row[step] = sum(kind in data.engagement.get(m, ()) for m in mids)
        row["converted"] = len(mids & credited)
        out[tid] = row
    return out
