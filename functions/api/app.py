"""Lambda entry point for the profile API: parse, call nudge, return. Logic lives in nudge.pipeline."""

from typing import Any

from nudge.pipeline.api import handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda handler."""
    return handle(event, context)
