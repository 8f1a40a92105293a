"""Simulation benchmarks: the sample day (Wednesday 2027-02-10) as written, and moved by whole
weeks into November 2026 and November 2027, simulated as `nudge simulate` does (daily recompute
on, until the last event + 7 days).

The clock starts at the first event, so the three cost the same: one daily recompute per day
covered, whatever the date. (Before, the clock started at 2027-01-01: the 2026 day ran at that
one moment and the November 2027 day first replayed a recompute for every day since January.)
Each case runs ``ROUNDS`` times, interleaved; the fastest run counts (the machine is shared).
"""

from __future__ import annotations

import copy
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
DAY = ROOT / "events" / "sample_day.jsonl"
CASES = {"feb_2027": 0, "nov_2026": -12, "nov_2027": 40}  # label -> weeks moved
ROUNDS = 3


def _metric(
    value: float | int, unit: str, op: str | None = None, target: float | None = None
) -> dict[str, Any]:
    return {"value": value, "unit": unit, "op": op, "target": target}


def moved_config(delta: timedelta) -> Path:
    """A copy of config/ with every trigger's and campaign's ``active`` window moved."""
    from nudge.core.clock import iso, parse_time

    target = Path(tempfile.mkdtemp(prefix="nudge-bench-")) / "config"
    shutil.copytree(CONFIG, target)
    for path in sorted(target.glob("triggers/*.y*ml")) + sorted(target.glob("campaigns/*.y*ml")):
        doc = yaml.safe_load(path.read_text())
        active = doc.get("active") if isinstance(doc, dict) else None
        if isinstance(active, dict):
            for key in ("from", "until"):
                if active.get(key) is not None:
                    active[key] = iso(parse_time(active[key]) + delta)
            path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return target


def simulate_day(config: Path, events: list[dict[str, Any]]) -> dict[str, Any]:
    """One `nudge simulate`-like run: wall seconds, recomputes fired, messages sent."""
    from nudge.sim import Simulation

    start = time.perf_counter()
    with Simulation(config, daily=True) as sim:
        sim.run(events)
        messages = len(sim.messages())
        days = (sim.clock.current - sim.started) / timedelta(days=1)
    return {
        "wall_s": time.perf_counter() - start,
        "recomputes": sum(1 for _, kind in sim.fired if kind == "daily"),
        "messages": messages,
        "days": days,
    }


def run() -> dict[str, dict[str, Any]]:
    """Wall time and daily recomputes of the sample day in February 2027, November 2026 and
    November 2027; the November ones must take no longer than February's."""
    from nudge.core.clock import iso, parse_time
    from nudge.sim.runner import read_events

    day = read_events(DAY)
    inputs = {}
    for label, weeks in CASES.items():
        delta = timedelta(weeks=weeks)
        events = copy.deepcopy(day)
        for envelope in events:
            envelope["time"] = iso(parse_time(envelope["time"]) + delta)
        inputs[label] = (moved_config(delta) if weeks else CONFIG, events)
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in CASES}
    for _ in range(ROUNDS):
        for label, (config, events) in inputs.items():
            runs[label].append(simulate_day(config, events))
    for config, _ in inputs.values():
        if config != CONFIG:
            shutil.rmtree(config.parent, ignore_errors=True)
    out: dict[str, dict[str, Any]] = {}
    feb = min(r["wall_s"] for r in runs["feb_2027"])
    for label, got in runs.items():
        best = min(r["wall_s"] for r in got)
        days = got[0]["days"]
        out[f"simulate_day_{label}_s"] = _metric(round(best, 2), "s")
        out[f"simulate_day_{label}_recomputes"] = _metric(
            got[0]["recomputes"], "recomputes", "<=", float(-(-days // 1))
        )
        out[f"simulate_day_{label}_messages"] = _metric(got[0]["messages"], "messages")
        if label != "feb_2027":
            # no longer than February's, with 5% for a shared machine's noise
            out[f"simulate_day_{label}_vs_feb_2027"] = _metric(
                round(best / feb, 2), "x", "<=", 1.05
            )
    return out
