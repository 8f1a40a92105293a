"""Lookup items that find a customer from what a partner message names.

- ``ORDER#<order_id>`` / ``ORDER`` (``kind`` = ``order_index``): ``order_id`` and the
  ``customer_id`` who placed it (a Shopify refund names only the order); written in the same
  transaction as the profile change of its ``order_placed``. ``ttl``: two years
  (``ORDER_INDEX_TTL_DAYS``).
- ``PHONE#<number>`` / ``PHONE`` (``kind`` = ``phone_index``): the ``customer_id`` we texted at
  that number, so an SMS STOP reply finds its customer. No TTL; deleted when the customer is
  erased.
"""

from __future__ import annotations

from typing import Any

from nudge.aws.clients import client
from nudge.aws.store._table import _s, _ttl, table
from nudge.aws.store.profiles import not_erased_check

ORDER_INDEX_TTL_DAYS = 730  # a refund later than two years after its order goes to the DLQ


def _order_key(order_id: str) -> dict[str, Any]:
    return {"pk": _s(f"ORDER#{order_id}"), "sk": _s("ORDER")}


def order_owner(order_id: str) -> str | None:
    """The customer who placed ``order_id``, if nudge has seen the order (else None)."""
    item = (
        client("dynamodb")
        .get_item(TableName=table(), Key=_order_key(order_id), ConsistentRead=True)
        .get("Item")
    )
    return item["customer_id"]["S"] if item else None


def order_index_put(order_id: str, customer_id: str) -> dict[str, Any]:
    """A transaction entry recording who placed ``order_id`` (for ``commit``'s ``extra``)."""
    item = {
        **_order_key(order_id),
        "kind": _s("order_index"),
        "order_id": _s(order_id),
        "customer_id": _s(customer_id),
        "ttl": _ttl(ORDER_INDEX_TTL_DAYS),
    }
    return {"Put": {"TableName": table(), "Item": item}}


def order_index_keys(order_ids: list[str]) -> list[dict[str, Any]]:
    """Keys of the order index items of these orders."""
    return [_order_key(order_id) for order_id in dict.fromkeys(order_ids)]


def remember_phone(phone: str, customer_id: str) -> None:
    """Index a number we texted, so an SMS STOP reply finds its customer; not if the customer
    was erased meanwhile (the index would be personal data left behind)."""
    ddb = client("dynamodb")
    item = {
        "pk": _s(f"PHONE#{phone}"),
        "sk": _s("PHONE"),
        "kind": _s("phone_index"),
        "customer_id": _s(customer_id),
    }
    try:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table(), "Item": item}},
                not_erased_check(customer_id),
            ]
        )
    except ddb.exceptions.TransactionCanceledException as exc:
        codes = {r.get("Code") for r in exc.response.get("CancellationReasons") or []}
        if "ConditionalCheckFailed" not in codes:
            raise


def customer_for_phone(phone: str) -> str | None:
    """The customer we texted at this number, if any."""
    item = (
        client("dynamodb")
        .get_item(TableName=table(), Key={"pk": _s(f"PHONE#{phone}"), "sk": _s("PHONE")})
        .get("Item")
    )
    return item["customer_id"]["S"] if item else None


def phone_index_keys(phones: list[str]) -> list[dict[str, Any]]:
    """Keys of the phone index items (``PHONE#<number>``) of these numbers."""
    return [{"pk": _s(f"PHONE#{phone}"), "sk": _s("PHONE")} for phone in dict.fromkeys(phones)]
