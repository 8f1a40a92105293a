"""The one injectable clock. Nothing in nudge calls ``datetime.now()`` directly.

Production uses the system clock; the simulator and tests install a ``SimulatedClock``. Waiting
(``sleep``, a retry's backoff) goes through it too, so tests never sleep on the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Current time, timezone-aware UTC, from whichever clock is installed."""
    return _source()


def sleep(seconds: float) -> None:
    """Wait ``seconds``: on the wall clock in production; on a simulated clock, not at all (it
    notes the wait in ``naps`` and stays where it is: simulated time moves only when told)."""
    nap = getattr(_source, "sleep", None)
    if nap is not None:
        nap(seconds)
    else:
        time.sleep(seconds)


def install(source: Callable[[], datetime]) -> Callable[[], datetime]:
    """Install a time source; returns the previous one so callers can restore it."""
    global _source
    previous, _source = _source, source
    return previous


class SimulatedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self.current = start.astimezone(UTC)
        self.naps: list[float] = []  # waits asked for (``clock.sleep``), never slept

    def sleep(self, seconds: float) -> None:
        """Note the wait; do not move (a retry's backoff costs no simulated time)."""
        self.naps.append(seconds)

    def __call__(self) -> datetime:
        return self.current

    def set(self, when: datetime) -> None:
        """Move to ``when`` (never backwards)."""
        when = when.astimezone(UTC)
        if when > self.current:
            self.current = when

    def advance(self, delta: timedelta) -> None:
        """Move forward by ``delta``."""
        self.current += delta


@contextmanager
def frozen(when: datetime) -> Iterator[SimulatedClock]:
    """Run a block with a simulated clock set to ``when``."""
    sim = SimulatedClock(when)
    previous = install(sim)
    try:
        yield sim
    finally:
        install(previous)


def parse_time(value: str | datetime) -> datetime:
    """Parse ISO 8601 with an offset (``Z`` allowed) into aware UTC."""
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if dt.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset; write it like 2027-02-10T21:30:00Z")
    return dt.astimezone(UTC)


def iso(dt: datetime) -> str:
    """Format as ``2027-02-10T21:30:00Z``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
