"""AWS clients, created on first use and cached per container (never at import time).

The simulator may put another backend behind :func:`client` (``use_backend``): a function from
a service name to an object with the same methods as boto3's client, such as its in-memory AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

_backend: Callable[[str], Any] | None = None


@cache
def client(service: str) -> Any:
    """A boto3 client with adaptive retries (throttling is retried with backoff), or the
    installed backend's client for ``service``; the SDK's loggers are capped at WARNING first
    (``nudge.observe.cap_library_loggers``)."""
    from nudge.observe import cap_library_loggers

    cap_library_loggers()
    if _backend is not None:
        return _backend(service)
    import boto3
    from botocore.config import Config

    from nudge.faults import attach

    config = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=3)
    made = boto3.client(service, config=config)  # type: ignore[call-overload]
    attach(made)  # tests inject faults through it; nothing armed in production
    return made


def use_backend(factory: Callable[[str], Any] | None) -> None:
    """Serve :func:`client` from ``factory`` (None: boto3 again); forgets cached clients."""
    global _backend
    _backend = factory
    client.cache_clear()


def reset_clients() -> None:
    """Forget cached clients (tests and the simulator swap the AWS endpoint under them)."""
    client.cache_clear()
