"""Crash injection for tests: ``checkpoint(name)`` raises when a test armed that point.

In production nothing is armed and a checkpoint is one set lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_armed: set[str] = set()


class InjectedCrash(RuntimeError):
    """A simulated crash (the Lambda died at this point)."""


def checkpoint(name: str) -> None:
    """Crash here if a test armed ``name`` (once)."""
    if name in _armed:
        _armed.discard(name)
        raise InjectedCrash(name)


@contextmanager
def crash_at(name: str) -> Iterator[None]:
    """Arm ``name`` for the duration of the block."""
    _armed.add(name)
    try:
        yield
    finally:
        _armed.discard(name)
