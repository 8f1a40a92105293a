"""A simulated day asks Python's cyclic garbage collector to run less often while it plays, and
gives the setting back afterwards, also when the run fails."""

from __future__ import annotations

import gc

import pytest

from nudge.sim import Simulation
from nudge.sim.runner import SimulationError
from tests.conftest import CONFIG


def test_the_collector_setting_is_raised_during_a_run_and_restored_after(monkeypatch):
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    with Simulation(CONFIG) as sim:
        monkeypatch.setattr(sim, "advance", lambda until: seen.append(gc.get_threshold()))
        sim.run([{"time": "2027-02-10T09:00:00Z"}], until=sim.clock.current)
    assert seen and seen[0][0] >= 100_000
    assert gc.get_threshold() == before


def test_the_collector_setting_is_restored_when_a_run_fails(monkeypatch):
    before = gc.get_threshold()
    with Simulation(CONFIG) as sim:

        def fail(until: object) -> None:
            raise SimulationError("boom")

        monkeypatch.setattr(sim, "advance", fail)
        with pytest.raises(SimulationError):
            sim.run([{"time": "2027-02-10T09:00:00Z"}])
    assert gc.get_threshold() == before
