"""Lambda entry point for the unsubscribe function: parse, call nudge, return. Logic lives in nudge.pipeline.

Powertools (Logger, Tracer, Metrics) wraps the handler on its first invoke (nudge.observe).
"""

from nudge.observe import lambda_handler
from nudge.pipeline.unsubscribe import handle

handler = lambda_handler(handle, correlation_id_path="LAMBDA_FUNCTION_URL")
