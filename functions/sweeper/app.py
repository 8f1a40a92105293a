"""Lambda entry point for the sweeper function: parse, call nudge, return. Logic lives in nudge.flows.

Powertools (Logger, Tracer, Metrics) wraps the handler on its first invoke (nudge.observe).
"""

from nudge.flows.sweeper import handle
from nudge.observe import lambda_handler

handler = lambda_handler(handle)
