"""Lambda entry point for the score function: parse, call nudge, return. Logic lives in nudge.pipeline.

Powertools (Logger, Tracer, Metrics) wraps the handler on its first invoke (nudge.observe).
"""

from nudge.observe import lambda_handler
from nudge.pipeline.score import handle

handler = lambda_handler(handle)
