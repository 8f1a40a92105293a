"""What every item family of the table shares: the table name, the key and attribute-value
helpers, the TTL clock, and the failures a conditional write reports to its caller.

Owns no items. Keys are ``pk`` (partition) and ``sk`` (sort), both strings; a customer's items
live in partition ``C#<customer>``. ``ttl`` (epoch seconds) is the table's TTL attribute.
"""

from __future__ import annotations

from typing import Any

from nudge.core.clock import now
from nudge.env import get_env


class VersionConflict(Exception):
    """Someone else wrote the profile since we read it; read again and retry."""


class Gone(Exception):
    """The item is no longer there (the customer was erased)."""


class AlreadyExists(Exception):
    """A conditional put found the item already there."""


class Erased(Exception):
    """The customer was erased since we read the profile; read again to see the tombstone."""


def _pk(customer_id: str) -> str:
    return f"C#{customer_id}"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int | float) -> dict[str, str]:
    return {"N": str(value)}


def table() -> str:
    """Table name from the environment."""
    return get_env().table


def _ttl(days: int) -> dict[str, str]:
    return _n(int(now().timestamp()) + days * 86400)


def item_size(item: dict[str, Any]) -> int:
    """An item's size in bytes as DynamoDB counts it (for capacity units and the 400 KB limit):
    each attribute's name plus its value (strings and binary by length, a number about one
    byte per two significant digits plus one, booleans and nulls one byte)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode("utf-8", "surrogatepass"))
    if kind == "B":
        return len(raw)
    if kind == "N":
        digits = str(raw).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("L", "M"):
        inner = raw if kind == "L" else raw.values()
        keys = 0 if kind == "L" else sum(len(k.encode()) for k in raw)
        return 3 + keys + sum(1 + _value_size(v) for v in inner)
    return sum(len(str(v).encode()) for v in raw)  # sets
