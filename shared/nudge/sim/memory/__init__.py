"""An in-memory AWS for the simulator: the DynamoDB, DynamoDB Streams, SQS, EventBridge,
EventBridge Scheduler, SES, SNS, Lambda and Secrets Manager operations nudge calls, behaving as AWS documents them
(docs/simulation.md), at the cost of a dictionary lookup instead of moto's HTTP-shaped round trip
and whole-table copies.

:class:`MemoryAWS` is one account in one region; :meth:`MemoryAWS.client` stands in for
``boto3.client(service)`` behind ``nudge.aws.clients.client`` (see ``nudge.sim.backends``).
Errors are botocore's own exception classes with the codes AWS sends.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

from nudge.sim.memory.dynamodb import MemoryDynamoDB, MemoryStreams
from nudge.sim.memory.services import (
    MemoryEvents,
    MemoryLambda,
    MemoryScheduler,
    MemorySecretsManager,
    MemorySES,
    MemorySNS,
    MemorySQS,
    SentEmail,
)

__all__ = ["MemoryAWS", "SentEmail"]


class MemoryAWS:
    """Every in-memory service of one account and region."""

    def __init__(self, region: str, account: str) -> None:
        self.dynamodb = MemoryDynamoDB(region, account)
        self.dynamodbstreams = MemoryStreams(self.dynamodb)
        self.sqs = MemorySQS(region, account)
        self.events = MemoryEvents(region, account, self.sqs)
        self.scheduler = MemoryScheduler(region, account)
        mail: dict[str, Any] = {"identities": set(), "sent": []}
        self.ses = MemorySES(False, mail)
        self.sesv2 = MemorySES(True, mail)
        self.sns = MemorySNS()
        self.lambda_ = MemoryLambda()
        self.secretsmanager = MemorySecretsManager(region, account)
        self.calls = 0  # API calls made, all services

    def _count(self) -> None:
        self.calls += 1

    def client(self, service: str) -> Any:
        """The in-memory client of ``service`` (``"dynamodb"``, ``"sqs"``, ...)."""
        found = getattr(self, "lambda_" if service == "lambda" else service, None)
        if found is None:
            raise NotImplementedError(f"the memory backend has no {service!r} service")
        return Client(service, found, self._count)


class Client:
    """A memory service as a boto3 client: its operations, ``exceptions``, and ``meta`` with
    botocore's event emitter. Each call fires what boto3's does, in its order:
    ``provide-client-params``, ``before-parameter-build`` and ``before-call``
    (``.<service>.<Operation>``), so botocore's ``Stubber`` and call-counting hooks work on it;
    a ``before-call`` handler's response replaces the call, an error one raises as botocore
    raises it."""

    def __init__(self, service: str, impl: Any, count: Any = None) -> None:
        self._count = count or (lambda: None)
        self._impl = impl
        self._service = service
        model, operations = _model(service)
        self._operations = operations
        self.exceptions = impl.exceptions
        self.meta = SimpleNamespace(
            events=_Emitter(),
            service_model=model,
            method_to_api_mapping=operations,
            region_name=impl_region(impl),
        )

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._impl, name)
        operation = self._operations.get(name)
        if operation is None:
            return found
        events = self.meta.events
        service = self._service
        model = self.meta.service_model.operation_model(operation)
        count = self._count

        def call(**params: Any) -> Any:
            count()
            if not events.registered:
                return found(**params)
            context: dict[str, Any] = {}
            suffix = f"{service}.{operation}"
            events.emit(
                f"provide-client-params.{suffix}", params=params, model=model, context=context
            )
            events.emit(
                f"before-parameter-build.{suffix}", params=params, model=model, context=context
            )
            _, answer = events.emit_until_response(
                f"before-call.{suffix}",
                model=model,
                params=params,
                request_signer=None,
                context=context,
            )
            if answer is not None:
                http, parsed = answer
                if http.status_code >= 300:
                    code = parsed.get("Error", {}).get("Code")
                    raise self.exceptions.from_code(code)(parsed, operation)
                return parsed
            return found(**params)

        call.__doc__ = found.__doc__
        setattr(self, name, call)  # looked up once
        return call


@cache
def _emitter_class() -> type:
    from botocore.hooks import HierarchicalEmitter

    class Emitter(HierarchicalEmitter):
        """botocore's emitter, knowing whether anything was ever registered (calls skip the
        events while nothing listens)."""

        registered = False

        def _verify_and_register(self, *args: Any, **kwargs: Any) -> None:
            self.registered = True
            super()._verify_and_register(*args, **kwargs)  # type: ignore[misc]

    return Emitter


def _Emitter() -> Any:
    return _emitter_class()()


def impl_region(impl: Any) -> str:
    """The region a memory service runs in."""
    return str(getattr(impl, "region", "us-east-1"))


@cache
def _model(service: str) -> tuple[Any, dict[str, str]]:
    """botocore's model of ``service`` and its Python method name -> API operation name."""
    from botocore import xform_name
    from botocore.session import get_session

    model = get_session().get_service_model(service)
    return model, {xform_name(op): op for op in model.operation_names}
