"""The lift report's truth check at full scale: ``BENCH_LIFT_RUNS`` (default 200) seeded
synthetic shops of ``BENCH_LIFT_CUSTOMERS`` (default 10,000) customers per trigger with a known
true uplift (``nudge.lift.truth``): how often the 95% intervals cover the truth (targets: >= 93%
for the rate difference, >= 90% for revenue per customer) and how often a trigger with no true
effect is reported as "no detectable lift" (>= 95%). ``make test`` runs the same check at 800
customers (tests/unit/test_lift_truth.py).

``python -m bench.lift`` runs this section alone and merges it into bench/results.json.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.message_path import _metric


def run() -> dict[str, Any]:
    """The coverage metrics, one per trigger of ``nudge.lift.truth.TRUTHS``."""
    from nudge.lift.truth import coverage

    runs = int(os.environ.get("BENCH_LIFT_RUNS", "200"))
    customers = int(os.environ.get("BENCH_LIFT_CUSTOMERS", "10000"))
    started = time.perf_counter()
    got = coverage(runs, customers)
    out: dict[str, Any] = {
        "lift_truth_runs": runs,
        "lift_truth_customers_per_trigger": customers,
        "lift_truth_seconds": _metric(round(time.perf_counter() - started, 1), "s"),
    }
    for trigger, row in got["triggers"].items():
        out[f"lift_{trigger}_rate_coverage"] = _metric(row["rate_coverage"], "share", ">=", 0.93)
        out[f"lift_{trigger}_revenue_coverage"] = _metric(
            row["revenue_coverage"], "share", ">=", 0.90
        )
        if row["true_rate_difference"] == 0:
            out[f"lift_{trigger}_no_detectable_lift"] = _metric(row["no_lift"], "share", ">=", 0.95)
        else:
            out[f"lift_{trigger}_detected"] = _metric(round(1 - row["no_lift"], 3), "share")
    return out


def main() -> int:
    """Run this section alone and merge its metrics (and targets) into bench/results.json."""
    got = run()
    path = Path(__file__).parent / "results.json"
    doc = json.loads(path.read_text())
    for key, value in got.items():
        if isinstance(value, dict):
            if value.get("target") is not None:
                doc["targets"][key] = f"{value['op']} {value['target']:g}"
            value = value["value"]
        doc["results"][key] = value
        print(f"{key}: {value}")
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
