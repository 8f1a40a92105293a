"""Powertools Logger, Tracer and Metrics around a Lambda handler, imported on the first invoke.

``lambda_handler(handle, correlation_id_path=...)`` is what ``functions/*/app.py`` export. Nothing
from Powertools is imported when the module is, so a handler's import time stays close to
boto3's (``make bench``); the first invocation builds, once per container:

- ``Logger`` (service ``POWERTOOLS_SERVICE_NAME``, level ``POWERTOOLS_LOG_LEVEL``): JSON lines
  with the Lambda context and a correlation id (the request id of an HTTP request, the id of an
  EventBridge event; per record in the batch handlers, see ``correlate``). nudge's own
  ``logging.getLogger("nudge.<module>")`` loggers are its children, so they log through it;
- ``Tracer`` (X-Ray; off with ``POWERTOOLS_TRACE_DISABLED``);
- ``Metrics`` (CloudWatch EMF in ``POWERTOOLS_METRICS_NAMESPACE``, with the cold-start metric;
  off with ``POWERTOOLS_METRICS_DISABLED``).

A call without a Lambda context (tests, the simulator, scripts) runs the handler as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]
_logger: Any = None  # the Powertools Logger, once built


def lambda_handler(handle: Handler, correlation_id_path: str | None = None) -> Handler:
    """``handle`` with Logger, Tracer and Metrics when Lambda calls it.

    ``correlation_id_path``: a name in ``aws_lambda_powertools.logging.correlation_paths``
    (``API_GATEWAY_HTTP``, ``LAMBDA_FUNCTION_URL``, ``EVENT_BRIDGE``, ...) or a JMESPath.
    """
    built: list[Handler] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        if not hasattr(context, "aws_request_id"):
            return handle(event, context)
        if not built:
            built.append(_instrument(handle, correlation_id_path))
        return built[0](event, context)

    handler.__doc__ = handle.__doc__
    return handler


def _instrument(handle: Handler, correlation_id_path: str | None) -> Handler:
    global _logger
    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.logging import correlation_paths

    if _logger is None:
        _logger = Logger()
    cap_library_loggers()
    path = getattr(correlation_paths, correlation_id_path or "", correlation_id_path)
    wrapped = Tracer().capture_lambda_handler(handle)
    wrapped = Metrics().log_metrics(wrapped, capture_cold_start_metric=True)
    return _logger.inject_lambda_context(wrapped, correlation_id_path=path, clear_state=True)


def correlate(value: str | None) -> None:
    """Set the correlation id of the lines logged from now on (one batch record's id); nothing
    outside Lambda."""
    if _logger is not None and value:
        _logger.set_correlation_id(value)


LIBRARY_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def cap_library_loggers() -> None:
    """Keep the AWS SDK's and the HTTP client's loggers at WARNING or above, whatever level
    the functions log at: at DEBUG botocore logs every request and response body, customers'
    addresses included (docs/deploy.md, "Logs"). A level set above WARNING is kept."""
    import logging

    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:  # NOTSET (inherit the root's), DEBUG or INFO
            logger.setLevel(logging.WARNING)
