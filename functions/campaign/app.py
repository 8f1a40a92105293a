"""Lambda entry point for the campaign function: parse, call nudge, return. Logic lives in nudge.pipeline."""

from typing import Any

from nudge.pipeline.campaign import handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda handler."""
    return handle(event, context)
