"""Honest fakes, checked on every scenario day: a simulation on the in-memory backend records
how a test drives it (``run``, ``put``, ``advance``, ``begin``, ``pump``, with the clock at each
call); afterwards the same day is replayed on moto and must give the same decisions and messages
(provider ids, ``Message-ID``, ``Date`` and MIME boundaries aside: random or wall-clock).

A test that also reaches AWS another way (a handler called directly, a profile API call, a patched
function) cannot be replayed from the record; its day is not compared (``replayable`` is False).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from nudge.sim import Simulation

DRIVE = ("run", "put", "advance", "begin", "pump")
READ = (
    "decisions",
    "outbox",
    "messages",
    "profiles",
    "dead_letters",
    "table_items",
    "output",
    "due_schedules",
)


class Recorder:
    """Wraps a memory-backend simulation's methods to record the day it plays."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.log: list[tuple[str, Any, Any, datetime, bool]] = []
        self.depth = 0
        self.inside = 0  # AWS calls made by the wrapped methods
        for name in DRIVE + READ:
            setattr(sim, name, self._wrap(name, getattr(sim, name)))

    def _calls(self) -> int:
        return int(self.sim.backend.aws.calls)  # type: ignore[attr-defined]

    def _wrap(self, name: str, method: Any) -> Any:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            top = self.depth == 0
            if top and name in DRIVE:
                begun = self.sim._begun
                entry = (
                    name,
                    copy.deepcopy(args),
                    copy.deepcopy(kwargs),
                    self.sim.clock.current,
                    begun,
                )
                self.log.append(entry)
            before = self._calls()
            self.depth += 1
            try:
                return method(*args, **kwargs)
            finally:
                self.depth -= 1
                if top:
                    self.inside += self._calls() - before

        return wrapper

    @property
    def replayable(self) -> bool:
        """Did every AWS call of the test come from a recorded or read-back method?"""
        return self._calls() == self.inside + self.setup_calls

    setup_calls = 0


# an unsubscribe token: each simulation generates its own signing key (as each deploy does), so
# the key id and the signature differ between the two runs; the payload (customer, channel, time)
# must not
_TOKEN = re.compile(r"\b(n\d+)\.[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+")


def _unsigned(value: Any) -> Any:
    """``value`` (a message) with every unsubscribe token's key id and signature blanked."""
    text = json.dumps(value)
    return json.loads(_TOKEN.sub(r"\1.KEY.\2.SIGNATURE", text))


def normalized(sim: Simulation) -> dict[str, Any]:
    """What must match across backends: decisions, and messages without provider ids, the
    headers that are random or wall-clock, and the unsubscribe tokens' per-run key."""
    messages = []
    for m in sim.messages():
        headers = {k: v for k, v in m["headers"].items() if k not in ("Message-ID", "Date")}
        if "Content-Type" in headers:  # the MIME boundary is random
            headers["Content-Type"] = re.sub(
                r'boundary="[^"]*"', "boundary", headers["Content-Type"]
            )
        messages.append(
            {
                **{k: v for k, v in m.items() if k not in ("provider_id", "headers")},
                "headers": headers,
            }
        )
        if messages[-1]["message_id"] == m["provider_id"]:
            messages[-1]["message_id"] = None
        messages[-1] = _unsigned(messages[-1])
    return {"decisions": sim.decisions(), "messages": messages}


def replay_on_moto(
    recorder: Recorder, config: str | Path, start: datetime | None, daily: bool
) -> dict[str, Any]:
    """The recorded day played again on moto, normalized."""
    with Simulation(config, start=start, daily=daily, backend="moto") as twin:
        for name, args, kwargs, clock, begun in recorder.log:
            if begun:
                twin.clock.set(clock)
            getattr(twin, name)(*args, **kwargs)
        return normalized(twin)
