"""Shop-scale simulation: a real shop's day (the sample day copied into a bigger shop's by
``nudge.sim.synthetic``) played as ``nudge simulate`` plays it, on the in-memory backend at
10,000, 50,000 and 100,000 events and on moto at 500 and 5,000.

Each size runs in its own process, so its peak RSS is its own. The clock runs through the day and
two hours past its last event (the reminders of the day go out; the next day's recompute is the
scoring section's to measure). Events per second are events / wall time of the run (set-up and
read-back aside). Targets: memory at 100,000 events >= 2,000 events/s and < 2 GiB, time and
memory within 1.3x of linear from 10,000 to 100,000; moto's time per event flat (within 1.3x)
from 500 to 5,000.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"memory": (10_000, 50_000, 100_000), "moto": (500, 5_000)}


def child(backend: str, events_in_all: int) -> dict[str, Any]:
    """One run, in this process: wall seconds, CPU seconds, peak RSS, messages."""
    from nudge.sim import Simulation
    from nudge.sim.progress import Progress
    from nudge.sim.runner import read_events
    from nudge.sim.synthetic import synthetic_day

    day = synthetic_day(read_events(ROOT / "events" / "sample_day.jsonl"), events_in_all)
    with Simulation(ROOT / "config", daily=True, backend=backend) as sim:
        bar = Progress()
        start, cpu = time.perf_counter(), time.process_time()
        sim.run(day, until=timedelta(hours=2), progress=bar)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        bar.close()
        decisions = len(sim.decisions())
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "decisions": decisions,
    }


def _measure(backend: str, n: int) -> dict[str, Any]:
    got = subprocess.run(
        [sys.executable, "-m", "bench.shop", backend, str(n)],
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return dict(json.loads(got.stdout.strip().splitlines()[-1]))


def _metric(
    value: float, unit: str, op: str | None = None, target: float | None = None
) -> dict[str, Any]:
    return {"value": value, "unit": unit, "op": op, "target": target}


def _label(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 else str(n)


def run() -> dict[str, dict[str, Any]]:
    """Events/s and peak RSS per size and backend, and how they scale."""
    out: dict[str, dict[str, Any]] = {}
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    for backend, sizes in SIZES.items():
        for n in sizes:
            print(f"  shop day: {n:,} events on {backend}", file=sys.stderr, flush=True)
            got = runs[(backend, n)] = _measure(backend, n)
            name = f"shop_{backend}_{_label(n)}"
            target = 2000.0 if (backend, n) == ("memory", 100_000) else None
            out[f"{name}_events_per_s"] = _metric(
                round(n / got["wall_s"]), "events/s", ">=", target
            )
            out[f"{name}_ms_per_event"] = _metric(round(1000 * got["wall_s"] / n, 3), "ms")
            # CPU time too: on a shared machine wall time also counts other processes' turns
            out[f"{name}_cpu_ms_per_event"] = _metric(round(1000 * got["cpu_s"] / n, 3), "ms")
            rss_target = 2048.0 if (backend, n) == ("memory", 100_000) else None
            out[f"{name}_peak_rss_mib"] = _metric(round(got["rss_mib"]), "MiB", "<", rss_target)
    small, big = runs[("memory", 10_000)], runs[("memory", 100_000)]
    out["shop_memory_10k_to_100k_time_vs_linear"] = _metric(
        round(big["wall_s"] / (10 * small["wall_s"]), 2), "x", "<=", 1.3
    )
    out["shop_memory_10k_to_100k_rss_vs_linear"] = _metric(
        round(big["rss_mib"] / (10 * small["rss_mib"]), 2), "x", "<=", 1.3
    )
    few, many = runs[("moto", 500)], runs[("moto", 5_000)]
    out["shop_moto_500_to_5k_time_per_event"] = _metric(
        round((many["wall_s"] / 5_000) / (few["wall_s"] / 500), 2), "x", "<=", 1.3
    )
    out["shop_moto_500_to_5k_cpu_per_event"] = _metric(
        round((many["cpu_s"] / 5_000) / (few["cpu_s"] / 500), 2), "x"
    )
    out["shop_memory_10k_to_100k_cpu_vs_linear"] = _metric(
        round(big["cpu_s"] / (10 * small["cpu_s"]), 2), "x"
    )
    return out


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], int(sys.argv[2]))))
