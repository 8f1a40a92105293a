"""What every item family of the table shares: the table name, the key and attribute-value
helpers, the TTL clock, and the failures a conditional write reports to its caller.

Owns no items. Keys are ``pk`` (partition) and ``sk`` (sort), both strings; a customer's items
live in partition ``C#<customer>``. ``ttl`` (epoch seconds) is the table's TTL attribute.
"""

from __future__ import annotations

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
