"""Shop-sized days for the simulator: a small day (the sample day, say) copied into a bigger
shop's, for benchmarks and scale tests.

Copy ``k`` of the template is the same storefront day lived by other customers: customer, event,
order, cart and wishlist ids and email addresses get a ``~k`` / ``+k`` suffix, so every copy is
its own people with their own orders, and its times move by ``k`` seconds (modulo a minute) so
the copies interleave instead of arriving in lockstep. The day keeps its shape (the same
triggers fire, for the same reasons) while its volume grows: what a shop with ``k`` times the
customers would send nudge on that day.
"""

from __future__ import annotations

import copy
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
