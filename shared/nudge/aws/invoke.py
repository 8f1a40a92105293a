"""A function invoking itself, asynchronously, to carry on with a long run (the daily recompute)."""

from __future__ import annotations

import json
from typing import Any

from nudge.aws.clients import client


def invoke_async(function_arn: str, payload: dict[str, Any]) -> None:
    """Invoke ``function_arn`` with ``payload`` as an asynchronous (``Event``) invocation."""
    client("lambda").invoke(
        FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(payload).encode()
    )
