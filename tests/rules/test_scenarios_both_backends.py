"""Every scenario in config/tests gives the same decisions and messages on the in-memory backend
and on moto (provider ids, Message-ID, Date, MIME boundaries and unsubscribe signatures aside,
as tests/twin.py compares them)."""

from __future__ import annotations

from typing import Any

import pytest

from nudge.sim import Simulation
from nudge.sim.scenario import Scenario, find_scenarios, load_scenarios
from tests.conftest import CONFIG
from tests.twin import normalized

SCENARIOS = [s for path in find_scenarios([str(CONFIG / "tests")]) for s in load_scenarios(path)]
assert SCENARIOS


def _play(scenario: Scenario, backend: str) -> dict[str, Any]:
    with Simulation(scenario.config_dir, start=scenario.start, backend=backend) as sim:
        sim.run(scenario.events, scenario.until)
        return normalized(sim)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"{s.path.stem}: {s.name}" for s in SCENARIOS])
def test_a_scenario_is_the_same_on_both_backends(scenario):
    memory = _play(scenario, "memory")
    assert _play(scenario, "moto") == memory
