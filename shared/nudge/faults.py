"""Fault injection for tests: named crash points and faults in AWS calls.

- ``checkpoint(name)`` raises when a test armed that point (``crash_at``).
- ``AwsFaults`` (``inject``) acts on the AWS calls nudge's clients make while a handler runs
  (``in_handler``): crash the Lambda just before or just after the n-th call of one handler
  (the call's effect stays), throttle a share of DynamoDB/SES/SNS requests the way the service
  does (an HTTP throttling answer, so botocore's own retries see it), or make one service
  unreachable (``EndpointConnectionError``).

In production nothing is armed: a checkpoint is one set lookup, an AWS call two ``None`` checks.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_armed: set[str] = set()


class InjectedCrash(BaseException):
    """A simulated crash (the Lambda died at this point). A ``BaseException``, as the end of
    the process is: no ``except Exception`` in a handler can swallow it."""


def checkpoint(name: str) -> None:
    """Crash here if a test armed ``name`` (once)."""
    if name in _armed:
        _armed.discard(name)
        raise InjectedCrash(name)


@contextmanager
def crash_at(name: str) -> Iterator[None]:
    """Arm ``name`` for the duration of the block."""
    _armed.add(name)
    try:
        yield
    finally:
        _armed.discard(name)


# ---------------------------------------------------------------------------------------------
# Faults in AWS calls
# ---------------------------------------------------------------------------------------------
WRITES = (
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
    "SendEmail",
    "SendRawEmail",
    "Publish",
    "PutEvents",
    "SendMessage",
    "CreateSchedule",
    "DeleteSchedule",
    "UpdateSchedule",
)


@dataclass
class AwsFaults:
    """What to inject into AWS calls made inside handlers (see the module docstring).

    ``crash``: ``(handler, n, "before"|"after")`` crashes once, at the n-th call (1-based) that
    handler makes, counted across its invocations. ``throttle``: the share of requests to
    ``throttled`` services answered with a throttling error (seeded by ``seed``).
    ``unreachable``: ``(service, operation)`` -> how many attempts fail with a connection error
    (nudge's clients try each call 6 times, 1 + 5 retries: 6 makes one whole call fail).
    ``throttle_call``: ``(handler, n, attempts)`` throttles that many attempts of the n-th call
    of that handler (7 or more: the call fails after the client's own retries).
    ``stale``: partition key (``C#<customer>``) -> the answers (each a list of DynamoDB items)
    the next eventually consistent Queries of that partition get, one each, in order: what a
    replica that has not yet seen the latest writes returns (an older version of the profile).
    ``calls`` records every call made inside a handler: ``(handler, "service.Operation")``.
    """

    crash: tuple[str, int, str] | None = None
    throttle: float = 0.0
    throttled: tuple[str, ...] = ("dynamodb", "sesv2", "sns")
    seed: int = 0
    unreachable: dict[tuple[str, str], int] = field(default_factory=dict)
    throttle_call: tuple[str, int, int] | None = None  # (handler, n-th call, attempts)
    stale: dict[str, list[list[dict[str, Any]]]] = field(default_factory=dict)
    stale_reads: int = 0  # eventually consistent Queries answered from ``stale``
    calls: list[tuple[str, str]] = field(default_factory=list)
    throttles: int = 0
    crashed: str | None = None
    _counts: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)


_faults: AwsFaults | None = None
_handler: list[str] = []


FAULT_HEADER = "x-nudge-injected-fault"


@contextmanager
def inject(faults: AwsFaults) -> Iterator[AwsFaults]:
    """Apply ``faults`` to AWS calls for the duration of the block. A request answered with a
    fault carries ``FAULT_HEADER``: botocore hands every request to all ``before-send``
    handlers, so a stand-in service (the simulator's moto) must leave such a request alone, as
    a throttled request never reaches the real service."""
    global _faults
    previous, _faults = _faults, faults
    try:
        yield faults
    finally:
        _faults = previous


@contextmanager
def in_handler(name: str) -> Iterator[None]:
    """Mark the calls made in the block as made by handler ``name`` (the simulator does)."""
    _handler.append(name)
    try:
        yield
    finally:
        _handler.pop()


def attach(aws_client: Any) -> None:
    """Hook a new boto3 client so armed faults reach its calls (``nudge.aws.clients``)."""
    events = aws_client.meta.events
    events.register_first("before-call", _before_call)
    events.register_first("before-send", _before_send)
    events.register("after-call", _after_call)


def _operation(event_name: str) -> tuple[str, str]:
    _kind, service, operation = event_name.split(".", 2)
    return service, operation


def _before_call(event_name: str = "", **_: Any) -> None:
    faults = _faults
    if faults is None or not _handler:
        return
    handler = _handler[-1]
    service, operation = _operation(event_name)
    faults.calls.append((handler, f"{service}.{operation}"))
    faults._counts[handler] = faults._counts.get(handler, 0) + 1
    if faults.crash == (handler, faults._counts[handler], "before"):
        faults.crash = None
        faults.crashed = f"{handler} before {service}.{operation}"
        raise InjectedCrash(faults.crashed)


def _after_call(event_name: str = "", **_: Any) -> None:
    faults = _faults
    if faults is None or not _handler or not faults.crash:
        return
    handler = _handler[-1]
    crash = faults.crash
    if crash[2] == "after" and crash[0] == handler and crash[1] == faults._counts.get(handler):
        service, operation = _operation(event_name)
        faults.crash = None
        faults.crashed = f"{handler} after {service}.{operation}"
        raise InjectedCrash(faults.crashed)


def _before_send(event_name: str = "", request: Any = None, **_: Any) -> Any:
    faults = _faults
    if faults is None or not _handler:
        return None
    service, operation = _operation(event_name)
    if faults.stale and service == "dynamodb" and operation == "Query":
        answer = _stale_answer(faults, request)
        if answer is not None:
            return answer
    if faults.unreachable.get((service, operation)):
        from botocore.exceptions import EndpointConnectionError

        faults.unreachable[(service, operation)] -= 1
        raise EndpointConnectionError(endpoint_url=getattr(request, "url", service))
    if _throttle_this_one(faults) or (
        service in faults.throttled and faults.throttle and faults._rng.random() < faults.throttle
    ):
        faults.throttles += 1
        if request is not None:
            request.headers[FAULT_HEADER] = "throttled"
        return _throttled_response(service, getattr(request, "url", ""), faults._rng)
    return None


def _stale_answer(faults: AwsFaults, request: Any) -> Any:
    """An older version's items for an eventually consistent Query of a partition armed in
    ``faults.stale`` (None: not one of those)."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    body = json.loads(getattr(request, "body", None) or b"{}")
    if body.get("ConsistentRead"):
        return None
    pk = body.get("ExpressionAttributeValues", {}).get(":pk", {}).get("S")
    answers = faults.stale.get(pk) if pk else None
    if not answers:
        return None
    items = answers.pop(0)
    faults.stale_reads += 1
    request.headers[FAULT_HEADER] = "stale"
    answer = {"Items": items, "Count": len(items), "ScannedCount": len(items)}
    text = json.dumps(answer, default=_wire)
    headers = HTTPHeaders.from_dict({"Content-Type": "application/x-amz-json-1.0"})
    return AWSResponse(getattr(request, "url", ""), 200, headers, _Raw(text.encode()))


def _wire(value: Any) -> Any:
    """A binary attribute value as DynamoDB's JSON protocol carries it (base64)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot send {type(value).__name__}")


def _throttle_this_one(faults: AwsFaults) -> bool:
    target = faults.throttle_call
    if not target or target[0] != _handler[-1] or faults._counts.get(target[0]) != target[1]:
        return False
    faults.throttle_call = (target[0], target[1], target[2] - 1) if target[2] > 1 else None
    return True


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _throttled_response(service: str, url: str, rng: random.Random) -> Any:
    """The answer a throttling service gives, in its own protocol."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    def answer(status: int, headers: dict[str, str], body: bytes) -> AWSResponse:
        return AWSResponse(url, status, HTTPHeaders.from_dict(headers), _Raw(body))

    if service == "dynamodb":
        code = rng.choice(["ThrottlingException", "ProvisionedThroughputExceededException"])
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code})
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        return answer(400, headers, body.encode())
    if service == "sesv2":
        headers = {"x-amzn-ErrorType": "TooManyRequestsException"}
        return answer(429, headers, b'{"message": "Too Many Requests"}')
    xml = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
        "<Message>Rate exceeded</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
    )
    return answer(400, {"Content-Type": "text/xml"}, xml.encode())
