"""What ingest stores, and what it parks instead (docs/sources.md, "What ingest refuses").

Pure checks on a native event, before anything reaches a profile: money is a finite decimal,
never negative (a refund's sign is ignored), rounded to its currency's minor unit; quantities and
lists are bounded; ids are normalised; strings, nesting and the size of ``properties``/``traits``
are capped; times lie between 2000 and a little after now. A failure raises ``MalformedEvent``
naming the field and the limit, never the value (it may be personal data).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from nudge.core.clock import iso

MAX_STRING = 2048  # characters in any one string (a key or a value) of an event's detail
MAX_ID = 128  # characters in an id (customer, event, order, refund, cart, product)
MAX_DEPTH = 8  # nesting of objects and lists inside properties / traits
MAX_PROPERTIES_BYTES = 32_768  # properties as compact JSON
MAX_TRAITS_BYTES = 8_192  # traits as compact JSON, in one event and kept on a profile
MAX_ITEMS = 500  # line items in a cart or an order
MAX_QUANTITY = 10_000  # of one line item
MAX_AMOUNT = Decimal(10) ** 12  # one amount, in the currency's major unit
MAX_NUMBER = 2**64  # any other number in detail (64-bit ids still fit)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # events dated before this are parked
MAX_FUTURE_SECONDS = 3600.0  # default ``settings.ingest.max_future``: events dated later are parked


class MalformedEvent(ValueError):
    """An event that can never be processed; it goes to the DLQ with ``reason``
    (importable from ``nudge.core.events`` too)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ISO 4217 currencies whose minor unit is not the cent (every other code has 2 decimals)
_DECIMALS = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    "CLF": 4,
    "UYW": 4,
}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# line and paragraph separators break headers and logs like CR/LF; other format chars are invisible
_BAD_ID_CHARS = {"Cc", "Cf", "Zl", "Zp"}


def currency_decimals(currency: str | None) -> int:
    """Digits after the point in ``currency``'s amounts: JPY 0, KWD 3, most 2 (and unknown: 2)."""
    return _DECIMALS.get(currency or "", 2)


def normal_currency(value: Any) -> str | None:
    """An ISO 4217 code, upper-cased (``"usd"`` -> ``"USD"``); None stays None."""
    if value is None:
        return None
    if not isinstance(value, str) or not _CURRENCY.match(value.strip().upper()):
        raise ValueError("currency is not a three-letter ISO 4217 code")
    return value.strip().upper()


def exact_amount(value: Any) -> Decimal:
    """A JSON amount as an exact decimal (a float through its shortest repr, so ``0.1`` is
    ``Decimal("0.1")``); raises ``ValueError`` unless finite and at most ``MAX_AMOUNT``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("is not an amount")
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("is not a decimal amount") from None
    if not d.is_finite():
        raise ValueError("is not a finite amount")
    if abs(d) > MAX_AMOUNT:
        raise ValueError(f"is more than {MAX_AMOUNT:,} (the largest amount nudge keeps)")
    return d


def to_minor_unit(amount: Decimal, currency: str | None) -> Decimal:
    """``amount`` rounded (half to even) to ``currency``'s minor unit: cents, yen, fils."""
    return amount.quantize(Decimal(1).scaleb(-currency_decimals(currency)), ROUND_HALF_EVEN)


def money_number(amount: Decimal) -> float:
    """A rounded amount as the JSON number nudge stores (exact: at most 16 significant digits)."""
    return float(amount)


def normal_id(value: Any, what: str = "id") -> str:
    """An id as nudge keys on it: text (a whole number is written in digits), Unicode NFC,
    surrounding whitespace removed; raises ``ValueError`` when empty, longer than ``MAX_ID`` or
    holding control, format or line-separator characters."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} is missing")
    if isinstance(value, float) and value.is_integer() and abs(value) < MAX_NUMBER:
        value = int(value)
    if not isinstance(value, str | int):
        raise ValueError(f"{what} is not text or a whole number")
    text = unicodedata.normalize("NFC", str(value)).strip()
    if not text:
        raise ValueError(f"{what} is empty")
    if len(text) > MAX_ID:
        raise ValueError(f"{what} is longer than {MAX_ID} characters")
    if any(unicodedata.category(ch) in _BAD_ID_CHARS for ch in text):
        raise ValueError(f"{what} holds control or line-separator characters")
    return text


def check_values(value: Any, path: str, depth: int = 0) -> None:
    """Every number in ``value`` finite and bounded, every string and key at most
    ``MAX_STRING`` characters, nesting at most ``MAX_DEPTH``; else ``MalformedEvent``."""
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise MalformedEvent(f"{path}: nested deeper than {MAX_DEPTH} levels")
        for key, item in value.items():
            if len(str(key)) > MAX_STRING:
                raise MalformedEvent(f"{path}: a key is longer than {MAX_STRING} characters")
            check_values(
                item, f"{path}.{key}" if len(str(key)) <= 64 else f"{path}.<key>", depth + 1
            )
    elif isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise MalformedEvent(f"{path}: nested deeper than {MAX_DEPTH} levels")
        for n, item in enumerate(value):
            check_values(item, f"{path}[{n}]", depth + 1)
    elif isinstance(value, str):
        if len(value) > MAX_STRING:
            raise MalformedEvent(
                f"{path}: {len(value)} characters; strings are at most {MAX_STRING}"
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise MalformedEvent(f"{path}: not a finite number")
        if abs(value) > MAX_NUMBER:
            raise MalformedEvent(f"{path}: more than 2^64")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        raise MalformedEvent(f"{path}: more than 2^64")


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON, as a profile stores it."""
    return len(json.dumps(value, separators=(",", ":"), default=str))


def check_size(value: Any, path: str, limit: int) -> None:
    """``value`` as compact JSON is at most ``limit`` bytes; else ``MalformedEvent``."""
    size = json_size(value)
    if size > limit:
        raise MalformedEvent(f"{path}: {size} bytes as JSON; at most {limit}")


def check_time(when: datetime, now: datetime, max_future: float, max_age: float | None) -> None:
    """An event time nudge accepts: from 2000 (and within ``max_age`` seconds of ``now`` when
    set) up to ``max_future`` seconds after ``now``; else ``MalformedEvent``."""
    if when < EARLIEST:
        raise MalformedEvent(f"time {iso(when)} is before {EARLIEST.year}")
    if when.timestamp() > now.timestamp() + max_future:
        raise MalformedEvent(
            f"time {iso(when)} is more than {max_future:g}s after now ({iso(now)}): "
            "settings.ingest.max_future"
        )
    if max_age is not None and when.timestamp() < now.timestamp() - max_age:
        raise MalformedEvent(
            f"time {iso(when)} is more than {max_age:g}s before now ({iso(now)}): "
            "settings.ingest.max_age"
        )


def content_key(source: str, detail_type: str, when: datetime, detail: dict[str, Any]) -> str:
    """The idempotency key of an event without ``detail.event_id``: a hash of its source,
    detail-type, time and detail, so a retried PutEvents (same content, new envelope id) is the
    same event (docs/sources.md, "Duplicates")."""
    text = json.dumps(
        [source, detail_type, when.isoformat(), detail],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return "content:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
