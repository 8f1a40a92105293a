"""Load: a storefront day of N customers (10,000 in ``make bench``) through the real handlers on a
moto server (``ThreadedMotoServer`` on 127.0.0.1 only), from worker threads.

What runs, as in AWS:

1. ingest: every event of the day as the SQS record the bus rule delivers (the sample envelopes
   of ``events/``, one customer's events in time order on one worker; customers spread over the
   workers), one record per ``ingest.handle`` call so each event's latency is measured;
2. wake: every schedule due by the next morning (waits, the arbitration window's sends, texts
   held back by quiet hours), fired through ``wake.handle``, round after round until none is
   due; dispatch's stream path is counted too (outbox items due at once).

Then the table is read back. ``lost_events``: events no profile recorded as applied (each
profile's ``seen`` ids against what was sent for it) plus records ingest reported failed;
``lost_messages``: outbox items left ``pending``/``sending`` after every due schedule fired.
Both must be 0. The clock is the simulated one (``nudge.core.clock``): set to the end of the day
for ingest and to the next morning for the wakes.
"""

from __future__ import annotations

import copy
import json
import os
import random
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.moto_env import moto_server as serve

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
EVENTS = ROOT / "events"
DAY = datetime(2027, 2, 10, tzinfo=UTC)  # inside the sample rules' active windows
MORNING = DAY + timedelta(days=1, hours=14)  # past quiet hours in New York
ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]


def _metric(
    value: float | int, unit: str, op: str | None = None, target: float | None = None
) -> dict[str, Any]:
    return {"value": value, "unit": unit, "op": op, "target": target}


def _sample(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


def _envelope(base: dict[str, Any], kind: str, cid: str, at: datetime, n: int) -> dict[str, Any]:
    env = copy.deepcopy(base)
    env["detail-type"] = kind
    env["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    env["id"] = f"load-{cid}-{n}"
    env["detail"]["customer_id"] = cid
    env["detail"]["event_id"] = f"load-{cid}-{n}"
    return env


def day_events(customers: int, seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """Each customer's events of the day, in time order: a sign-up, product views; some carts
    (the cart reminder), delivery-page views (the last-minute text) and orders."""
    rng = random.Random(seed)
    samples = {k: _sample(k) for k in ("customer_updated", "product_viewed", "cart_updated")}
    samples |= {k: _sample(k) for k in ("page_viewed", "order_placed")}
    out: dict[str, list[dict[str, Any]]] = {}
    for i in range(customers):
        cid = f"load-{i:05d}"
        at = DAY + timedelta(seconds=rng.randrange(0, 20 * 3600))
        joined = _envelope(samples["customer_updated"], "customer_updated", cid, at, 0)
        joined["detail"]["traits"] = {
            "email": f"{cid}@shop.example",
            "phone": f"+1555{i:07d}",
            "first_name": "Load",
            "timezone": "America/New_York",
        }
        joined["detail"]["consent"] = {"email": True, "sms": rng.random() < 0.5}
        events = [joined]
        kinds = ["product_viewed"] * rng.randrange(0, 3)
        if rng.random() < 0.3:
            kinds.append("cart_updated")
        if rng.random() < 0.1:
            kinds.append("page_viewed")
        if rng.random() < 0.1:
            kinds.append("order_placed")
        for n, kind in enumerate(kinds, start=1):
            at += timedelta(seconds=rng.randrange(30, 1800))
            env = _envelope(samples[kind], kind, cid, min(at, DAY + timedelta(hours=23)), n)
            props = env["detail"].setdefault("properties", {})
            if kind == "cart_updated":
                props.update(value=300.0, items=ITEMS)
            elif kind == "page_viewed":
                props["path"] = "/pages/delivery"
            elif kind == "order_placed":
                props.update(order_id=f"o-{cid}", value=120.0)
            events.append(env)
        out[cid] = events
    return out


@contextmanager
def _moto_transactions() -> Iterator[None]:
    """moto's TransactWriteItems, made fit for a threaded server holding a whole day.

    moto (5.x) backs a transaction up by deep-copying the whole table once per item, without a
    lock: two concurrent transactions raise "dictionary changed size during iteration" (a 500,
    retried by botocore), and each one costs time in proportion to the table, so a day of
    10,000 customers would take hours. Here transactions run one at a time and back up only
    the items they address, restored the same way if the transaction is cancelled. nudge's
    code is untouched; only the emulator's bookkeeping changes."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend, DynamoType
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items
    lock = threading.Lock()

    class _TablesUncopied:  # stands in for the ``copy`` module inside moto.dynamodb.models
        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

        copy = staticmethod(copy.copy)

    def transact(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with lock:
            backup = []
            for entry in transact_items:
                _kind, op = next(iter(entry.items()))
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                key = op.get("Key") or op.get("Item") or {}
                if table.hash_key_attr not in key:
                    continue
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                before = copy.deepcopy(table.get_item(hash_key, range_key))
                backup.append((table, hash_key, range_key, before))
            saved, models.copy = models.copy, _TablesUncopied  # type: ignore[assignment]
            try:
                original(self, transact_items)
            except Exception:
                for table, hash_key, range_key, before in reversed(backup):
                    if range_key is None:
                        if before is None:
                            table.items.pop(hash_key, None)
                        else:
                            table.items[hash_key] = before
                    elif before is None:
                        table.items[hash_key].pop(range_key, None)
                    else:
                        table.items[hash_key][range_key] = before
                raise
            finally:
                models.copy = saved  # type: ignore[assignment]

    DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


@contextmanager
def _moto_partition_queries() -> Iterator[None]:
    """moto's Query on the base table, looking at the queried partition only.

    moto (5.x) answers a Query by sorting every item of the table and keeping those of the
    partition, so each call costs time in proportion to the table (a day of 10,000 customers
    never finished). Here a base-table Query with a partition key sees that partition's items
    alone; the rest of moto's Query (sorting, paging, conditions, filters, projections) runs
    unchanged, so the answers are the same. Index queries are left as they are. nudge's code is
    untouched; only the emulator's bookkeeping changes."""
    from moto.dynamodb.models.table import Table

    original = Table.query

    class _Partition:
        """The table, as seen by one Query: only the items of one partition."""

        def __init__(self, table: Table, hash_key: Any) -> None:
            self._table, self._hash_key = table, hash_key

        def __getattr__(self, name: str) -> Any:
            return getattr(self._table, name)

        def all_items(self) -> list[Any]:
            found = self._table.items.get(self._hash_key)
            if found is None:
                return []
            if not self._table.range_key_attr:
                return [found]
            return sorted(found.values(), key=lambda item: item.range_key)

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return original(self, hash_key, *args, **kwargs)
        return original(_Partition(self, hash_key), hash_key, *args, **kwargs)  # type: ignore[arg-type]

    Table.query = query  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        Table.query = original  # type: ignore[method-assign]


@contextmanager
def moto_deployment(config_dir: Path) -> Iterator[Any]:
    """A moto server on loopback with nudge's resources, the handlers pointed at it, the
    simulated clock installed; yields the clock."""
    from nudge.config import get_config
    from nudge.core import clock
    from nudge.sim.infra import create_resources

    with serve(config_dir):
        simulated = clock.SimulatedClock(DAY)
        previous = clock.install(simulated)
        try:
            with _moto_transactions(), _moto_partition_queries():
                sender = get_config(str(config_dir)).settings.sender.email
                create_resources(config_dir, daily=False, sender=sender)
                yield simulated
        finally:
            clock.install(previous)


def _ingest(events: dict[str, list[dict[str, Any]]], threads: int) -> dict[str, Any]:
    from nudge.flows import ingest

    shards: list[list[dict[str, Any]]] = [[] for _ in range(threads)]
    for i, cid in enumerate(sorted(events)):
        shards[i % threads].extend(events[cid])
    latencies: list[float] = []
    failed: list[str] = []
    lock = threading.Lock()

    def work(shard: list[dict[str, Any]]) -> None:
        mine: list[float] = []
        bad: list[str] = []
        for env in shard:
            record = {"messageId": env["id"], "body": json.dumps(env)}
            started = time.perf_counter()
            answer = ingest.handle({"Records": [record]})
            mine.append(time.perf_counter() - started)
            bad += [f["itemIdentifier"] for f in answer.get("batchItemFailures", [])]
        with lock:
            latencies.extend(mine)
            failed.extend(bad)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, shards))
    wall = time.perf_counter() - started
    return {"wall": wall, "latencies": latencies, "failed": failed}


def _scheduled() -> dict[str, Any]:
    """The schedules of nudge's group, as the moto server holds them (name -> schedule).

    What EventBridge Scheduler does by itself (finding what is due) is read from the server's
    state in this process rather than by a ListSchedules and a GetSchedule per schedule: those
    are no call of nudge's, and thousands of them per round were the slowest part of the day."""
    from moto.scheduler.models import scheduler_backends

    from nudge.sim.infra import ACCOUNT, ENV, REGION

    groups = scheduler_backends[ACCOUNT][REGION].schedule_groups
    group = groups.get(ENV["NUDGE_SCHEDULER_GROUP"])
    return dict(group.schedules) if group is not None else {}


def _due(until: datetime) -> list[tuple[str, dict[str, Any]]]:
    from nudge.core.clock import parse_time

    due = []
    for name, schedule in _scheduled().items():
        expression = schedule.schedule_expression
        if expression.startswith("at(") and parse_time(expression[3:-1] + "Z") <= until:
            due.append((name, json.loads(schedule.target["Input"])))
    return due


def _wakes(threads: int, until: datetime) -> dict[str, Any]:
    """Fire every schedule due by ``until`` (deleting it, as a one-time schedule goes), in
    rounds, one customer's wakes on one worker."""
    from nudge.aws import clients
    from nudge.flows import wake
    from nudge.sim.infra import ENV

    sched = clients.client("scheduler")
    fired = 0
    latencies: list[float] = []
    started = time.perf_counter()
    for _round in range(10):
        due = _due(until)
        if not due:
            break
        by_customer: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        for name, payload in due:
            by_customer[str(payload.get("customer_id"))].append((name, payload))
        shards: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in range(threads)]
        for i, cid in enumerate(sorted(by_customer)):
            shards[i % threads].extend(by_customer[cid])

        def work(shard: list[tuple[str, dict[str, Any]]]) -> list[float]:
            took = []
            for name, payload in shard:
                # a one-time schedule deletes itself as it fires (ActionAfterCompletion: DELETE)
                sched.delete_schedule(Name=name, GroupName=ENV["NUDGE_SCHEDULER_GROUP"])
                t0 = time.perf_counter()
                wake.handle(payload)
                took.append(time.perf_counter() - t0)
            return took

        with ThreadPoolExecutor(threads) as pool:
            for took in pool.map(work, shards):
                latencies += took
        fired += len(due)
    return {"wall": time.perf_counter() - started, "fired": fired, "latencies": latencies}


def _read_back(events: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Profiles and outbox items, from one scan of the table."""
    from boto3.dynamodb.types import TypeDeserializer

    from nudge.aws.store import all_items, read_profile, table
    from nudge.core.profile import remembers

    plain = TypeDeserializer()
    profiles: dict[str, dict[str, Any]] = {}
    statuses: Counter[str] = Counter()
    direct = 0
    partitions: dict[str, list[dict[str, Any]]] = {}
    for item in all_items("scan", TableName=table()):
        doc = {k: plain.deserialize(v) for k, v in item.items()}
        if str(doc.get("sk")).startswith("PROFILE"):  # the profile and its history segments
            partitions.setdefault(str(doc["pk"])[2:], []).append(item)
        elif doc.get("kind") == "outbox":
            statuses[str(doc.get("status"))] += 1
            direct += "scheduled" not in doc
    for cid, held in partitions.items():
        profiles[cid] = read_profile(held).doc or {}
    lost = sum(
        1
        for cid, envs in events.items()
        for env in envs
        if not remembers(profiles.get(cid) or {}, env["detail"]["event_id"])
        and not remembers(profiles.get(cid) or {}, env["id"])
    )
    return {"lost_events": lost, "statuses": dict(statuses), "direct": direct}


def _stranded() -> int:
    """Outbox items not final (pending, sending) that nothing will hand to dispatch again: no
    schedule of theirs is left (a send deferred past the morning by caps keeps its schedule)."""
    from nudge.aws.scheduler import schedule_name
    from nudge.aws.store import all_items, table

    scheduled = _scheduled()
    stranded = 0
    for item in all_items("scan", TableName=table()):
        if item.get("kind", {}).get("S") != "outbox":
            continue
        if item["status"]["S"] in ("sent", "failed", "suppressed", "held_out"):
            continue
        stranded += schedule_name("send", item["message_id"]["S"]) not in scheduled
    return stranded


def _pump_direct() -> int:
    """Outbox items due at once go to dispatch through the stream; hand them over as the
    event source mapping does (their INSERT records)."""
    from nudge.aws import clients
    from nudge.flows import dispatch

    ddb, streams = clients.client("dynamodb"), clients.client("dynamodbstreams")
    from nudge.sim.infra import ENV

    arn = ddb.describe_table(TableName=ENV["NUDGE_TABLE"])["Table"]["LatestStreamArn"]
    handed = 0
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records = [
                r
                for r in page.get("Records", [])
                if r["eventName"] == "INSERT"
                and r["dynamodb"].get("NewImage", {}).get("kind", {}).get("S") == "outbox"
                and "scheduled" not in r["dynamodb"]["NewImage"]
            ]
            if records:
                dispatch.handle({"Records": json.loads(json.dumps(records, default=str))})
                handed += len(records)
            if not page.get("Records"):
                break
            iterator = page.get("NextShardIterator")
    return handed


def run_load(customers: int = 10_000, threads: int = 8) -> dict[str, Any]:
    """The day through ingest and wake on a moto server; the raw measurements."""
    events = day_events(customers)
    total = sum(len(v) for v in events.values())
    with moto_deployment(CONFIG) as simulated:
        simulated.set(DAY + timedelta(hours=23, minutes=59))
        ingested = _ingest(events, threads)
        phases = {"ingest_s": ingested["wall"]}
        t0 = time.perf_counter()
        direct = _pump_direct()
        woken = {"wall": 0.0, "fired": 0, "latencies": []}
        # the waits fall due by the morning; the sends they decide, an arbitration window later
        for until in (MORNING, MORNING + timedelta(minutes=5)):
            simulated.set(until)
            got = _wakes(threads, until)
            woken = {k: woken[k] + got[k] for k in woken}
        phases["stream_and_wakes_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        back = _read_back(events)
        back["stranded"] = _stranded()
        phases["read_back_s"] = time.perf_counter() - t0
    lat = sorted(ingested["latencies"])
    quantiles = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [lat[0]] * 99
    left = back["stranded"]
    return {
        "customers": customers,
        "events": total,
        "threads": threads,
        "events_per_s": total / ingested["wall"],
        "p50_ms": quantiles[49] * 1000,
        "p99_ms": quantiles[98] * 1000,
        "ingest_failed": len(ingested["failed"]),
        "lost_events": back["lost_events"] + len(ingested["failed"]),
        "wakes": woken["fired"],
        "wakes_per_s": woken["fired"] / woken["wall"] if woken["wall"] else 0.0,
        "direct_sends": direct,
        "outbox": back["statuses"],
        "lost_messages": left,
        **{k: round(v, 1) for k, v in phases.items()},
    }


def run(customers: int | None = None) -> dict[str, dict[str, Any]]:
    """``make bench``: the 10,000-customer day (``NUDGE_LOAD_CUSTOMERS`` for another size)."""
    size = customers or int(os.environ.get("NUDGE_LOAD_CUSTOMERS", "10000"))
    got = run_load(size)
    print(f"load: {json.dumps(got)}", flush=True)
    return {
        "load_customers": _metric(got["customers"], "customers"),
        "load_events": _metric(got["events"], "events"),
        "load_threads": _metric(got["threads"], "threads"),
        "load_events_per_s": _metric(round(got["events_per_s"], 1), "events/s"),
        "load_event_p50_ms": _metric(round(got["p50_ms"], 1), "ms"),
        "load_event_p99_ms": _metric(round(got["p99_ms"], 1), "ms"),
        "load_wakes": _metric(got["wakes"], "wakes"),
        "load_wakes_per_s": _metric(round(got["wakes_per_s"], 1), "wakes/s"),
        "load_messages_sent": _metric(got["outbox"].get("sent", 0), "messages"),
        "load_lost_events": _metric(got["lost_events"], "events", "<=", 0),
        "load_lost_messages": _metric(got["lost_messages"], "messages", "<=", 0),
        "load_ingest_s": _metric(got["ingest_s"], "s"),
        "load_stream_and_wakes_s": _metric(got["stream_and_wakes_s"], "s"),
        "load_read_back_s": _metric(got["read_back_s"], "s"),
    }
