"""The cost model: AWS calls, DynamoDB capacity and Lambda time of the real handlers on moto,
priced at us-east-1 list prices, per event and per message (docs/cost.md).

For each case (a new customer, or one with 25, 50 or 200 events of history; a config of 10 or
200 triggers) a few customers are built up first (not counted), then each plays one event of
every common type and time runs on until every wait and send is done (counted). Counted is what
the handlers do inside their invocations (ingest, dispatch, wake): every AWS call (a
``_make_api_call`` hook) and the DynamoDB capacity it consumes, computed with DynamoDB's
documented size rules from the items moto holds before and after each write and from the items
each read returns. The simulator's own plumbing (reading the stream, firing schedules) is what
AWS does by itself and is not counted as calls; what AWS charges for it is (Scheduler
invocations, the bus and queue an event comes through).

Nothing here is a fixed per-event number: rerun it after a change to see what the change did.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
EVENTS = ROOT / "events"
DOC = ROOT / "docs" / "cost.md"
DAY = datetime(2027, 2, 10, 12, tzinfo=UTC)  # inside the sample rules' active windows

# us-east-1 list prices, USD
PRICE = {
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_read_unit": 0.125 / 1e6,  # on-demand read request unit
    "eventbridge_event": 1.00 / 1e6,  # custom event published (64 KB chunk)
    "sqs_request": 0.40 / 1e6,  # standard queue, per request
    "scheduler_invocation": 1.00 / 1e6,  # EventBridge Scheduler, per scheduled invocation
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_s": 0.0000133334,  # arm64
    "secretsmanager_call": 0.05 / 1e4,
    "ses_email": 0.10 / 1e3,  # per message, shown apart
}
# assumed round trip of one AWS call made by a handler inside AWS (moto answers in-process);
# it is billed Lambda time
CALL_LATENCY_S = 0.008
HISTORY = (0, 25, 50, 200)
# (triggers, one in how many generated triggers meets the measured events: bench/core.py)
TRIGGERS = ((10, 1), (200, 10), (200, 1))
STRESS_HISTORY = (0, 200)  # histories measured with every generated trigger meeting the events
MEASURED = ["product_viewed", "cart_updated", "page_viewed", "order_placed"]
# played after the measured events, and left out of their average: the events of a visit that
# the one-of-each play does not have (a product not seen before, a page no rule reads)
BROWSING = ["product_viewed (new product)", "page_viewed (other page)"]
# each played this many times over (alternately): what a browsing event costs now and then (the
# log entries the profile lets go, every so often) is then spread as it is over a visit
BROWSING_ROUNDS = 6
# A storefront's events per visit (docs/cost.md cites the figures): 4 pages a visit (e-commerce
# 3-5), half of them product pages; 7.1% of visits add to the cart (two cart updates each, and
# one look at the delivery page); 2.5% order.
MIX = {
    "product_viewed (new product)": 2.0,
    "page_viewed (other page)": 2.0 - 0.071,
    "page_viewed": 0.071,
    "cart_updated": 2 * 0.071,
    "order_placed": 0.025,
}
TARGET_USD_PER_M = 3.0
TARGET_DYNAMODB_USD_PER_M = 1.0
TARGET_WRITE_UNITS_200 = 8.0
TARGET_DECIDE_P99_MS = 1.0
WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
READS = {"GetItem", "Query", "Scan"}


def _metric(
    value: float | int, unit: str, op: str | None = None, target: float | None = None
) -> dict[str, Any]:
    return {"value": value, "unit": unit, "op": op, "target": target}


def _template_number(pattern: str, default: int) -> int:
    found = re.search(pattern, (ROOT / "template.yaml").read_text())
    return int(found.group(1)) if found else default


LAMBDA_MB = _template_number(r"Globals:.*?MemorySize: (\d+)", 256)  # ingest, dispatch, wake
INGEST_BATCH = _template_number(r"BatchSize: (\d+)", 10)  # SQS -> ingest


# --- DynamoDB's item size rules ------------------------------------------------------------


def _number_size(raw: str) -> int:
    """About 1 byte per 2 significant digits, plus 1 (DynamoDB's rule for numbers)."""
    digits = Decimal(raw).normalize().as_tuple().digits
    return max(1, math.ceil(len(digits) / 2)) + 1


def value_size(value: Any) -> int:
    """Bytes of one attribute value (wire format ``{"S": ...}``, or moto's ``DynamoType``)."""
    if hasattr(value, "type"):
        kind, raw = value.type, value.value
    else:
        ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return _number_size(str(raw))
    if kind == "B":
        return len(raw) if isinstance(raw, bytes) else len(str(raw)) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(v).encode()) for v in raw)
    if kind == "NS":
        return sum(_number_size(str(v)) for v in raw)
    if kind == "BS":
        return sum(len(v) for v in raw)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + value_size(v) for k, v in raw.items())
    return 0


def item_size(item: dict[str, Any] | None) -> int:
    """Bytes of an item as DynamoDB counts them: names plus values."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def _write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


# --- counting --------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one stretch of handler work cost."""

    calls: Counter[str] = field(default_factory=Counter)
    write_units: float = 0.0
    read_units: float = 0.0
    written_bytes: list[int] = field(default_factory=list)  # per item written
    invocations: Counter[str] = field(default_factory=Counter)
    billed_s: float = 0.0  # Lambda time (handler compute + assumed call latency)
    put_events: int = 0  # bus entries (64 KB chunks)
    outbox_items: int = 0  # messages decided (outbox items created)

    def add(self, other: Tally) -> None:
        """Fold ``other`` into this tally."""
        self.calls.update(other.calls)
        self.write_units += other.write_units
        self.read_units += other.read_units
        self.written_bytes += other.written_bytes
        self.invocations.update(other.invocations)
        self.billed_s += other.billed_s
        self.put_events += other.put_events
        self.outbox_items += other.outbox_items


MESSAGE_SCHEDULE = "nudge-send-"  # the one-time schedule of a message (aws/scheduler.py)
OUTBOX_SK = "O#"  # an outbox item (aws/store/outbox.py)


class Meter:
    """Counts the calls and capacity of the handlers' work, attributed to the open tallies:
    ingest's own work on an event to ``tally``; what is done for its messages to ``follow``
    (a message's schedule and outbox item, though ingest writes them, and everything wake and
    dispatch do: waits ending, messages sent)."""

    def __init__(self) -> None:
        self.tally: Tally | None = None
        self.follow: Tally | None = None  # None: the same as ``tally``
        self.stack: list[str] = []
        self.outside_s = 0.0  # time spent in AWS calls by the innermost handler

    def _open(self, handler: str) -> Tally | None:
        """The tally ``handler``'s own work counts into."""
        return self.tally if handler == "ingest" else (self.follow or self.tally)

    def _for_message(self, operation: str, params: Any) -> bool:
        name = params.get("Name", "") if isinstance(params, dict) else ""
        return operation in ("CreateSchedule", "DeleteSchedule") and name.startswith(
            MESSAGE_SCHEDULE
        )

    def _table(self, name: str) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        from nudge.sim.infra import ACCOUNT, REGION

        return dynamodb_backends[ACCOUNT][REGION].get_table(name)

    def _stored(self, table_name: str, key: dict[str, Any]) -> int:
        """Size of the item at ``key`` in moto right now (0 if there is none)."""
        from moto.dynamodb.models import DynamoType

        table = self._table(table_name)
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        try:
            found = table.get_item(hash_key, range_key)
        except Exception:  # moto: no such item (or key)
            return 0
        return 0 if found is None else item_size(dict(found.attrs))

    def _key_of(self, table_name: str, op: dict[str, Any]) -> dict[str, Any]:
        if "Key" in op:
            return dict(op["Key"])
        table = self._table(table_name)
        keys = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
        return {k: op["Item"][k] for k in keys}

    def _writes(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict, int]]:
        """(table, key, factor) of every item a write addresses."""
        if operation in WRITES:
            return [(params["TableName"], self._key_of(params["TableName"], params), 1)]
        if operation == "TransactWriteItems":
            out = []
            for entry in params["TransactItems"]:
                ((_kind, op),) = entry.items()
                out.append((op["TableName"], self._key_of(op["TableName"], op), 2))
            return out
        if operation == "BatchWriteItem":
            return [
                (name, self._key_of(name, next(iter(req.values()))), 1)
                for name, reqs in params["RequestItems"].items()
                for req in reqs
            ]
        return []

    def call(self, real: Callable[..., Any], client: Any, operation: str, params: Any) -> Any:
        """Make the call; count it (and its capacity) if a handler made it."""
        own = self._open(self.stack[-1]) if self.stack else None
        if own is None:
            return real(client, operation, params)
        follow = self.follow or own
        tally = follow if self._for_message(operation, params) else own
        service = client.meta.service_model.service_name
        tally.calls[f"{service}:{operation}"] += 1
        dynamodb = service == "dynamodb"
        writes = self._writes(operation, params) if dynamodb else []
        before = [self._stored(t, k) for t, k, _ in writes]
        started = time.perf_counter()
        try:
            answer = real(client, operation, params)
        finally:
            self.outside_s += time.perf_counter() - started
            for (t, k, factor), old in zip(writes, before, strict=True):
                new = self._stored(t, k)
                outbox = str(k.get("sk", {}).get("S", "")).startswith(OUTBOX_SK)
                into = follow if outbox else tally
                into.write_units += factor * _write_units(max(old, new))
                into.written_bytes.append(new)
                into.outbox_items += int(outbox and not old and bool(new))
        if dynamodb:
            self._reads(tally, operation, params, answer)
        if service == "events" and operation == "PutEvents":
            tally.put_events += sum(
                max(1, math.ceil(len(json.dumps(e, default=str)) / 65536))
                for e in params["Entries"]
            )
        return answer

    def _reads(
        self, tally: Tally, operation: str, params: dict[str, Any], answer: dict[str, Any]
    ) -> None:
        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            tally.read_units += _read_units(item_size(answer.get("Item")), consistent)
        elif operation in ("Query", "Scan"):
            size = sum(item_size(i) for i in answer.get("Items", []))
            tally.read_units += _read_units(size, consistent)
        elif operation == "TransactGetItems":
            for got in answer.get("Responses", []):
                tally.read_units += 2 * _read_units(item_size(got.get("Item")), True)
        elif operation == "BatchGetItem":
            for items in answer.get("Responses", {}).values():
                for got in items:
                    tally.read_units += _read_units(item_size(got), consistent)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` (a handler's ``handle``) counted as one invocation of ``name``."""

        def counted(*args: Any, **kwargs: Any) -> Any:
            tally = self._open(name)
            if tally is None or self.stack:
                return fn(*args, **kwargs)
            self.stack.append(name)
            self.outside_s = 0.0
            both = {id(tally): tally, id(self.follow): self.follow or tally}
            calls_before = sum(sum(t.calls.values()) for t in both.values())
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                took = time.perf_counter() - started
                calls = sum(sum(t.calls.values()) for t in both.values()) - calls_before
                billed = max(0.0, took - self.outside_s) + calls * CALL_LATENCY_S
                tally.billed_s += math.ceil(billed * 1000) / 1000  # billed per 1 ms
                tally.invocations[name] += 1
                self.stack.pop()

        return counted


@contextmanager
def metering(meter: Meter) -> Iterator[None]:
    """Count the handlers' invocations and AWS calls while the block runs."""
    from bench.hooks import watching

    with watching(meter.wrap, meter.call):
        yield


# --- the cases -------------------------------------------------------------------------------


def _envelope(kind: str, cid: str, at: datetime, n: int, **properties: Any) -> dict[str, Any]:
    env: dict[str, Any] = json.loads((EVENTS / f"{kind}.json").read_text())
    env["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    env["id"] = f"cost-{cid}-{n}"
    env["detail"].update(customer_id=cid, event_id=f"cost-{cid}-{n}")
    if kind == "customer_updated":
        env["detail"]["traits"] = {
            "email": f"{cid}@shop.example",
            "phone": "+15555550100",
            "first_name": "Cost",
            "timezone": "America/New_York",
        }
        env["detail"]["consent"] = {"email": True, "sms": True}
    env["detail"].setdefault("properties", {}).update(properties)
    return env


ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]


def _measured(kind: str, cid: str, at: datetime, n: int) -> dict[str, Any]:
    props: dict[str, Any] = {
        "product_viewed": {"product_id": "p-1", "category": "jewelry"},
        "cart_updated": {"value": 300.0, "items": ITEMS},
        "page_viewed": {"path": "/pages/delivery"},
        "order_placed": {"order_id": f"o-{cid}-{n}", "value": 120.0},
        "product_viewed (new product)": {"product_id": f"p-new-{n}", "category": "fragrance"},
        "page_viewed (other page)": {"path": "/collections/all"},
    }[kind]
    return _envelope(kind.split(" ")[0], cid, at, n, **props)


def _history(cid: str, events: int, end: datetime) -> list[dict[str, Any]]:
    """A sign-up, then ``events`` storefront events over the day before ``end``: product
    views of many products, some carts and page views, a few orders."""
    out = [_envelope("customer_updated", cid, end - timedelta(days=1, minutes=1), 0)]
    step = timedelta(days=1) / max(1, events + 1)
    for n in range(1, events + 1):
        at = end - timedelta(days=1) + n * step
        if n % 10 == 0:
            env = _envelope("order_placed", cid, at, n, order_id=f"h-{cid}-{n}", value=40.0 + n)
        elif n % 5 == 0:
            env = _envelope("cart_updated", cid, at, n, value=20.0 + n, items=ITEMS)
        elif n % 7 == 0:
            env = _envelope("page_viewed", cid, at, n, path=f"/pages/p{n}")
        else:
            env = _envelope("product_viewed", cid, at, n, product_id=f"p-{n}", category="fragrance")
        out.append(env)
    return out


_CONFIGS: dict[tuple[int, int], tuple[Path, int]] = {}


def _config(triggers: int, matching: int = 1) -> tuple[Path, int]:
    """The sample config with generated triggers up to ``triggers``, one in ``matching`` of
    them meeting the measured events (made once per run, with its compiled-config artefact,
    so each simulation loads it as a function would)."""
    if (triggers, matching) not in _CONFIGS:
        from bench.core import generated_config
        from nudge.config import load_config
        from nudge.config.artefact import write_artefact

        sample = len(load_config(CONFIG).triggers)
        config = generated_config(max(0, triggers - sample), matching)
        write_artefact(config)
        _CONFIGS[triggers, matching] = (config, len(load_config(config).triggers))
    return _CONFIGS[triggers, matching]


def measure_case(
    history: int, triggers: int, customers: int = 3, matching: int = 1
) -> dict[str, Any]:
    """One case: what ingest does for each measured event type (its own work), and what
    follows for the messages (and waits) the events decided, per event and per message."""
    from nudge.core.clock import parse_time
    from nudge.sim import Simulation

    config, count = _config(triggers, matching)
    meter = Meter()
    per_type: dict[str, Tally] = defaultdict(Tally)
    after = Tally()  # waits and sends that follow, once the events are in
    cids = [f"cost-{history}-{triggers}-{i}" for i in range(customers)]
    with Simulation(config, start=DAY - timedelta(days=2), backend="moto") as sim, metering(meter):
        for cid in cids:
            for env in _history(cid, history, DAY):
                sim.advance(parse_time(env["time"]))
                sim.put(env)
        sim.advance(DAY + timedelta(hours=6))  # the history's own waits and sends are done
        ses_before = len(sim.backend.emails())
        at = DAY + timedelta(hours=6)
        played = MEASURED + BROWSING * BROWSING_ROUNDS
        for n, kind in enumerate(played, start=1000):
            at += timedelta(minutes=7 if kind in MEASURED else 2)
            for cid in cids:
                meter.tally = meter.follow = after  # earlier events' waits and sends falling due
                sim.advance(at)
                if n == 1000 + len(MEASURED):  # browsing follows browsing, not the order: one
                    meter.tally = Tally()  # first (uncounted)
                    sim.put(_measured(BROWSING[-1], cid, at - timedelta(minutes=1), n + 100))
                meter.tally = per_type[kind]  # ingest's own work on the event
                sim.put(_measured(kind, cid, at, n))
                meter.tally = meter.follow = None
        meter.tally = meter.follow = after
        sim.advance(at + timedelta(days=1))
        meter.tally = meter.follow = None
        emails = len(sim.backend.emails()) - ses_before
    events = len(MEASURED) * customers
    own = Tally()  # ingest's own work on the measured events
    for kind in MEASURED:
        own.add(per_type[kind])
    total = Tally()
    total.add(own)
    total.add(after)
    messages = total.calls["sesv2:SendEmail"] + total.calls["ses:SendRawEmail"]
    messages += total.calls["ses:SendEmail"] + total.calls["sns:Publish"]
    return {
        "history": history,
        "triggers": count,
        "matching": matching,
        "customers": customers,
        "events": events,
        "emails": emails,
        "messages": messages,
        "messages_decided": total.outbox_items,
        "per_type": {k: _per(v, customers * played.count(k)) for k, v in per_type.items()},
        "after_events": _per(after, events),
        "per_event": _per(own, events),
        "per_event_with_messages": _per(total, events),
        "usd_per_million_events": _usd(own, events),
        "usd_per_million_events_with_messages": _usd(total, events),
        "usd_per_message": _usd_message(after, max(1, messages)),
        "mix": _mix(per_type, {k: customers * played.count(k) for k in per_type}),
    }


def _mix(per_type: dict[str, Tally], events: dict[str, int]) -> dict[str, Any]:
    """Ingest's own work per event at a storefront's mix of events (``MIX``): each type's
    measured cost, weighted by how often a visit has it."""
    weight = sum(MIX.values())
    usd: dict[str, float] = defaultdict(float)
    write_units = read_units = 0.0
    for kind, share in MIX.items():
        tally, n = per_type[kind], events[kind]
        for service, dollars in _prices(tally, n).items():
            usd[service] += share / weight * dollars / n * 1e6
        write_units += share / weight * tally.write_units / n
        read_units += share / weight * tally.read_units / n
    out = {k: round(v, 3) for k, v in usd.items()}
    out["total"] = round(sum(usd.values()), 3)
    return {
        "usd_per_million_events": out,
        "write_units": round(write_units, 2),
        "read_units": round(read_units, 2),
    }


def _per(tally: Tally, n: int) -> dict[str, Any]:
    return {
        "aws_calls": round(sum(tally.calls.values()) / n, 2),
        "calls": {k: round(v / n, 2) for k, v in sorted(tally.calls.items())},
        "write_units": round(tally.write_units / n, 2),
        "read_units": round(tally.read_units / n, 2),
        "item_kb_max": round(max(tally.written_bytes, default=0) / 1024, 1),
        "invocations": round(sum(tally.invocations.values()) / n, 2),
        "lambda_ms": round(tally.billed_s * 1000 / n, 1),
    }


def _prices(tally: Tally, events: int) -> dict[str, float]:
    """What ``tally`` plus the delivery of ``events`` storefront events costs, by service."""
    sqs = tally.calls["sqs:SendMessage"] + tally.calls["sqs:SendMessageBatch"]
    # each storefront event: published on the bus (the shop pays the PutEvents), sent to the
    # ingest queue by the rule, received and deleted in batches by the event source mapping
    sqs_requests = sqs + events * (1 + 2 / INGEST_BATCH)
    wakes = tally.invocations["wake"]  # each fired one-time schedule is one invocation
    requests = sum(tally.invocations.values())
    return {
        "dynamodb": tally.write_units * PRICE["dynamodb_write_unit"]
        + tally.read_units * PRICE["dynamodb_read_unit"],
        "eventbridge": (events + tally.put_events) * PRICE["eventbridge_event"],
        "sqs": sqs_requests * PRICE["sqs_request"],
        "scheduler": wakes * PRICE["scheduler_invocation"],
        "lambda": requests * PRICE["lambda_request"]
        + tally.billed_s * LAMBDA_MB / 1024 * PRICE["lambda_gb_s"],
        "secretsmanager": tally.calls["secretsmanager:GetSecretValue"]
        * PRICE["secretsmanager_call"],
    }


def _usd(tally: Tally, events: int) -> dict[str, float]:
    """$ per million events, by service (email sending apart: see ``usd_per_message``)."""
    prices = _prices(tally, events)
    out = {k: round(v / events * 1e6, 3) for k, v in prices.items()}
    out["total"] = round(sum(prices.values()) / events * 1e6, 3)
    return out


def _usd_message(after: Tally, messages: int) -> dict[str, float]:
    prices = _prices(after, 0)
    return {
        "aws_after_decision": round(sum(prices.values()) / messages, 8),
        "ses": PRICE["ses_email"],
    }


def decide_p99_ms(triggers: int = 200) -> float:
    """decide()'s p99 over the sample day with ``triggers`` triggers (bench/core.py)."""
    from bench.core import bench_decide, generated_config
    from nudge.config import load_config

    sample = len(load_config(CONFIG).triggers)
    got = bench_decide(generated_config(triggers - sample), "n")
    return float(got["decide_n_p99_ms"])


def run_cost(
    histories: tuple[int, ...] = HISTORY,
    triggers: tuple[tuple[int, int], ...] = TRIGGERS,
    customers: int | None = None,
) -> dict[str, Any]:
    """Every case; the raw measurements (``NUDGE_COST_CUSTOMERS`` customers per case, 2 by
    default). The stress case (every generated trigger meeting the events) is measured for
    ``STRESS_HISTORY`` only."""
    customers = customers or int(os.environ.get("NUDGE_COST_CUSTOMERS", "2"))
    cases = [
        measure_case(h, t, customers, matching)
        for t, matching in triggers
        for h in histories
        if not (t > 10 and matching == 1) or h in STRESS_HISTORY
    ]
    return {"cases": cases, "decide_200_p99_ms": decide_p99_ms(200)}


def _label(history: int) -> str:
    return "new" if history == 0 else f"h{history}"


def _triggers(case: dict[str, Any]) -> str:
    """The triggers column: how many, and how many of them meet the events when not all."""
    if case["triggers"] <= 10:
        return str(case["triggers"])
    matching = case.get("matching", 1)
    return (
        f"{case['triggers']} (1 in {matching} meets)"
        if matching > 1
        else f"{case['triggers']} (all meet)"
    )


def _name(case: dict[str, Any]) -> str:
    """The case's key in bench/results.json."""
    return f"cost_{_label(case['history'])}_t{case['triggers']}{'all' if _stress(case) else ''}"


def _met_usd(case: dict[str, Any]) -> bool:
    usd = case["usd_per_million_events"]
    return bool(usd["total"] < TARGET_USD_PER_M and usd["dynamodb"] < TARGET_DYNAMODB_USD_PER_M)


def _row(case: dict[str, Any]) -> str:
    usd, ev = case["usd_per_million_events"], case["per_event"]
    whole = case["usd_per_million_events_with_messages"]["total"]
    who = "new customer" if case["history"] == 0 else f"{case['history']} events of history"
    events = case["events"]
    decided, sent = case["messages_decided"] / events, case["messages"] / events
    per_message = (
        f"{case['usd_per_message']['aws_after_decision'] * 1e6:.0f}" if case["messages"] else "—"
    )
    return (
        f"| {who} | {_triggers(case)} | {ev['aws_calls']} | {ev['write_units']} | "
        f"{ev['read_units']} | {ev['item_kb_max']} | {usd['dynamodb']:.2f} | {usd['total']:.2f} | "
        f"{_met(_met_usd(case))} | {decided:.2f} / {sent:.2f} | {per_message} | {whole:.2f} |"
    )


def table(got: dict[str, Any], at: str) -> str:
    """The dated markdown tables of docs/cost.md."""
    lines = [
        f"Measured {at} by `make bench` (`bench/cost.py`); $ per million storefront events, "
        "us-east-1 list prices, email sending apart. Per event: what ingest does for the event "
        "(and what AWS charges to bring it there); the messages it decided are priced apart, "
        "per message, in the last three columns.",
        "",
        "| customer | triggers | AWS calls / event | write units / event | read units / event "
        "| largest item written (KB) | DynamoDB $ / M events | total $ / M events "
        "| < $3, DynamoDB < $1 | messages decided / sent per event | $ / M messages "
        "(schedules, wake, dispatch) | with messages $ / M events |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(_row(c) for c in got["cases"]),
        "",
        "Per event type (ingest's own calls, write units and item sizes):",
        "",
        "| customer | triggers | event | AWS calls | write units | read units | largest item (KB) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case in got["cases"]:
        for kind, per in case["per_type"].items():
            lines.append(
                f"| {_label(case['history'])} | {_triggers(case)} | {kind} | {per['aws_calls']} "
                f"| {per['write_units']} | {per['read_units']} | {per['item_kb_max']} |"
            )
    lines += [
        "",
        "At a storefront's mix of events (per visit: "
        + ", ".join(f"{share:g} {kind}" for kind, share in MIX.items())
        + "; ingest's own work, as above):",
        "",
        "| customer | triggers | write units / event | read units / event "
        "| DynamoDB $ / M events | total $ / M events | < $3, DynamoDB < $1 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case in got["cases"]:
        mix = case["mix"]
        usd = mix["usd_per_million_events"]
        lines.append(
            f"| {_label(case['history'])} | {_triggers(case)} | {mix['write_units']} | "
            f"{mix['read_units']} | {usd['dynamodb']:.2f} | {usd['total']:.2f} | "
            f"{_met(_met_usd(mix))} |"
        )
    cases = got["cases"]
    judged = [c["mix"]["usd_per_million_events"] for c in cases if not _stress(c)]
    stress = [c["mix"]["usd_per_million_events"] for c in cases if _stress(c)]
    each = [c["usd_per_million_events"] for c in cases]
    many = [c for c in cases if c["triggers"] >= 200]
    worst_wu = max((c["per_event"]["write_units"] for c in many), default=0.0)
    p99 = got["decide_200_p99_ms"]
    first = cases[0]
    lines += [
        "",
        "Per message (what follows the decision: its schedule and outbox item, the wake, "
        "dispatch, the send):",
        "",
        f"- AWS calls, Lambda, Scheduler and DynamoDB: "
        f"${first['usd_per_message']['aws_after_decision']:.6f} per message sent in the "
        "new-customer case with 10 triggers; SES: $0.0001 per email.",
        "",
        "The dollar targets are judged on a storefront's events (the mix above), with 10 "
        "triggers and with 200 of which one in ten meets the events; the other two plays are "
        "shown beside them, not judged (see Targets below).",
        "",
        "| target (per event: ingest's own work) | measured | |",
        "| --- | --- | --- |",
        f"| < $3 per million events at every history length, at a storefront's mix | "
        f"max ${_most(judged, 'total')} | "
        f"{_met(all(u['total'] < TARGET_USD_PER_M for u in judged))} |",
        f"| < $1 of it DynamoDB | max ${_most(judged, 'dynamodb')} | "
        f"{_met(all(u['dynamodb'] < TARGET_DYNAMODB_USD_PER_M for u in judged))} |",
        *(
            f"| (not judged) {name} | max ${_most(usd, 'total')}, "
            f"DynamoDB ${_most(usd, 'dynamodb')} | {_above(usd)} |"
            for name, usd in (
                ("the stress config at that mix", stress),
                ("one event of each type", each),
            )
            if usd
        ),
        f"| <= 8 write units per event with 200 triggers | max {worst_wu} | "
        f"{_met(worst_wu <= TARGET_WRITE_UNITS_200)} |",
        f"| decide p99 < 1 ms with 200 triggers | {p99} ms | {_met(p99 < TARGET_DECIDE_P99_MS)} |",
    ]
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def _stress(case: dict[str, Any]) -> bool:
    """The stress config: every generated trigger meets the measured events."""
    return bool(case["triggers"] > 10 and case.get("matching", 1) == 1)


def _most(usd: list[dict[str, float]], key: str) -> str:
    return f"{max((u[key] for u in usd), default=0.0):.2f}"


def _above(usd: list[dict[str, float]]) -> str:
    """How a play that is not judged compares with the dollar targets."""
    within = all(
        u["total"] < TARGET_USD_PER_M and u["dynamodb"] < TARGET_DYNAMODB_USD_PER_M for u in usd
    )
    return "within the targets" if within else "above the targets"


BEGIN, END = "<!-- cost-table: begin (bench/cost.py writes this) -->", "<!-- cost-table: end -->"


def write_doc(got: dict[str, Any], at: str, doc: Path = DOC) -> None:
    """Replace the table between the markers of docs/cost.md with today's."""
    text = doc.read_text()
    head, rest = text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{table(got, at)}\n{END}{tail}")


def run() -> dict[str, Any]:
    """``make bench``: every case; docs/cost.md's table rewritten with the date."""
    got = run_cost()
    write_doc(got, datetime.now(UTC).strftime("%Y-%m-%d"))
    out: dict[str, Any] = {}
    for case in got["cases"]:
        name = _name(case)
        usd, ev = case["usd_per_million_events"], case["per_event"]
        # the dollar targets are judged at a storefront's mix, without the stress config
        out[f"{name}_usd_per_m_events"] = _metric(usd["total"], "$")
        out[f"{name}_dynamodb_usd_per_m_events"] = _metric(usd["dynamodb"], "$")
        wu_target = TARGET_WRITE_UNITS_200 if case["triggers"] >= 200 else None
        out[f"{name}_write_units_per_event"] = _metric(
            ev["write_units"], "WRU", "<=" if wu_target else None, wu_target
        )
        out[f"{name}_aws_calls_per_event"] = _metric(ev["aws_calls"], "calls")
        out[f"{name}_item_kb_max"] = _metric(ev["item_kb_max"], "KB")
        mix = case["mix"]["usd_per_million_events"]
        judged = not _stress(case)
        out[f"{name}_mix_usd_per_m_events"] = _metric(
            mix["total"], "$", "<" if judged else None, TARGET_USD_PER_M if judged else None
        )
        out[f"{name}_mix_dynamodb_usd_per_m_events"] = _metric(
            mix["dynamodb"],
            "$",
            "<" if judged else None,
            TARGET_DYNAMODB_USD_PER_M if judged else None,
        )
        out[f"{name}_mix_write_units_per_event"] = _metric(case["mix"]["write_units"], "WRU")
        out[f"{name}_usd_by_service"] = usd
        out[f"{name}_per_type"] = case["per_type"]
        out[f"{name}_messages_per_event"] = _metric(
            round(case["messages_decided"] / case["events"], 2), "messages decided"
        )
        out[f"{name}_usd_per_m_events_with_messages"] = _metric(
            case["usd_per_million_events_with_messages"]["total"], "$"
        )
        out[f"{name}_usd_per_message"] = _metric(case["usd_per_message"]["aws_after_decision"], "$")
    out["cost_usd_per_message_aws"] = _metric(
        got["cases"][0]["usd_per_message"]["aws_after_decision"], "$"
    )
    out["cost_usd_per_message_ses"] = _metric(PRICE["ses_email"], "$")
    out["cost_decide_200_p99_ms"] = _metric(
        got["decide_200_p99_ms"], "ms", "<", TARGET_DECIDE_P99_MS
    )
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
