"""Catalog items: what nudge knows of each product, and who is watching it.

- ``PRODUCT#<product_id>`` / ``STATE`` (``kind`` = ``product_state``): ``doc`` (JSON: price,
  currency, inventory, per-location ``levels``, available, name, category, url, image_url,
  updated_at) and ``version`` (optimistic writes). No TTL.
- ``PRODUCT#<product_id>`` / ``W#<customer_id>`` (``kind`` = ``product_watch``): a customer who
  viewed (or wishlisted) the product: ``viewed_at``, the ``price`` they saw (absent if the event
  had none); written in the same transaction as the profile change of that event. ``ttl``: the
  end of ``settings.catalog.window``, so a watch and its personal data go by themselves.
- ``PRODUCT#<product_id>`` / ``TOGETHER`` (``kind`` = ``bought_together``): the products most
  often bought in the same order as this one, as the last daily recompute found them: ``doc``
  (JSON list of ``product_id``, ``name``, ``customers``, ``lift`` and, if the catalog knows them,
  ``price``, ``currency``, ``url``, ``image_url``, ``category``) and ``date`` (the run). ``ttl``:
  ``TOGETHER_TTL_DAYS`` after the run, so a product no run recommends from any more loses its
  list within a week (every run rewrites the lists it found). Aggregates of at least
  ``min_customers`` customers: no personal data.
- ``INVITEM#<inventory_item_id>`` / ``INVITEM`` (``kind`` = ``inventory_item``): the
  ``product_id`` of a Shopify inventory item (``inventory_levels/update`` names only the item).

A product's watchers are one partition: a catalog change reads them with a Query, page by page,
never a scan, and at most ``settings.catalog.max_fanout`` of them.
"""

from __future__ import annotations

import json
from typing import Any

from nudge.aws.clients import client
from nudge.aws.store._table import VersionConflict, _n, _s, _ttl, table
from nudge.core.clock import now

TOGETHER_TTL_DAYS = 7
_BATCH_GET = 100  # keys per BatchGetItem
_BATCH_WRITE = 25  # writes per BatchWriteItem


def _product_key(product_id: str) -> dict[str, Any]:
    return {"pk": _s(f"PRODUCT#{product_id}"), "sk": _s("STATE")}


def get_product(product_id: str) -> tuple[dict[str, Any] | None, int]:
    """The product's state and version (None and 0 if nudge never heard of it)."""
    item = (
        client("dynamodb")
        .get_item(TableName=table(), Key=_product_key(product_id), ConsistentRead=True)
        .get("Item")
    )
    if not item:
        return None, 0
    return json.loads(item["doc"]["S"]), int(item["version"]["N"])


def put_product(product_id: str, doc: dict[str, Any], version: int) -> None:
    """Write the product's state if it is still at ``version``; raise ``VersionConflict``."""
    ddb = client("dynamodb")
    condition = "attribute_not_exists(pk)" if version == 0 else "version = :v"
    values = {} if version == 0 else {":v": _n(version)}
    item = {
        **_product_key(product_id),
        "kind": _s("product_state"),
        "doc": _s(json.dumps(doc, separators=(",", ":"), sort_keys=True)),
        "version": _n(version + 1),
    }
    try:
        ddb.put_item(
            TableName=table(),
            Item=item,
            ConditionExpression=condition,
            **({"ExpressionAttributeValues": values} if values else {}),
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        raise VersionConflict(product_id) from None


def watch_put(
    product_id: str, customer_id: str, viewed_at: str, price: float | None, until: float
) -> dict[str, Any]:
    """A transaction entry recording that ``customer_id`` viewed ``product_id`` (for
    ``commit``'s ``extra``); it expires at ``until`` (epoch seconds)."""
    item: dict[str, Any] = {
        "pk": _s(f"PRODUCT#{product_id}"),
        "sk": _s(f"W#{customer_id}"),
        "kind": _s("product_watch"),
        "customer_id": _s(customer_id),
        "viewed_at": _s(viewed_at),
        "ttl": _n(int(until)),
    }
    if price is not None:
        item["price"] = _n(price)
    return {"Put": {"TableName": table(), "Item": item}}


def watch_keys(product_ids: list[str], customer_ids: list[str]) -> list[dict[str, Any]]:
    """Keys of the watch items these customers may hold on these products (erasure)."""
    return [
        {"pk": _s(f"PRODUCT#{product}"), "sk": _s(f"W#{customer}")}
        for product in dict.fromkeys(product_ids)
        for customer in dict.fromkeys(customer_ids)
    ]


def watchers(product_id: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` watchers of the product (``customer_id``, ``viewed_at``, ``price``), by
    a Query on its partition, page by page; expired ones may still be among them (DynamoDB's
    TTL deletes lazily: the caller checks ``viewed_at``)."""
    ddb = client("dynamodb")
    out: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while len(out) < limit:
        page = ddb.query(
            TableName=table(),
            KeyConditionExpression="pk = :pk AND begins_with(sk, :w)",
            ExpressionAttributeValues={":pk": _s(f"PRODUCT#{product_id}"), ":w": _s("W#")},
            Limit=min(1000, limit - len(out)),
            **({"ExclusiveStartKey": start} if start else {}),
        )
        for item in page.get("Items", []):
            out.append(
                {
                    "customer_id": item["customer_id"]["S"],
                    "viewed_at": item["viewed_at"]["S"],
                    "price": float(item["price"]["N"]) if "price" in item else None,
                }
            )
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    return out[:limit]


def inventory_item_put(inventory_item_id: str, product_id: str) -> None:
    """Remember which product a Shopify inventory item belongs to."""
    client("dynamodb").put_item(
        TableName=table(),
        Item={
            "pk": _s(f"INVITEM#{inventory_item_id}"),
            "sk": _s("INVITEM"),
            "kind": _s("inventory_item"),
            "product_id": _s(product_id),
        },
    )


def product_of_inventory_item(inventory_item_id: str) -> str | None:
    """The product of a Shopify inventory item, if a ``products/update`` named it."""
    item = (
        client("dynamodb")
        .get_item(
            TableName=table(),
            Key={"pk": _s(f"INVITEM#{inventory_item_id}"), "sk": _s("INVITEM")},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return item["product_id"]["S"] if item else None


def _batch_get(
    keys: list[dict[str, Any]], projection: str, names: dict[str, str]
) -> list[dict[str, Any]]:
    """The items of ``keys`` that exist (BatchGetItem, retrying unprocessed keys)."""
    ddb = client("dynamodb")
    out: list[dict[str, Any]] = []
    for start in range(0, len(keys), _BATCH_GET):
        request: dict[str, Any] = {
            table(): {
                "Keys": keys[start : start + _BATCH_GET],
                "ProjectionExpression": projection,
                "ExpressionAttributeNames": names,
            }
        }
        for _attempt in range(8):
            answer = ddb.batch_get_item(RequestItems=request)
            out += answer.get("Responses", {}).get(table(), [])
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise RuntimeError("DynamoDB kept keys unprocessed")
    return out


def products(product_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The known state of each of these products (those nudge never heard of are left out)."""
    keys = [_product_key(p) for p in dict.fromkeys(product_ids)]
    items = _batch_get(keys, "pk, #d", {"#d": "doc"})
    return {item["pk"]["S"][len("PRODUCT#") :]: json.loads(item["doc"]["S"]) for item in items}


def bought_together(product_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The stored companions of each of these products (one BatchGetItem for up to 100);
    lists past their ``ttl`` are left out (DynamoDB deletes expired items lazily)."""
    keys = [{"pk": _s(f"PRODUCT#{p}"), "sk": _s("TOGETHER")} for p in dict.fromkeys(product_ids)]
    if not keys:
        return {}
    moment = now().timestamp()
    return {
        item["pk"]["S"][len("PRODUCT#") :]: json.loads(item["doc"]["S"])
        for item in _batch_get(keys, "pk, #d, #t", {"#d": "doc", "#t": "ttl"})
        if "ttl" not in item or float(item["ttl"]["N"]) > moment
    }


def put_bought_together(lists: dict[str, list[dict[str, Any]]], date: str) -> int:
    """Write each product's companions (BatchWriteItem, 25 at a time); returns how many."""
    ddb = client("dynamodb")
    rows = [
        {
            "PutRequest": {
                "Item": {
                    "pk": _s(f"PRODUCT#{product}"),
                    "sk": _s("TOGETHER"),
                    "kind": _s("bought_together"),
                    "doc": _s(json.dumps(companions, separators=(",", ":"), sort_keys=True)),
                    "date": _s(date),
                    "ttl": _ttl(TOGETHER_TTL_DAYS),
                }
            }
        }
        for product, companions in sorted(lists.items())
    ]
    for start in range(0, len(rows), _BATCH_WRITE):
        pending: dict[str, Any] = {table(): rows[start : start + _BATCH_WRITE]}
        for _attempt in range(8):
            pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
        else:
            raise RuntimeError("DynamoDB kept items unprocessed")
    return len(rows)
