"""DynamoDB write units per event, from the real ingest handler on the in-memory backend.

``python -m bench.write_units`` prints a table: a new customer (the first visit of one), and a
customer with 25, 50 and 200 events of history (their next visit), with the sample config and
with 10 and 200 triggers listening to the same page view (the customer in none of their
audiences, as in issue 20). Write units are counted from every write ingest makes, by item size
as DynamoDB counts it: a PutItem, UpdateItem or DeleteItem 1 per KB, a TransactWriteItems entry
2 per KB. Self-contained (its own item-size function), so it runs on older versions of nudge
too, to compare before and after.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HISTORIES = (0, 25, 50, 200)
TRIGGERS = (0, 10, 200)  # 0: the sample config alone


def size(item: dict[str, Any]) -> int:
    """Item size in bytes as DynamoDB counts it (names plus values)."""
    total = 0
    for name, value in item.items():
        (kind, raw), *_ = value.items()
        if kind == "S":
            total += len(name) + len(str(raw).encode())
        elif kind == "N":
            total += len(name) + (len(str(raw).strip("-").replace(".", "")) + 1) // 2 + 1
        elif kind == "B":  # binary: its length (the deflated profile)
            total += len(name) + len(raw)
        else:
            total += len(name) + len(str(raw))
    return total


def units(item: dict[str, Any] | None, per_kb: int = 1) -> int:
    return per_kb * max(1, math.ceil(size(item or {}) / 1024))


class Counting:
    """The dynamodb client of the backend, counting write units."""

    def __init__(self, inner: Any, tally: dict[str, float]) -> None:
        self.inner, self.tally = inner, tally

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def put_item(self, **kw: Any) -> Any:
        self.tally["wcu"] += units(kw["Item"])
        self.tally["calls"] += 1
        return self.inner.put_item(**kw)

    def update_item(self, **kw: Any) -> Any:
        self.tally["wcu"] += 1
        self.tally["calls"] += 1
        return self.inner.update_item(**kw)

    def delete_item(self, **kw: Any) -> Any:
        self.tally["wcu"] += 1
        self.tally["calls"] += 1
        return self.inner.delete_item(**kw)

    def transact_write_items(self, **kw: Any) -> Any:
        for entry in kw["TransactItems"]:
            body = next(iter(entry.values()))
            self.tally["wcu"] += units(body.get("Item"), per_kb=2)
        self.tally["calls"] += 1
        self.tally["transactions"] += 1
        return self.inner.transact_write_items(**kw)


def _config(triggers: int, into: Path) -> Path:
    target = into / f"config-{triggers}"
    if target.exists():
        return target
    shutil.copytree(ROOT / "config", target)
    for n in range(triggers):
        (target / "triggers" / f"vip_{n:03d}.yaml").write_text(
            f"id: vip_{n:03d}\n"
            "when: {event: page_viewed, where: {properties.path: {contains: /delivery}}}\n"
            "who: {segment: lapsed}\n"
            "channel: email\n"
            'email: {subject: "For our best customers", text: "Hi. {{ unsubscribe_url }}"}\n'
        )
    return target


def measure(triggers: int, history: int, into: Path) -> dict[str, float]:
    """Write units per event of one visit (10 events) after ``history`` events."""
    from nudge.aws import clients
    from nudge.core.clock import parse_time
    from nudge.sim import Simulation
    from tests.conftest import customer
    from tests.integration.test_hot_profile import _visits

    start = parse_time("2027-01-01T00:00:00Z")
    with Simulation(_config(triggers, into), start=start) as sim:
        events = _visits("kay", "2027-01-02T10:00:00Z", history // 10 + 1)
        first = [customer("kay", "2027-01-02T09:00:00Z")]
        past, visit = events[:history], events[history : history + 10]
        if history:
            sim.run(first + past, until=timedelta(0))
            first = []
        tally = {"wcu": 0.0, "calls": 0.0, "transactions": 0.0}
        inner = clients._backend
        assert inner is not None
        clients.use_backend(lambda s: Counting(inner(s), tally) if s == "dynamodb" else inner(s))
        try:
            sim.run(first + visit, until=timedelta(0))
        finally:
            clients.use_backend(inner)
        n = len(first + visit)
        return {k: v / n for k, v in tally.items()}


def main() -> None:
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        print("| triggers | history | write units/event | calls/event | transactions/event |")
        print("| --- | --- | --- | --- | --- |")
        for triggers in TRIGGERS:
            for history in HISTORIES:
                got = measure(triggers, history, Path(tmp))
                label = "sample config" if not triggers else f"sample + {triggers}"
                print(
                    f"| {label} | {history or 'new'} | {got['wcu']:.2f} | {got['calls']:.2f} "
                    f"| {got['transactions']:.2f} |"
                )


if __name__ == "__main__":
    main()
