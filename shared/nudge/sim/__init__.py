"""Simulation: the real handlers on an in-process AWS (moto) with a simulated clock."""

from nudge.sim.runner import Simulation, SimulationError

__all__ = ["Simulation", "SimulationError"]
