"""Every sample day in events/ gives the same `nudge simulate` output on the in-memory backend and
on moto: the same decisions, messages, profiles and dead letters (provider ids, Message-ID, Date
and MIME boundaries aside: random or wall-clock on both). Scenario days are compared by the
``sim`` fixture (tests/twin.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nudge.sim import Simulation
from nudge.sim.runner import read_events
from tests.conftest import CONFIG, EVENTS
from tests.twin import normalized

DAYS = sorted(EVENTS.glob("*.jsonl"))


def _simulate(day: Path, backend: str) -> dict[str, Any]:
    with Simulation(CONFIG, daily=True, backend=backend) as sim:  # as `nudge simulate` runs
        sim.run(read_events(day))
        out = sim.output()
        return {
            **normalized(sim),
            "profiles": out["profiles"],
            "dead_letters": out["dead_letters"],
            "until": out["simulated_until"],
        }


@pytest.mark.parametrize("day", DAYS, ids=[d.name for d in DAYS])
def test_a_sample_day_is_the_same_on_both_backends(day):
    memory = _simulate(day, "memory")
    assert memory["messages"] and memory["decisions"]  # a day where things happen
    assert _simulate(day, "moto") == memory
