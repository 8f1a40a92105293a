"""DynamoDB and DynamoDB Streams in memory: the operations nudge calls, with DynamoDB's
behaviour (docs/simulation.md lists them).

Items are kept in DynamoDB's JSON (``{"S": ...}``, ``{"N": ...}``, ``{"B": ...}``), partition by
partition, so a Query costs the size of its partition and a write costs one item, however big
the table grows. Requests and answers are copied, as going over the wire would.
"""

from __future__ import annotations

import re
import zlib
from bisect import bisect_right
from collections.abc import Iterator
from functools import lru_cache
from itertools import count
from typing import Any

from nudge.core.clock import now
from nudge.sim.memory import expressions as ex
from nudge.sim.memory.errors import error, exceptions

Item = dict[str, dict[str, Any]]
_PLACEHOLDER = re.compile(r"[#:][A-Za-z0-9_]+")


@lru_cache(maxsize=1024)
def _placeholders(text: str) -> frozenset[str]:
    """The ``#name`` and ``:value`` placeholders of an expression (the same few texts repeat)."""
    return frozenset(_PLACEHOLDER.findall(text))


def _copy(item: Item) -> Item:
    """A copy of an item, as a round trip over the wire would give."""
    return {
        k: (v.copy() if len(v) == 1 and ("S" in v or "N" in v or "B" in v) else _deep(v))
        for k, v in item.items()
    }


def _deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep(v) for v in value]
    return value


def _item_size(item: Item) -> int:
    """About the item's size in bytes (names and string values; 8 for anything else)."""
    size = 0
    for name, value in item.items():
        raw = value.get("S")
        size += len(name) + (len(raw) if raw is not None else 8)
    return size


class Table:
    """One table: items by partition key then sort key, and its stream (NEW_IMAGE)."""

    def __init__(self, name: str, hash_key: str, range_key: str | None, arn: str) -> None:
        self.name = name
        self.hash_key = hash_key
        self.range_key = range_key
        self.arn = arn
        self.stream_arn = f"{arn}/stream/2027-01-01T00:00:00.000"
        self.partitions: dict[str, dict[str, Item]] = {}
        self.items = 0
        self.stream: list[dict[str, Any]] = []  # records not yet read (one shard, one reader)
        self.stream_start = 0  # sequence number of stream[0]
        self._sequence = count(1)
        self._scan_order: list[tuple[int, str, str]] | None = None
        # global secondary indexes: name -> (hash key, range key, projection type)
        self.indexes: dict[str, tuple[str, str | None, str]] = {}

    def key_of(self, item: Item) -> tuple[str, str]:
        """(partition, sort) of an item or key."""
        try:
            pk = item[self.hash_key]["S"]
            sk = item[self.range_key]["S"] if self.range_key else ""
        except KeyError:
            raise Invalid("One of the required keys was not given a value") from None
        return pk, sk

    def get(self, key: tuple[str, str]) -> Item | None:
        """The item at ``key`` (not a copy)."""
        part = self.partitions.get(key[0])
        return part.get(key[1]) if part else None

    def write(self, key: tuple[str, str], item: Item | None) -> None:
        """Store (or with None remove) the item at ``key`` and append its stream record."""
        part = self.partitions.setdefault(key[0], {})
        old = part.get(key[1])
        if item is None:
            if old is None:
                return
            del part[key[1]]
            if not part:
                del self.partitions[key[0]]
            self.items -= 1
            self._scan_order = None
            self._record("REMOVE", old, None)
            return
        part[key[1]] = item
        if old is None:
            self.items += 1
            self._scan_order = None
            self._record("INSERT", item, item)
        elif old != item:
            self._record("MODIFY", item, item)

    def _record(self, name: str, keyed: Item, image: Item | None) -> None:
        keys = {k: keyed[k] for k in (self.hash_key, self.range_key) if k and k in keyed}
        body: dict[str, Any] = {
            "ApproximateCreationDateTime": now(),
            "Keys": _copy(keys),
            "SequenceNumber": f"{next(self._sequence):021d}",
            "SizeBytes": _item_size(image or keyed),
            "StreamViewType": "NEW_IMAGE",
        }
        if image is not None:
            body["NewImage"] = _copy(image)
        self.stream.append(
            {
                "eventID": body["SequenceNumber"],
                "eventName": name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": body,
                "eventSourceARN": self.stream_arn,
            }
        )

    def scan_order(self) -> list[tuple[int, str, str]]:
        """Every key in a stable scan order: by segment hash, then key (cached until a key is
        added or removed)."""
        if self._scan_order is None:
            self._scan_order = sorted(
                (zlib.crc32(pk.encode()), pk, sk)
                for pk, part in self.partitions.items()
                for sk in part
            )
        return self._scan_order


class Invalid(Exception):
    """A request DynamoDB refuses with a ValidationException."""


class MemoryDynamoDB:
    """The DynamoDB client nudge uses, in memory. Every method takes and returns what boto3's
    does; failures raise the same botocore ``ClientError`` subclasses with the same codes."""

    def __init__(self, region: str, account: str) -> None:
        self.region = region
        self.account = account
        self.tables: dict[str, Table] = {}
        self.exceptions = exceptions("dynamodb")

    # -- helpers -------------------------------------------------------------------------------
    def _table(self, op: str, name: str) -> Table:
        table = self.tables.get(name)
        if table is None:
            raise error("dynamodb", op, "ResourceNotFoundException", "Requested resource not found")
        return table

    @staticmethod
    def _context(op: str, request: dict[str, Any], *texts: str | None) -> ex.Context:
        """The request's placeholders; refuses unused ones, as DynamoDB does."""
        names = request.get("ExpressionAttributeNames")
        values = request.get("ExpressionAttributeValues")
        used = frozenset().union(*(_placeholders(text) for text in texts if text))
        for label, given in (
            ("ExpressionAttributeNames", names),
            ("ExpressionAttributeValues", values),
        ):
            if not given or used.issuperset(given):
                continue
            unused = sorted(set(given) - used)
            if unused:
                raise error(
                    "dynamodb",
                    op,
                    "ValidationException",
                    f"Value provided in {label} unused in expressions: keys: "
                    "{" + ", ".join(unused) + "}",
                )
        return ex.Context(names, values)

    def _invalid(self, op: str, exc: Exception) -> Exception:
        return error("dynamodb", op, "ValidationException", str(exc))

    def _check(self, op: str, request: dict[str, Any], item: Item | None, ctx: ex.Context) -> bool:
        text = request.get("ConditionExpression")
        if not text:
            return True
        return ex.evaluate(ex.parse_condition(text), item or {}, ctx)

    @staticmethod
    def _conditional_failed(op: str) -> Exception:
        return error(
            "dynamodb", op, "ConditionalCheckFailedException", "The conditional request failed"
        )

    # -- tables --------------------------------------------------------------------------------
    def create_table(self, **request: Any) -> dict[str, Any]:
        """CreateTable: the key schema, the stream and the global secondary indexes (their key
        schema and projection; billing and capacity are not modelled)."""
        name = request["TableName"]
        if name in self.tables:
            raise error(
                "dynamodb", "CreateTable", "ResourceInUseException", f"Table already exists: {name}"
            )
        keys = {k["KeyType"]: k["AttributeName"] for k in request["KeySchema"]}
        arn = f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"
        table = Table(name, keys["HASH"], keys.get("RANGE"), arn)
        for gsi in request.get("GlobalSecondaryIndexes") or ():
            index_keys = {k["KeyType"]: k["AttributeName"] for k in gsi["KeySchema"]}
            projection = (gsi.get("Projection") or {}).get("ProjectionType", "ALL")
            table.indexes[gsi["IndexName"]] = (
                index_keys["HASH"],
                index_keys.get("RANGE"),
                projection,
            )
        self.tables[name] = table
        description: dict[str, Any] = {"TableName": name, "TableArn": arn, "TableStatus": "ACTIVE"}
        if (request.get("StreamSpecification") or {}).get("StreamEnabled"):
            description["LatestStreamArn"] = table.stream_arn
        return {"TableDescription": description}

    def describe_table(self, **request: Any) -> dict[str, Any]:
        """DescribeTable: ``ItemCount`` is exact here (DynamoDB refreshes it about every six
        hours)."""
        table = self._table("DescribeTable", request["TableName"])
        return {
            "Table": {
                "TableName": table.name,
                "TableArn": table.arn,
                "TableStatus": "ACTIVE",
                "ItemCount": table.items,
                "LatestStreamArn": table.stream_arn,
            }
        }

    # -- single-item operations ----------------------------------------------------------------
    def get_item(self, **request: Any) -> dict[str, Any]:
        """GetItem: the item at ``Key`` (every read is strongly consistent here), projected by
        ``ProjectionExpression``; no ``Item`` when there is none. TTL is not a filter: DynamoDB
        returns expired items until its background sweep deletes them."""
        table = self._table("GetItem", request["TableName"])
        try:
            ctx = self._context("GetItem", request, request.get("ProjectionExpression"))
            item = table.get(table.key_of(request["Key"]))
        except (ex.Invalid, Invalid) as exc:
            raise self._invalid("GetItem", exc) from None
        if item is None:
            return {}
        return {"Item": self._project(item, request.get("ProjectionExpression"), ctx)}

    def put_item(self, **request: Any) -> dict[str, Any]:
        """PutItem: replaces the whole item, if ``ConditionExpression`` holds on the item that is
        there (an absent item has no attributes); else ConditionalCheckFailedException."""
        op = "PutItem"
        table = self._table(op, request["TableName"])
        item = _copy(request["Item"])
        try:
            ctx = self._context(op, request, request.get("ConditionExpression"))
            key = table.key_of(item)
            ok = self._check(op, request, table.get(key), ctx)
        except (ex.Invalid, Invalid) as exc:
            raise self._invalid(op, exc) from None
        if not ok:
            raise self._conditional_failed(op)
        table.write(key, item)
        return {}

    def update_item(self, **request: Any) -> dict[str, Any]:
        """UpdateItem: applies ``UpdateExpression`` (creating the item if absent) if
        ``ConditionExpression`` holds; ``ReturnValues`` ``ALL_NEW``/``ALL_OLD``/``NONE``."""
        op = "UpdateItem"
        table = self._table(op, request["TableName"])
        try:
            ctx = self._context(
                op, request, request.get("UpdateExpression"), request.get("ConditionExpression")
            )
            key = table.key_of(request["Key"])
            old = table.get(key)
            ok = self._check(op, request, old, ctx)
            if not ok:
                raise self._conditional_failed(op)
            item = _copy(old) if old is not None else _copy(request["Key"])
            if request.get("UpdateExpression"):
                ex.apply_update(ex.parse_update(request["UpdateExpression"]), item, ctx)
        except (ex.Invalid, Invalid) as exc:
            raise self._invalid(op, exc) from None
        table.write(key, item)
        returns = request.get("ReturnValues", "NONE")
        if returns == "ALL_NEW":
            return {"Attributes": _copy(item)}
        if returns == "ALL_OLD" and old is not None:
            return {"Attributes": _copy(old)}
        return {}

    def delete_item(self, **request: Any) -> dict[str, Any]:
        """DeleteItem: removes the item at ``Key`` if ``ConditionExpression`` holds (deleting
        an absent item is not an error)."""
        op = "DeleteItem"
        table = self._table(op, request["TableName"])
        try:
            ctx = self._context(op, request, request.get("ConditionExpression"))
            key = table.key_of(request["Key"])
            ok = self._check(op, request, table.get(key), ctx)
        except (ex.Invalid, Invalid) as exc:
            raise self._invalid(op, exc) from None
        if not ok:
            raise self._conditional_failed(op)
        table.write(key, None)
        return {}

    # -- transactions and batches ---------------------------------------------------------------
    def transact_write_items(self, **request: Any) -> dict[str, Any]:
        """TransactWriteItems: every condition is checked first; if any fails nothing is written
        and TransactionCanceledException carries one ``CancellationReasons`` entry per action,
        in order (``ConditionalCheckFailed`` or ``None``), as botocore parses it. Two actions on
        one item, or more than 100 actions, are a ValidationException."""
        op = "TransactWriteItems"
        actions = request["TransactItems"]
        if not actions or len(actions) > 100:
            raise error(
                "dynamodb",
                op,
                "ValidationException",
                "Member must have length less than or equal to 100",
            )
        planned: list[tuple[Table, tuple[str, str], Item | bool | None]] = []
        reasons: list[dict[str, str]] = []
        seen: set[tuple[str, str, str]] = set()
        try:
            for action in actions:
                (kind, body), *_ = action.items()
                table = self._table(op, body["TableName"])
                key = table.key_of(body["Item"] if kind == "Put" else body["Key"])
                if (table.name, *key) in seen:
                    raise Invalid(
                        "Transaction request cannot include multiple operations on one item"
                    )
                seen.add((table.name, *key))
                ctx = self._context(
                    op, body, body.get("ConditionExpression"), body.get("UpdateExpression")
                )
                current = table.get(key)
                if not self._check(op, body, current, ctx):
                    reasons.append(
                        {
                            "Code": "ConditionalCheckFailed",
                            "Message": "The conditional request failed",
                        }
                    )
                    planned.append((table, key, True))
                    continue
                reasons.append({"Code": "None"})
                if kind == "Put":
                    planned.append((table, key, _copy(body["Item"])))
                elif kind == "Update":
                    item = _copy(current) if current is not None else _copy(body["Key"])
                    ex.apply_update(ex.parse_update(body["UpdateExpression"]), item, ctx)
                    planned.append((table, key, item))
                elif kind == "Delete":
                    planned.append((table, key, None))
                elif kind == "ConditionCheck":
                    planned.append((table, key, True))
                else:
                    raise Invalid(f"Unknown transaction action {kind}")
        except (ex.Invalid, Invalid) as exc:
            raise self._invalid(op, exc) from None
        if any(r["Code"] != "None" for r in reasons):
            codes = ", ".join(r["Code"] for r in reasons)
            raise error(
                "dynamodb",
                op,
                "TransactionCanceledException",
                f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                CancellationReasons=reasons,
            )
        for table, key, write in planned:
            if write is not True:
                table.write(key, write if isinstance(write, dict) else None)
        return {}

    def batch_write_item(self, **request: Any) -> dict[str, Any]:
        """BatchWriteItem: up to 25 puts and deletes, each on its own (no conditions); nothing
        is left unprocessed here (DynamoDB may return some under throttling)."""
        op = "BatchWriteItem"
        requests = request["RequestItems"]
        if sum(len(v) for v in requests.values()) > 25:
            raise error(
                "dynamodb",
                op,
                "ValidationException",
                "Too many items requested for the BatchWriteItem call",
            )
        for name, writes in requests.items():
            table = self._table(op, name)
            for write in writes:
                try:
                    if "PutRequest" in write:
                        item = _copy(write["PutRequest"]["Item"])
                        table.write(table.key_of(item), item)
                    else:
                        table.write(table.key_of(write["DeleteRequest"]["Key"]), None)
                except Invalid as exc:
                    raise self._invalid(op, exc) from None
        return {"UnprocessedItems": {}}

    def batch_get_item(self, **request: Any) -> dict[str, Any]:
        """BatchGetItem: up to 100 keys, each read on its own and projected by the table's
        ``ProjectionExpression``; the items found (in no particular order), no
        ``UnprocessedKeys`` here (DynamoDB may return some under throttling)."""
        op = "BatchGetItem"
        requests = request["RequestItems"]
        if sum(len(v.get("Keys") or ()) for v in requests.values()) > 100:
            raise error(
                "dynamodb",
                op,
                "ValidationException",
                "Too many items requested for the BatchGetItem call",
            )
        responses: dict[str, list[Item]] = {}
        for name, spec in requests.items():
            table = self._table(op, name)
            try:
                ctx = self._context(op, spec, spec.get("ProjectionExpression"))
                found = responses.setdefault(name, [])
                for key in spec["Keys"]:
                    item = table.get(table.key_of(key))
                    if item is not None:
                        found.append(self._project(item, spec.get("ProjectionExpression"), ctx))
            except (ex.Invalid, Invalid) as exc:
                raise self._invalid(op, exc) from None
        return {"Responses": responses, "UnprocessedKeys": {}}

    # -- reads of many items ---------------------------------------------------------------------
    def _project(self, item: Item, text: str | None, ctx: ex.Context) -> Item:
        if not text:
            return _copy(item)
        names = [ctx.name(n) for n in ex.parse_projection(text)]
        return _copy({n: item[n] for n in names if n in item})

    def _page(
        self,
        op: str,
        request: dict[str, Any],
        keyed: Iterator[tuple[tuple[str, str], Item]],
        ctx: ex.Context,
    ) -> dict[str, Any]:
        """One page: ``Limit`` items examined, then ``FilterExpression`` and projection."""
        limit = request.get("Limit")
        flt = request.get("FilterExpression")
        node = ex.parse_condition(flt) if flt else None
        table = self.tables[request["TableName"]]
        items: list[Item] = []
        scanned = 0
        last: tuple[str, str] | None = None
        more = False
        for key, item in keyed:
            if limit is not None and scanned >= limit:
                more = True
                break
            scanned += 1
            last = key
            if node is None or ex.evaluate(node, item, ctx):
                items.append(self._project(item, request.get("ProjectionExpression"), ctx))
        out: dict[str, Any] = {"Items": items, "Count": len(items), "ScannedCount": scanned}
        if more and last is not None:
            out["LastEvaluatedKey"] = {table.hash_key: {"S": last[0]}}
            if table.range_key:
                out["LastEvaluatedKey"][table.range_key] = {"S": last[1]}
        return out

    def query(self, **request: Any) -> dict[str, Any]:
        """Query: one partition (``pk = :v`` in ``KeyConditionExpression``, optionally with a
        sort-key ``=``, ``<``, ``BETWEEN`` or ``begins_with``), in sort-key order
        (``ScanIndexForward`` false reverses it), from ``ExclusiveStartKey``, ``Limit`` items
        examined, then ``FilterExpression``. No 1 MB page cap is modelled."""
        op = "Query"
        table = self._table(op, request["TableName"])
        text = request["KeyConditionExpression"]
        try:
            ctx = self._context(
                op,
                request,
                text,
                request.get("FilterExpression"),
                request.get("ProjectionExpression"),
            )
            node = ex.parse_condition(text)
            if request.get("IndexName"):
                return self._query_index(op, request, table, node, ctx)
            pk = ex.key_value(node, table.hash_key, ctx)
            if pk is None:
                raise Invalid("Query condition missed key schema element: " + table.hash_key)
            part = table.partitions.get(pk["S"], {})
            keys = sorted(part, reverse=request.get("ScanIndexForward") is False)
            start = request.get("ExclusiveStartKey")
            if start and table.range_key:
                after = start[table.range_key]["S"]
                keys = [
                    k
                    for k in keys
                    if (k < after if request.get("ScanIndexForward") is False else k > after)
                ]
            selected = ((k, part[k]) for k in keys if ex.evaluate(node, part[k], ctx))
            return self._page(op, request, (((pk["S"], k), i) for k, i in selected), ctx)
        except (ex.Invalid, Invalid) as exc:
            raise self._invalid(op, exc) from None

    def _query_index(
        self, op: str, request: dict[str, Any], table: Table, node: ex.Node, ctx: ex.Context
    ) -> dict[str, Any]:
        """Query on a global secondary index: the index is sparse (only items carrying both
        its key attributes are in it), items come in the index's sort-key order, and a
        ``KEYS_ONLY`` index returns the table's and the index's keys only. Eventually
        consistent in DynamoDB; read-after-write here (a later read sees at least as much).
        Found by walking the table: cost grows with it, as the sweeper's use (rare) allows."""
        found = table.indexes.get(request["IndexName"])
        if found is None:
            raise Invalid(f"The table does not have the specified index: {request['IndexName']}")
        hash_key, range_key, projection = found
        if ex.key_value(node, hash_key, ctx) is None:
            raise Invalid("Query condition missed key schema element: " + hash_key)
        kept = (hash_key, range_key, table.hash_key, table.range_key)
        hits = []
        for pk, part in table.partitions.items():
            for sk, item in part.items():
                if hash_key not in item or (range_key and range_key not in item):
                    continue
                if not ex.evaluate(node, item, ctx):
                    continue
                if projection == "KEYS_ONLY":
                    item = {k: v for k, v in item.items() if k in kept}
                order = next(iter(item[range_key].values())) if range_key else ""
                hits.append((order, (pk, sk), item))
        hits.sort(key=lambda hit: hit[0], reverse=request.get("ScanIndexForward") is False)
        return self._page(op, request, ((key, item) for _o, key, item in hits), ctx)

    def scan(self, **request: Any) -> dict[str, Any]:
        """Scan: every item in a stable order (``Segment`` of ``TotalSegments`` by partition-key
        hash, as a parallel scan splits the table), from ``ExclusiveStartKey``, ``Limit`` items
        examined, then ``FilterExpression`` and ``ProjectionExpression``."""
        op = "Scan"
        table = self._table(op, request["TableName"])
        try:
            ctx = self._context(
                op, request, request.get("FilterExpression"), request.get("ProjectionExpression")
            )
            order = table.scan_order()
            total = request.get("TotalSegments") or 1
            segment = request.get("Segment") or 0
            begin = 0
            start = request.get("ExclusiveStartKey")
            if start:
                pk = start[table.hash_key]["S"]
                sk = start[table.range_key]["S"] if table.range_key else ""
                begin = bisect_right(order, (zlib.crc32(pk.encode()), pk, sk))

            def walk() -> Iterator[tuple[tuple[str, str], Item]]:
                for position in range(begin, len(order)):
                    h, pk, sk = order[position]
                    if total > 1 and h % total != segment:
                        continue
                    item = table.get((pk, sk))
                    if item is not None:
                        yield (pk, sk), item

            return self._page(op, request, walk(), ctx)
        except (ex.Invalid, Invalid) as exc:
            raise self._invalid(op, exc) from None


class MemoryStreams:
    """DynamoDB Streams in memory: one shard per table stream, read by one consumer (the
    simulator), records in write order; what was read is dropped (a real stream keeps
    records 24 hours)."""

    def __init__(self, ddb: MemoryDynamoDB) -> None:
        self.ddb = ddb
        self.exceptions = exceptions("dynamodbstreams")

    def _table(self, arn: str) -> Table:
        for table in self.ddb.tables.values():
            if table.stream_arn == arn:
                return table
        raise error(
            "dynamodbstreams",
            "DescribeStream",
            "ResourceNotFoundException",
            f"Requested resource not found: Stream: {arn} not found",
        )

    def describe_stream(self, **request: Any) -> dict[str, Any]:
        """DescribeStream: one open shard."""
        table = self._table(request["StreamArn"])
        return {
            "StreamDescription": {
                "StreamArn": table.stream_arn,
                "StreamStatus": "ENABLED",
                "StreamViewType": "NEW_IMAGE",
                "Shards": [{"ShardId": "shardId-00000001"}],
            }
        }

    def get_shard_iterator(self, **request: Any) -> dict[str, Any]:
        """GetShardIterator: ``TRIM_HORIZON`` (the oldest record kept) or ``LATEST``."""
        table = self._table(request["StreamArn"])
        at = table.stream_start
        if request.get("ShardIteratorType") == "LATEST":
            at += len(table.stream)
        return {"ShardIterator": f"{table.stream_arn}|{at}"}

    def get_records(self, **request: Any) -> dict[str, Any]:
        """GetRecords: up to ``Limit`` (1,000) records from the iterator's position, and the
        next iterator."""
        arn, _, position = request["ShardIterator"].rpartition("|")
        table = self._table(arn)
        at = max(int(position), table.stream_start)
        limit = min(int(request.get("Limit") or 1000), 1000)
        offset = at - table.stream_start
        records = table.stream[offset : offset + limit]
        end = at + len(records)
        # one reader: drop what it has now read
        del table.stream[: end - table.stream_start]
        table.stream_start = end
        return {"Records": records, "NextShardIterator": f"{arn}|{end}"}
