"""Concurrency benchmark: 50 events for one customer delivered at the same moment.

Each event is one ingest invocation (an SQS batch of one record) on its own thread, against a
moto server on loopback (threaded, so the conditional writes really race). The version-conflict
loop (``flows.common.write_customer``) retries with jittered exponential backoff on the wall
clock; an invocation that still gives up reports a batch item failure, which SQS would deliver
again after the visibility timeout. Measured: the share of first deliveries that failed that
way (target < 10%), and that after redelivery every event was applied exactly once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.moto_env import moto_server as serve

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
EVENTS = ROOT / "events"


@contextmanager
def moto_server() -> Iterator[None]:
    """nudge's table on a threaded moto server on loopback, and the environment to reach it."""
    from nudge.aws import clients
    from nudge.sim.infra import ENV, create_table, find_template, read_template

    with serve(CONFIG):
        table, _pattern = read_template(find_template(ROOT))
        create_table(clients.client("dynamodb"), ENV["NUDGE_TABLE"], table)
        yield


def _envelope(kind: str, n: int, **detail: Any) -> dict[str, Any]:
    env: dict[str, Any] = json.loads((EVENTS / f"{kind}.json").read_text())
    # dated just before now (the backoff runs on the wall clock, and ingest parks events from
    # the future)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30) + timedelta(seconds=n)
    env["id"], env["time"] = f"conc-{n}", at.strftime("%Y-%m-%dT%H:%M:%SZ")
    env["detail"].update(customer_id="zoe", event_id=f"conc-e{n}", **detail)
    return env


def at_once(n: int = 50) -> dict[str, Any]:
    """``n`` events for one customer at once; first-pass failures, and what was applied."""
    from nudge.aws import store
    from nudge.flows import ingest

    with moto_server():
        ingest.ingest_event(_envelope("customer_updated", 0, traits={"email": "zoe@shop.example"}))
        bodies = [
            json.dumps(_envelope("page_viewed", i, properties={"path": f"/p/{i}"}))
            for i in range(1, n + 1)
        ]
        gate = threading.Barrier(n)
        failed: list[int] = []

        def deliver(i: int) -> None:
            gate.wait()
            out = ingest.handle({"Records": [{"messageId": f"m{i}", "body": bodies[i]}]})
            if out.get("batchItemFailures"):
                failed.append(i)

        threads = [threading.Thread(target=deliver, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        first_pass = len(failed)
        for i in failed:  # SQS delivers them again, one by one, up to maxReceiveCount in all
            for _receive in range(ingest.MAX_RECEIVES - 1):
                out = ingest.handle({"Records": [{"messageId": f"m{i}", "body": bodies[i]}]})
                if not out.get("batchItemFailures"):
                    break
        doc = store.get_profile("zoe").doc or {}
        ids = [e.get("id") for e in doc.get("history") or () if e.get("type") == "page_viewed"]
    return {
        "events": n,
        "first_pass_failures": first_pass,
        "first_pass_failure_rate": first_pass / n,
        "applied": len(set(ids)),
        "applied_twice": len(ids) - len(set(ids)),
    }


def run() -> dict[str, Any]:
    """``make bench``: the 50-at-once case."""
    got = at_once(50)
    return {
        "concurrent_50_first_pass_failure_rate": {
            "value": round(got["first_pass_failure_rate"], 3),
            "unit": "share of first deliveries",
            "op": "<",
            "target": 0.1,
        },
        "concurrent_50_applied_once": {
            "value": got["applied"] - got["applied_twice"],
            "unit": "events",
            "op": ">=",
            "target": 50,
        },
    }
