"""AWS clients, created on first use and cached per container (never at import time)."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    """A boto3 client with adaptive retries (throttling is retried with backoff)."""
    import boto3
    from botocore.config import Config

    from nudge.faults import attach

    config = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=3)
    made = boto3.client(service, config=config)  # type: ignore[call-overload]
    attach(made)  # tests inject faults through it; nothing armed in production
    return made


def reset_clients() -> None:
    """Forget cached clients (tests and the simulator swap the AWS endpoint under them)."""
    client.cache_clear()
