"""Profile API benchmarks: latency of a warm handler on moto, and what its import costs.

The sample day is simulated first, so profiles have real histories and segments; then each
route is called round-robin over the day's customers through ``nudge.flows.api.handle``,
with the event API Gateway sends (payload 2.0, IAM identity). moto answers in-process, so the
numbers are our CPU plus boto3's request building and moto's work: an upper bound on our share,
without the network round trip to DynamoDB (single-digit ms in the same region).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
DAY = ROOT / "events" / "sample_day.jsonl"
CALLS = 400


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_latency(calls: int = CALLS) -> dict[str, Any]:
    """p50/p99 per route on a warm handler (config compiled, clients created)."""
    from nudge.flows import api
    from nudge.sim import Simulation
    from nudge.sim.http import request_event
    from nudge.sim.runner import read_events

    results: dict[str, Any] = {}
    with Simulation(CONFIG) as sim:
        events = read_events(DAY)
        sim.run(events)
        customers = sorted({e["detail"]["customer_id"] for e in events})
        routes = {
            "get_profile": ("GET", "/profiles/{}"),
            "get_content": ("GET", "/profiles/{}/content"),
            "get_unknown": ("GET", "/profiles/{}-unknown"),
            "export": ("GET", "/profiles/{}/export"),
        }
        api.handle(request_event("GET", f"/profiles/{customers[0]}"))  # warm: config, clients
        for name, (method, template) in routes.items():
            samples = []
            for i in range(calls if name != "export" else calls // 4):
                request = request_event(method, template.format(customers[i % len(customers)]))
                start = time.perf_counter()
                got = api.handle(request)
                samples.append(time.perf_counter() - start)
                assert got["statusCode"] in (200, 404), got
            results[f"api_{name}_p50_ms"] = round(_pct(samples, 0.5) * 1000, 2)
            results[f"api_{name}_p99_ms"] = round(_pct(samples, 0.99) * 1000, 2)
        sample = json.loads(api.handle(request_event("GET", f"/profiles/{customers[0]}"))["body"])
        results["api_profile_bytes"] = len(json.dumps(sample))
    for route in ("get_profile", "get_content"):
        key = f"api_{route}_p99_ms"
        results[key] = {"value": results[key], "target": 50, "op": "<"}
    return results


def bench_imports() -> dict[str, Any]:
    """Import of the API handler vs Powertools' event handler (why the router is hand-written).

    ``bench.core`` reports ``import_api_ratio`` (handler / boto3) with the other functions.
    """
    from bench.core import _import_ms

    return {
        "api_import_handler_ms": _import_ms("import app", str(ROOT / "functions" / "api")),
        "api_import_boto3_and_powertools_resolver_ms": _import_ms(
            "import boto3; from aws_lambda_powertools.event_handler import APIGatewayHttpResolver"
        ),
    }


def run() -> dict[str, Any]:
    """All profile API numbers."""
    results = bench_latency()
    results.update(bench_imports())
    return results


if __name__ == "__main__":
    out = run()
    width = max(map(len, out))
    for key, value in out.items():
        shown = value["value"] if isinstance(value, dict) else value
        print(f"{key.ljust(width)}  {shown}")
