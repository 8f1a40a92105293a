"""Lambda entry point for the score function: parse, call nudge, return. Logic lives in nudge.pipeline."""

from typing import Any

from nudge.pipeline.score import handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda handler."""
    return handle(event, context)
