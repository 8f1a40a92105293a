"""Attribution: which message (sent, or held out) an order is credited to.

The rule (docs/reference.md#attribution): an order (``settings.attribution.event``, by default
``order_placed``) placed within ``settings.attribution.window`` after a message the customer was
``sent``, or was ``held_out`` from, is attributed to one of them: the latest such message
(``model: last_touch``, the default) or the earliest (``model: first_touch``). Held-out messages
are touches too, exactly as if they had gone out, so treated and control customers are measured
the same way. An order at the very instant of the message counts; one later than the window
does not; an order with no touch in the window is not attributed at all.

Pure functions over plain data, so ingest (the profile's send ledger, already read for the
event: no extra read), ``nudge report lift`` and ``nudge backtest`` ("would they have ordered
anyway?") share one rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from nudge.core.clock import iso, parse_time
from nudge.core.decisions import Decision, stable_id
from nudge.core.events import Event

CONVERTED = "converted"  # the ``outcome`` of a conversion item in the decision log
TOUCH_STATES = ("sent", "held_out")  # ledger states that count as a touch
MODELS = ("last_touch", "first_touch")


@dataclass(frozen=True, slots=True)
class Touch:
    """A message a customer was sent or held out from: when (epoch seconds) and which."""

    message_id: str
    trigger: str
    at: float
    state: str  # "sent" or "held_out"
    channel: str | None = None


def touches_from_ledger(sends: Iterable[dict[str, Any]]) -> list[Touch]:
    """The touches in a profile's send ledger (``profile["sends"]``: entries with ``trigger``,
    ``channel``, ``ts``, ``mid`` and ``state``); queued or failed messages are not touches."""
    out = []
    for entry in sends:
        if entry.get("state") in TOUCH_STATES and entry.get("mid") and entry.get("trigger"):
            out.append(
                Touch(
                    message_id=str(entry["mid"]),
                    trigger=str(entry["trigger"]),
                    at=float(entry["ts"]),
                    state=str(entry["state"]),
                    channel=entry.get("channel"),
                )
            )
    return out


def touches_from_decisions(decisions: Iterable[dict[str, Any]]) -> list[Touch]:
    """The touches in a decision log (``sent`` and ``held_out`` decisions, as dicts)."""
    out = []
    for d in decisions:
        if d.get("outcome") in TOUCH_STATES and d.get("trigger"):
            at = parse_time(str(d["at"])).timestamp()
            mid = d.get("message_id") or stable_id(d["customer_id"], d["trigger"], d["at"])
            out.append(Touch(str(mid), str(d["trigger"]), at, d["outcome"], d.get("channel")))
    return out


def attribute(
    touches: Iterable[Touch], at: float, window: float, model: str = "last_touch"
) -> Touch | None:
    """The touch an order at ``at`` (epoch seconds) is credited to: among touches no later than
    the order and no more than ``window`` seconds before it, the latest (``last_touch``) or the
    earliest (``first_touch``); ties go to the smaller message id. None: not attributed."""
    if model not in MODELS:
        raise ValueError(f"attribution model {model!r}: expected one of {', '.join(MODELS)}")
    inside = [t for t in touches if t.at <= at and at - t.at <= window]
    if not inside:
        return None
    if model == "last_touch":
        return max(inside, key=lambda t: (t.at, _desc(t.message_id)))
    return min(inside, key=lambda t: (t.at, t.message_id))


def credit_orders(
    touches: Iterable[Touch],
    orders: Iterable[tuple[float, str]],
    window: float,
    model: str = "last_touch",
) -> dict[str, list[str]]:
    """Message id -> the orders credited to it, for many orders of one customer at once:
    ``orders`` are (epoch seconds, order id). What ``nudge backtest`` asks of held-out
    messages ("did they order anyway, within the window?") and the lift report of both groups.
    Messages credited with nothing are left out."""
    kept = list(touches)
    out: dict[str, list[str]] = {}
    for at, order_id in sorted(orders):
        touch = attribute(kept, at, window, model)
        if touch is not None:
            out.setdefault(touch.message_id, []).append(order_id)
    return out


def _desc(text: str) -> tuple[int, ...]:
    """Sorts strings in reverse, so ``max`` breaks ties to the smaller id too."""
    return tuple(-ord(c) for c in text)


def conversion(
    customer_id: str,
    touch: Touch,
    *,
    event_id: str,
    event_type: str,
    at: datetime,
    properties: dict[str, Any],
    model: str,
) -> Decision:
    """The conversion item's content: ``outcome`` ``converted``, the trigger and message the
    order is credited to, and in ``detail`` the order (``order_id``, ``value``, ``currency``),
    the ``model``, and the touch (``touch``: sent/held_out, ``touched_at``)."""
    value = properties.get("value")
    detail: dict[str, Any] = {
        "model": model,
        "touch": touch.state,
        "touched_at": _iso(touch.at),
        "value": str(value) if isinstance(value, Decimal | int | float) else value,
    }
    for key in ("order_id", "currency"):
        if properties.get(key) is not None:
            detail[key] = properties[key]
    return Decision(
        customer_id=customer_id,
        trigger=touch.trigger,
        at=_iso(at.timestamp()),
        outcome=CONVERTED,
        event_id=event_id,
        event_type=event_type,
        channel=touch.channel,
        message_id=touch.message_id,
        detail=detail,
    )


def _iso(ts: float) -> str:
    return iso(datetime.fromtimestamp(ts, UTC))


def order_conversion(
    profile: dict[str, Any], event: Event, window: float, model: str = "last_touch"
) -> Decision | None:
    """The conversion an attribution event (an order) makes, from the touches in the profile's
    send ledger as read for the event (so ingest stores it in the same write: no extra read);
    None when no message touched the customer within ``window`` seconds before it."""
    touch = attribute(touches_from_ledger(profile.get("sends") or ()), event.ts, window, model)
    if touch is None:
        return None
    return conversion(
        profile["customer_id"],
        touch,
        event_id=event.id,
        event_type=event.type,
        at=event.time,
        properties=event.properties,
        model=model,
    )
