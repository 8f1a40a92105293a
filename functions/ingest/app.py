"""Lambda entry point for the ingest function: parse, call nudge, return. Logic lives in nudge.pipeline."""

from typing import Any

from nudge.pipeline.ingest import handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda handler."""
    return handle(event, context)
