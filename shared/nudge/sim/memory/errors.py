"""Errors of the in-memory services, raised as botocore raises them: the service's own modeled
exception class (``client.exceptions.ConditionalCheckFailedException`` and so on, subclasses of
``botocore.exceptions.ClientError``) with the same ``response`` shape (``Error.Code``,
``Error.Message``, HTTP status, and any extra top-level fields such as DynamoDB's
``CancellationReasons``)."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def exceptions(service: str) -> Any:
    """The ``client.exceptions`` object boto3 builds for ``service`` (from botocore's model)."""
    from botocore.errorfactory import ClientExceptionsFactory
    from botocore.session import get_session

    model = get_session().get_service_model(service)
    return ClientExceptionsFactory().create_client_exceptions(model)


def error(
    service: str, operation: str, code: str, message: str, status: int = 400, **extra: Any
) -> Exception:
    """The exception botocore raises when ``service`` answers ``operation`` with ``code``."""
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **extra,
    }
    found = exceptions(service)
    cls = found.from_code(code)
    return cls(response, operation)  # type: ignore[no-any-return,unused-ignore]
