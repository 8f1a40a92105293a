"""What every partner adapter shares: money, ids, times and the native envelope they build.

Stdlib only (plus ``MalformedEvent``): this runs on the event path for every partner event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from nudge.core.clock import parse_time
from nudge.core.events import MalformedEvent

Envelope = dict[str, Any]
Money = float | Decimal


class Skipped(Exception):
    """A well-formed partner event that nudge deliberately maps to nothing (with why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def to_decimal(value: Any, what: str) -> Decimal:
    """Read a money amount exactly: ``"310.00"``, ``310``, ``19.99`` (a JSON float) or a Decimal.

    Floats go through their shortest repr, so ``0.1`` is ``Decimal("0.1")``, never the binary
    approximation. Anything else is a ``MalformedEvent`` naming ``what``.
    """
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, bool):
        raise MalformedEvent(f"{what}: {value!r} is not an amount")
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        d = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise MalformedEvent(f"{what}: {value!r} is not a decimal amount") from None
    else:
        raise MalformedEvent(f"{what}: {value!r} is not an amount")
    if not d.is_finite():
        raise MalformedEvent(f"{what}: {value!r} is not a finite amount")
    return d


def json_number(amount: Decimal) -> Money:
    """The amount as a JSON-ready number that is still exactly ``amount``.

    A float is returned when its shortest repr equals the decimal (true for every realistic price:
    up to 15 significant digits), so ``json.dumps`` writes ``310.0`` / ``0.3``. Otherwise the
    Decimal itself is kept rather than silently rounding.
    """
    f = float(amount)
    return f if Decimal(repr(f)) == amount else amount


def money(value: Any, what: str) -> Money:
    """``to_decimal`` then ``json_number``."""
    return json_number(to_decimal(value, what))


def quantity(value: Any, what: str) -> int:
    """A line quantity: missing means 1; ``2``, ``2.0`` and ``"2"`` are 2; ``1.5`` is malformed."""
    if value is None:
        return 1
    d = to_decimal(value, what)
    if d != d.to_integral_value():
        raise MalformedEvent(f"{what}: {value!r} is not a whole quantity")
    return int(d)


def ident(value: Any) -> str | None:
    """An id as a string, exactly: 64-bit ints stay exact (``json`` never made them floats)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def iso_z(dt: datetime) -> str:
    """``2027-02-10T21:30:00Z``, keeping sub-seconds when there are any (``...:55.040Z``).

    Sub-seconds matter: a cart update and the order that follows it can share a second.
    """
    dt = dt.astimezone(UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond % 1000:
        text += f".{dt.microsecond:06d}"
    elif dt.microsecond:
        text += f".{dt.microsecond // 1000:03d}"
    return text + "Z"


def first_time(*candidates: Any) -> str | None:
    """The first candidate that is ISO 8601 with an offset, normalised to UTC ``Z``."""
    for value in candidates:
        if not isinstance(value, str) or not value:
            continue
        try:
            return iso_z(parse_time(value))
        except (ValueError, TypeError):
            continue
    return None


def native(
    partner: Envelope,
    detail_type: str,
    *,
    customer_id: str,
    event_id: str | None,
    time: str | None,
    properties: dict[str, Any] | None = None,
    traits: dict[str, Any] | None = None,
    consent: dict[str, bool] | None = None,
    aliases: list[str] | None = None,
) -> Envelope:
    """A native envelope (docs/reference.md#events) standing for the partner envelope it came from.

    ``source``, ``account`` and ``region`` are the partner's; ``time`` falls back to the partner
    envelope's own; ``event_id`` falls back to the partner envelope id.
    """
    detail: dict[str, Any] = {
        "customer_id": customer_id,
        "event_id": event_id or partner.get("id"),
        "properties": properties or {},
        "traits": traits or {},
    }
    if consent:
        detail["consent"] = consent
    if aliases:
        detail["aliases"] = aliases
    return {
        "version": "0",
        "id": partner.get("id"),
        "source": partner.get("source"),
        "detail-type": detail_type,
        "time": time or partner.get("time"),
        "account": partner.get("account"),
        "region": partner.get("region"),
        "resources": [],
        "detail": detail,
    }


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    """The mapping without keys whose value is ``None`` (nudge omits unknowns)."""
    return {k: v for k, v in values.items() if v is not None}
