"""Shop-sized days for the simulator: a small day (the sample day, say) copied into a bigger
shop's, for benchmarks and scale tests.

Copy ``k`` of the template is the same storefront day lived by other customers: customer, event,
order, cart and wishlist ids and email addresses get a ``~k`` / ``+k`` suffix, so every copy is
its own people with their own orders, and its times move by ``k`` seconds (modulo a minute) so
the copies interleave instead of arriving in lockstep. The day keeps its shape (the same
triggers fire, for the same reasons) while its volume grows: what a shop with ``k`` times the
customers would send nudge on that day.

``lift_shop`` is the other kind: a shop whose true effect is known. Each trigger's customers are
split into control and treated at the configured share, convert at a known rate (the baseline,
plus the uplift when treated) with orders of a known mean value (plus its uplift when treated),
and the result is the decision log and the conversions ``nudge report lift`` reads, so the
report's intervals can be checked against the truth over many seeded shops.
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from nudge.core.clock import iso, parse_time

_ID_FIELDS = ("customer_id", "event_id")
_PROPERTY_IDS = ("order_id", "cart_id", "wishlist_id", "checkout_url")


def synthetic_day(template: list[dict[str, Any]], events: int) -> list[dict[str, Any]]:
    """``events`` storefront events (EventBridge envelopes): copies of ``template`` for ever
    new customers, in time order (the last copy cut short to make the count)."""
    if not template:
        raise ValueError("the template day has no events")
    out: list[dict[str, Any]] = []
    k = 0
    while len(out) < events:
        for envelope in template:
            if len(out) == events:
                break
            out.append(_copy(envelope, k))
        k += 1
    out.sort(key=lambda e: e.get("time") or "")
    return out


def _copy(envelope: dict[str, Any], k: int) -> dict[str, Any]:
    env = copy.deepcopy(envelope)
    if k == 0:
        return env
    tag = f"~{k}"
    if env.get("id"):
        env["id"] = f"{env['id']}{tag}"
    if env.get("time"):
        env["time"] = iso(parse_time(env["time"]) + timedelta(seconds=k % 60))
    detail = env.get("detail")
    if not isinstance(detail, dict):
        return env
    for key in _ID_FIELDS:
        if isinstance(detail.get(key), str):
            detail[key] += tag
    traits = detail.get("traits")
    if isinstance(traits, dict) and isinstance(traits.get("email"), str) and "@" in traits["email"]:
        local, domain = traits["email"].rsplit("@", 1)
        traits["email"] = f"{local}+{k}@{domain}"
    props = detail.get("properties")
    if isinstance(props, dict):
        for key in _PROPERTY_IDS:
            if isinstance(props.get(key), str):
                props[key] += tag
    return env


@dataclass(frozen=True)
class TrueLift:
    """A trigger's true effect: ``baseline`` conversion rate of its control customers,
    ``uplift`` added to it for treated customers, mean order ``value`` (log-normal, ``sigma``)
    and ``value_uplift`` added to it for treated customers, ``holdout`` percent in control, and
    ``repeat``: the chance a converter orders a second time within the window."""

    trigger: str
    baseline: float
    uplift: float
    value: float = 80.0
    value_uplift: float = 0.0
    holdout: float = 10.0
    sigma: float = 0.6
    repeat: float = 0.2

    @property
    def rate_difference(self) -> float:
        """The true difference in conversion rate, treated minus control."""
        return self.uplift

    @property
    def revenue_difference(self) -> float:
        """The true difference in revenue per customer, treated minus control."""
        orders = 1 + self.repeat
        treated = (self.baseline + self.uplift) * orders * (self.value + self.value_uplift)
        return treated - self.baseline * orders * self.value


def lift_shop(
    truths: list[TrueLift],
    customers: int,
    seed: int,
    start: str = "2027-02-01T00:00:00Z",
    days: int = 7,
    window_hours: float = 120.0,
    global_holdout: float = 0.0,
) -> dict[str, Any]:
    """A seeded shop of ``customers`` per trigger, each reaching its send point once in ``days``
    from ``start``: ``decisions`` (``sent``, or ``held_out`` by the trigger's or the global
    control group) and ``conversions`` credited to them within ``window_hours``, with
    ``holdout``, ``attribution`` and ``funnel`` ids, in the shape of a ``nudge simulate`` output file."""
    rng = random.Random(seed)
    t0 = parse_time(start)
    decisions: list[dict[str, Any]] = []
    conversions: list[dict[str, Any]] = []
    for truth in truths:
        mu = math.log(truth.value) - truth.sigma**2 / 2
        mu_t = math.log(truth.value + truth.value_uplift) - truth.sigma**2 / 2
        for k in range(customers):
            cid = f"{truth.trigger}-c{k}"
            at = t0 + timedelta(seconds=int(rng.uniform(0, days * 86400)))
            mid = f"m-{cid}"
            if global_holdout and rng.random() * 100 < global_holdout:
                outcome, reason = "held_out", "global"
            elif rng.random() * 100 < truth.holdout:
                outcome, reason = "held_out", "trigger"
            else:
                outcome, reason = "sent", None
            treated = outcome == "sent"
            decisions.append(
                {
                    "customer_id": cid,
                    "trigger": truth.trigger,
                    "at": iso(at),
                    "outcome": outcome,
                    "reason": reason,
                    "event_id": f"e-{cid}",
                    "event_type": "cart_updated",
                    "channel": "email",
                    "message_id": mid,
                    "detail": {},
                }
            )
            rate = truth.baseline + (truth.uplift if treated else 0.0)
            if rng.random() >= rate:
                continue
            orders = 2 if rng.random() < truth.repeat else 1
            for n in range(orders):
                placed = at + timedelta(hours=rng.uniform(0, window_hours))
                value = rng.lognormvariate(mu_t if treated else mu, truth.sigma)
                conversions.append(
                    {
                        "customer_id": cid,
                        "trigger": truth.trigger,
                        "at": iso(placed),
                        "outcome": "converted",
                        "reason": None,
                        "event_id": f"o-{cid}-{n}",
                        "event_type": "order_placed",
                        "channel": "email",
                        "message_id": mid,
                        "detail": {
                            "model": "last_touch",
                            "touch": outcome,
                            "touched_at": iso(at),
                            "value": f"{value:.2f}",
                            "order_id": f"o-{cid}-{n}",
                        },
                    }
                )
    decisions.sort(key=lambda d: d["at"])
    conversions.sort(key=lambda d: d["at"])
    return {
        "decisions": decisions,
        "conversions": conversions,
        "holdout": {
            "global": global_holdout,
            "triggers": {t.trigger: t.holdout for t in truths},
        },
        "attribution": {
            "event": "order_placed",
            "window": f"{window_hours:g}h",
            "model": "last_touch",
        },
        "funnel": {
            t.trigger: {"kind": "trigger", "event": "cart_updated", "enabled": True} for t in truths
        },
    }
