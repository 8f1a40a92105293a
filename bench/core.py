"""Event-path benchmarks: decide(), ingest on moto, DynamoDB calls per event, handler imports."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
DAY = ROOT / "events" / "sample_day.jsonl"
EVENT_KINDS = ["cart_updated", "product_viewed", "page_viewed", "order_placed", "wishlist_added"]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def generated_config(n: int, matching: int = 1) -> Path:
    """The sample config plus ``n`` generated triggers spread over the common event types.

    One in ``matching`` of them (all by default: the stress case) has a ``where`` that the
    sample's events (a jewelry product view, a cart of jewelry over 50, any order, any
    delivery-page view, any wishlist) meet; the others name a category, a path or an amount of
    their own, as the many triggers of a large shop each watch their own products and amounts.
    """
    target = Path(tempfile.mkdtemp(prefix="nudge-bench-")) / "config"
    shutil.copytree(CONFIG, target)
    for i in range(n):
        kind = EVENT_KINDS[i % len(EVENT_KINDS)]
        meets = (i // len(EVENT_KINDS)) % matching == 0
        where = {
            "cart_updated": f"{{properties.value: {{gte: {50 + i}}}, "
            "properties.items.category: {any_in: [jewelry, fragrance]}}",
            "product_viewed": f"{{properties.category: {{in: [jewelry, cat{i}]}}}}",
            "page_viewed": f"{{properties.path: {{contains: /p{i}}}}}",
            "order_placed": f"{{properties.value: {{gt: {i}}}}}",
            "wishlist_added": "{properties.product_id: {exists: true}}",
        }[kind]
        if not meets:
            where = {
                "cart_updated": f"{{properties.items.category: {{any_in: [cat{i}]}}}}",
                "product_viewed": f"{{properties.category: {{in: [cat{i}]}}}}",
                "page_viewed": f"{{properties.path: {{contains: /p{i}}}}}",
                "order_placed": f"{{properties.value: {{gt: {5000 + i}}}}}",
                "wishlist_added": f"{{properties.product_id: {{in: [g-{i}]}}}}",
            }[kind]
        who = "{segment: vip}" if i % 3 == 0 else "{did_not: {event: order_placed, within: 24h}}"
        (target / "triggers" / f"gen_{i:03d}.yaml").write_text(
            f"id: gen_{i:03d}\nwhen: {{event: {kind}, where: {where}}}\nwho: {who}\n"
            f"cooldown: 7d\npriority: {i % 100}\nchannel: email\n"
            "email: {subject: 'Hi {{ first_name | default(\"there\") }}', text: 'Hello'}\n"
        )
    return target


def bench_decide(config_dir: Path, label: str) -> dict[str, Any]:
    """decide() per event of the sample day, with profiles evolving as in production."""
    from nudge.config import load_config
    from nudge.core.decide import decide
    from nudge.core.events import parse_event
    from nudge.core.profile import apply_event, new_profile
    from nudge.core.react import refresh_view
    from nudge.flows.common import apply_plan

    config = load_config(config_dir)
    events = [parse_event(json.loads(line)) for line in DAY.read_text().splitlines() if line]
    decide_s: list[float] = []
    full_s: list[float] = []
    for _round in range(20):
        profiles: dict[str, dict[str, Any]] = {}
        for event in events:
            start = time.perf_counter()
            profile = profiles.setdefault(event.customer_id, new_profile(event.customer_id))
            apply_event(profile, event, config.history_seconds)
            view = refresh_view(profile, config, event.time)
            t0 = time.perf_counter()
            plan = decide(profile, view, event, config, event.time)
            t1 = time.perf_counter()
            apply_plan(profile, plan)
            decide_s.append(t1 - t0)
            full_s.append(t1 - start)
    return {
        f"decide_{label}_p50_ms": round(_pct(decide_s, 0.5) * 1000, 4),
        f"decide_{label}_p99_ms": round(_pct(decide_s, 0.99) * 1000, 4),
        f"apply_view_decide_{label}_p50_ms": round(_pct(full_s, 0.5) * 1000, 4),
        f"triggers_{label}": len(config.triggers),
    }


def bench_ingest() -> dict[str, Any]:
    """Ingest per event on moto, and DynamoDB calls per event counted with botocore hooks."""
    from nudge.aws import clients as aws
    from nudge.core.clock import parse_time
    from nudge.flows import ingest
    from nudge.sim import Simulation

    events = [json.loads(line) for line in DAY.read_text().splitlines() if line]
    calls: Counter[str] = Counter()
    per_event: list[int] = []
    times: list[float] = []
    with Simulation(CONFIG, start=parse_time("2027-02-09T00:00:00Z")) as sim:
        ddb = aws.client("dynamodb")
        ddb.meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: calls.update([model.name])
        )
        for envelope in events:
            sim.advance(parse_time(envelope["time"]))
            before = sum(calls.values())
            start = time.perf_counter()
            ingest.ingest_event(envelope)
            times.append(time.perf_counter() - start)
            per_event.append(sum(calls.values()) - before)
            sim.pump()
    common = Counter(per_event).most_common(1)[0][0]
    return {
        "ingest_moto_p50_ms": round(_pct(times, 0.5) * 1000, 2),
        "ingest_moto_p99_ms": round(_pct(times, 0.99) * 1000, 2),
        "dynamodb_calls_per_event_common": common,
        "dynamodb_calls_per_event_max": max(per_event),
        "dynamodb_calls_per_event_mean": round(statistics.mean(per_event), 2),
        "dynamodb_call_mix": dict(calls),
    }


def _import_ms(code: str, extra_path: str | None = None, runs: int = 7) -> float:
    env = dict(os.environ)
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [extra_path, env.get("PYTHONPATH")]))
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import time; t=time.perf_counter(); {code}; print(time.perf_counter()-t)",
            ],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        samples.append(float(out.stdout.strip()) * 1000)
    return round(statistics.median(samples), 1)


def bench_imports() -> dict[str, Any]:
    """Import time of each handler in a fresh process, against `import boto3` in the same run."""
    out: dict[str, Any] = {"import_boto3_ms": _import_ms("import boto3")}
    for function in sorted(p.name for p in (ROOT / "functions").iterdir() if p.is_dir()):
        ms = _import_ms("import app", str(ROOT / "functions" / function))
        out[f"import_{function}_ms"] = ms
        out[f"import_{function}_ratio"] = round(ms / out["import_boto3_ms"], 2)
    return out


def run() -> dict[str, Any]:
    """All event-path numbers."""
    results: dict[str, Any] = {}
    results.update(bench_decide(CONFIG, "sample"))
    results.update(bench_decide(generated_config(200), "200"))
    results.update(bench_ingest())
    results.update(bench_imports())
    return results
