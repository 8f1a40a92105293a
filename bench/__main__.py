"""`python -m bench`: run every benchmark, write bench/results.json, print a table.

`python -m bench load cost cold`: run only those sections (by module name) and update their
results in bench/results.json, keeping the others."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from nudge.core.clock import iso

for _k, _v in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_METRICS_NAMESPACE": "nudge",
}.items():
    os.environ.setdefault(_k, _v)

TARGETS: dict[str, tuple[str, float]] = {
    "decide_200_p50_ms": ("<", 1.0),
    "dynamodb_calls_per_event_common": ("<=", 2),
    "import_ingest_ratio": ("<=", 1.5),
    "import_dispatch_ratio": ("<=", 1.5),
    "import_wake_ratio": ("<=", 1.5),
    "import_api_ratio": ("<=", 1.5),
    "import_feedback_ratio": ("<=", 1.5),
    "import_unsubscribe_ratio": ("<=", 1.5),
}


def _verdict(name: str, value: Any, targets: dict[str, tuple[str, float]]) -> str:
    if name not in targets or not isinstance(value, int | float):
        return ""
    op, bound = targets[name]
    ok = {"<": value < bound, "<=": value <= bound, ">=": value >= bound}[op]
    return f"{op} {bound:g}  {'ok' if ok else 'MISSED'}"


def main(only: list[str] | None = None) -> int:
    """Run every section, or only those named (``shop``, ``cost``, ...), keeping the other
    sections' last results in bench/results.json."""
    from bench import core

    results: dict[str, Any] = {}
    targets = dict(TARGETS)
    from bench import (
        api,
        cold,
        concurrency,
        cost,
        faults,
        journeys,
        lift,
        limits,
        load,
        message_path,
        replenish,
        scoring,
        shop,
        simulate,
    )

    sections = [
        ("event path", core),
        ("journeys (50 journeys of 6 steps)", journeys),
        ("message path", message_path),
        ("cost model (docs/cost.md)", cost),
        ("cold start", cold),
        ("profile API", api),
        ("scoring", scoring),
        ("replenishment (1M orders)", replenish),
        ("simulation", simulate),
        ("shop scale", shop),
        ("load (10,000-customer day on a moto server)", load),
        ("concurrency", concurrency),
        ("fault injection", faults),
        ("ingest limits (fuzz, large customer)", limits),
        ("lift truth (200 seeded shops with a known uplift)", lift),
    ]
    path = Path(__file__).parent / "results.json"
    chosen = set(only or ())
    kept: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if chosen:
        known = {module.__name__.rsplit(".", 1)[-1] for _, module in sections}
        if chosen - known:
            print(f"unknown sections {sorted(chosen - known)}; known: {sorted(known)}")
            return 2
        sections = [(n, m) for n, m in sections if m.__name__.rsplit(".", 1)[-1] in chosen]
        if path.exists():  # keep the other sections' last results
            before = json.loads(path.read_text())
            results.update(before.get("results", {}))
            for key, text in before.get("targets", {}).items():
                op, bound = text.split()
                targets.setdefault(key, (op, float(bound)))
    fresh: dict[str, Any] = {}
    untargeted: set[str] = set()  # measured now without a target: a kept one no longer holds
    for name, module in sections:
        fn = module.run
        print(f"running {name} benchmarks...", file=sys.stderr, flush=True)
        got = fn()
        for key, value in list(got.items()):
            if isinstance(value, dict) and "value" in value:
                if value.get("target") is not None:
                    targets[key] = (value.get("op", "<="), value["target"])
                else:
                    untargeted.add(key)
                    targets.pop(key, None)
                got[key] = value["value"]
        results.update(got)
        fresh.update(got)
    doc = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "at": iso(__import__("datetime").datetime.now(__import__("datetime").UTC)),
        "results": results,
        "targets": {k: f"{op} {b:g}" for k, (op, b) in targets.items()},
    }
    if "notes" in kept:
        doc["notes"] = kept["notes"]
    if chosen and path.exists():  # another run may have written its sections meanwhile
        latest = json.loads(path.read_text())
        doc["results"] = {**latest.get("results", {}), **fresh}
        doc["targets"] = {
            k: v
            for k, v in {**latest.get("targets", {}), **doc["targets"]}.items()
            if k not in untargeted
        }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    width = max(map(len, results))
    print(f"{'metric'.ljust(width)}  {'value':>12}  target")
    for key, value in results.items():
        shown = json.dumps(value) if isinstance(value, dict) else str(value)
        print(f"{key.ljust(width)}  {shown:>12}  {_verdict(key, value, targets)}")
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or None))
