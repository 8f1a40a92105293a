"""Lambda entry point for the ingest function: parse, call nudge, return. Logic lives in nudge.flows.

Powertools (Logger, Tracer, Metrics) wraps the handler on its first invoke (nudge.observe).
"""

from nudge.flows.ingest import handle
from nudge.observe import lambda_handler

handler = lambda_handler(handle)
