"""Lambda entry point for the api function: parse, call nudge, return. Logic lives in nudge.flows.

Powertools (Logger, Tracer, Metrics) wraps the handler on its first invoke (nudge.observe).
"""

from nudge.coldstart import long_lived

with long_lived():  # the init makes only what the container keeps: no garbage to collect
    from nudge.flows.api import handle
    from nudge.observe import lambda_handler

handler = lambda_handler(handle, correlation_id_path="API_GATEWAY_HTTP")
