"""Journey benchmarks: decide() per event with 50 journeys of 6 steps (docs/config.md#journeys).

The sample day's events through ``decide`` with profiles evolving as in production (the journey
states accumulate in them), and ``decide_wake`` for every wait those events started, as the
Scheduler would fire them. Target: p50 decide under 100 microseconds per event.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.core import CONFIG, DAY, EVENT_KINDS, _pct

JOURNEYS = 50


def journey_config(n: int = JOURNEYS) -> Path:
    """The sample config plus ``n`` generated journeys of 6 steps over the common event types."""
    target = Path(tempfile.mkdtemp(prefix="nudge-bench-journeys-")) / "config"
    shutil.copytree(CONFIG, target)
    for i in range(n):
        kind = EVENT_KINDS[i % len(EVENT_KINDS)]
        where = {
            "cart_updated": f"{{properties.value: {{gte: {10 + i}}}}}",
            "product_viewed": "{properties.category: {in: [jewelry, fragrance]}}",
            "page_viewed": "{properties.path: {exists: true}}",
            "order_placed": f"{{properties.value: {{gt: {i}}}}}",
            "wishlist_added": "{properties.product_id: {exists: true}}",
        }[kind]

        (target / "triggers" / f"journey_{i:03d}.yaml").write_text(
            f"id: journey_{i:03d}\nwhen: {{event: {kind}, where: {where}}}\n"
            "exit_if: [{event: order_placed}]\nreentry: {after: 7d}\n"
            f"priority: {i % 100}\nsteps:\n"
            "  - {id: w1, wait: 1h}\n"
            f"  - {{id: s1, send: {{channel: email, subject: 'Hi', text: 'Hello {{{{ unsubscribe_url }}}}'}}}}\n"
            "  - {id: w2, wait_for: {event: email_opened, same_journey: true, timeout: 1d}}\n"
            "  - id: b1\n    branch:\n"
            "      - {if: {did: {event: email_opened, same_journey: true}}, goto: s2}\n"
            "      - {if: {segment: vip}, goto: s2}\n"
            "  - {id: ab, split: {name: t, variants: {a: 50, b: 50}}}\n"
            f"  - {{id: s2, send: {{channel: email, subject: 'Hi', text: 'Offer {{{{ unsubscribe_url }}}}'}}}}\n"
        )

    return target


def bench_journeys() -> dict[str, Any]:
    """decide() per event and decide_wake() per wait with 50 journeys."""
    from nudge.config import load_config
    from nudge.core.clock import parse_time
    from nudge.core.decide import decide, decide_wake
    from nudge.core.events import parse_event
    from nudge.core.profile import apply_event, new_profile
    from nudge.core.react import refresh_view
    from nudge.flows.common import apply_plan

    config = load_config(journey_config())
    events = [parse_event(json.loads(line)) for line in DAY.read_text().splitlines() if line]
    decide_s: list[float] = []
    wake_s: list[float] = []
    entered = 0
    for _round in range(20):
        profiles: dict[str, dict[str, Any]] = {}
        for event in events:
            profile = profiles.setdefault(event.customer_id, new_profile(event.customer_id))
            apply_event(profile, event, config.history_seconds)
            view = refresh_view(profile, config, event.time)
            t0 = time.perf_counter()
            plan = decide(profile, view, event, config, event.time)
            decide_s.append(time.perf_counter() - t0)
            entered += sum(d.outcome == "entered" for d in plan.decisions)
            apply_plan(profile, plan)
        for profile in profiles.values():  # then every wait those events started, when due
            for _ in range(8):
                waits = profile.get("waits") or {}
                if not waits:
                    break
                wait_id, wait = min(waits.items(), key=lambda w: w[1]["due_at"])
                now = parse_time(wait["due_at"])
                view = refresh_view(profile, config, now)
                t0 = time.perf_counter()
                plan = decide_wake(profile, view, wait_id, config, now)
                wake_s.append(time.perf_counter() - t0)
                apply_plan(profile, plan)
    state_bytes = max(len(json.dumps(p.get("journeys") or {})) for p in profiles.values())
    return {
        "decide_journeys50_p50_us": {
            "value": round(_pct(decide_s, 0.5) * 1e6, 1),
            "target": 100,
            "op": "<",
        },
        "decide_journeys50_p99_us": round(_pct(decide_s, 0.99) * 1e6, 1),
        "decide_wake_journeys50_p50_us": round(_pct(wake_s, 0.5) * 1e6, 1),
        "journeys_entered_per_round": entered // 20,
        "journey_state_max_bytes": state_bytes,
    }


def run() -> dict[str, Any]:
    """All journey numbers."""
    return bench_journeys()
